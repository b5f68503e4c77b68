"""labhelpers.images.reference against distribution/reference's and the kubelet's vectors, plus properties."""

from __future__ import annotations

import json
import os
import random
import string
from pathlib import Path

import pytest

from labhelpers.images import (
    InvalidImageNameError,
    InvalidReferenceError,
    apply_default_image_tag,
    go_quote,
    invalid_image_name_message,
    normalize_image,
    parse,
    parse_any_reference,
    parse_docker_ref,
    parse_image_name,
    parse_reference,
    repo_to_pull,
)


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


_DATA = json.loads((_shared() / "conformance" / "image-reference.json").read_text())
VECTORS = _DATA["vectors"]


def _id(i: int, v: dict) -> str:
    return f"{i:03d}-{v['kind']}-{v['test']}-{v['input'][:40]}"


def _check_fields(ref, v: dict) -> None:
    expected = {
        "expect_name": ref.name,
        "expect_domain": ref.domain,
        "expect_path": ref.path,
        "expect_tag": ref.tag,
        "expect_digest": ref.digest,
        "expect_string": str(ref),
        "expect_familiar_name": ref.familiar_name(),
        "expect_familiar_string": ref.familiar(),
    }
    for key, got in expected.items():
        if key in v:
            assert got == v[key], key


def _run(v: dict) -> None:
    kind, s = v["kind"], v["input"]
    if kind == "parse_normalized_named":
        if v["expect_valid"]:
            _check_fields(parse(s), v)
        else:
            with pytest.raises(InvalidReferenceError) as ei:
                parse(s)
            if "expect_error" in v:
                assert str(ei.value) == v["expect_error"]
    elif kind == "parse":
        if "expect_error" in v:
            with pytest.raises(InvalidReferenceError) as ei:
                parse_reference(s)
            assert str(ei.value) == v["expect_error"]
        else:
            _check_fields(parse_reference(s), v)
    elif kind == "parse_any_reference":
        _check_fields(parse_any_reference(s), v)
    elif kind == "parse_docker_ref":
        _check_fields(parse_docker_ref(s), v)
    elif kind == "kubelet_image":
        assert repo_to_pull(s) == v["expect_repo_to_pull"]
        assert apply_default_image_tag(s) == v["expect_apply_default_tag"]
        assert invalid_image_name_message(s) is None
    elif kind == "kubelet_image_error":
        with pytest.raises(InvalidImageNameError) as ei:
            apply_default_image_tag(s)
        assert str(ei.value) == v["expect_error"]
        assert v["expect_waiting_reason"] == "InvalidImageName"
        event = v["expect_event"]
        assert (event["type"], event["reason"]) == ("Warning", "InspectFailed")
        assert invalid_image_name_message(s) == event["message"]
        with pytest.raises(ValueError):
            normalize_image(s)
    else:
        pytest.fail(f"unhandled vector kind {kind!r}")


@pytest.mark.parametrize("v", VECTORS, ids=[_id(i, v) for i, v in enumerate(VECTORS)])
def test_vector(v: dict) -> None:
    _run(v)


def test_vector_count_matches_header() -> None:
    if "vector_count" not in _DATA:
        pytest.skip("no vector_count in this data set")
    assert len(VECTORS) == _DATA["vector_count"]


# --- normalize_image / kubelet helpers -----------------------------------------------------------------------

DIGEST = "sha256:" + "e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.25", "docker.io/library/nginx:1.25"),
        ("bitnami/redis", "docker.io/bitnami/redis:latest"),
        ("index.docker.io/nginx", "docker.io/library/nginx:latest"),
        ("registry.lab.local:5000/team/app", "registry.lab.local:5000/team/app:latest"),
        (f"ghcr.io/org/app@{DIGEST}", f"ghcr.io/org/app@{DIGEST}"),
        (f"ghcr.io/org/app:v1@{DIGEST}", f"ghcr.io/org/app:v1@{DIGEST}"),
    ],
)
def test_normalize_image(image: str, expected: str) -> None:
    assert normalize_image(image) == expected


def test_normalize_image_errors_carry_distribution_messages() -> None:
    cases = {
        "Nginx": "invalid reference format: repository name (library/Nginx) must be lowercase",
        "nginx:": "invalid reference format",
        "registry.lab.local/" + "a" * 256: "repository name must not be more than 255 characters",
        "app@sha256:abc": "invalid reference format",  # the grammar wants 32+ hex digits before go-digest runs
        "app@sha256:" + "a" * 63: "invalid checksum digest length",
        "app@sha512:" + "a" * 128: None,
    }
    for image, message in cases.items():
        if message is None:
            assert normalize_image(image).startswith("docker.io/library/app@sha512:")
            continue
        with pytest.raises(ValueError) as ei:
            normalize_image(image)
        assert str(ei.value) == message, image


def test_parse_image_name_returns_kubelet_triple() -> None:
    assert parse_image_name("nginx") == ("docker.io/library/nginx", "latest", "")
    assert parse_image_name(f"nginx@{DIGEST}") == ("docker.io/library/nginx", "", DIGEST)
    assert parse_image_name(f"nginx:1@{DIGEST}") == ("docker.io/library/nginx", "1", DIGEST)


def test_apply_default_tag_keeps_digest_only_images_untagged() -> None:
    assert apply_default_image_tag(f"nginx@{DIGEST}") == f"nginx@{DIGEST}"
    assert apply_default_image_tag("localhost:5000/app") == "localhost:5000/app:latest"


def test_trailing_newline_is_not_accepted() -> None:
    # Go's "$" is end-of-text; Python's would match before a final "\n"
    with pytest.raises(InvalidReferenceError, match="^invalid reference format$"):
        parse("nginx\n")
    message = invalid_image_name_message("nginx\n")
    assert message == (
        'Failed to apply default image tag "nginx\\n": couldn\'t parse image name "nginx\\n": invalid reference format'
    )


def test_domain_like_segment_the_grammar_rejects_stays_in_the_path() -> None:
    # splitDockerDomain calls "foo.bar_baz" a domain, but Parse's domain grammar has no '_', so Go ends up
    # with an empty Domain() and the whole thing as the path (and pulls it as such)
    ref = parse("foo.bar_baz/app:1")
    assert (ref.domain, ref.path, ref.tag) == ("", "foo.bar_baz/app", "1")
    assert repo_to_pull("foo.bar_baz/app:1") == "foo.bar_baz/app"


def test_go_quote_escapes_like_strconv_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("tab\there") == '"tab\\there"'
    assert go_quote("\x01\x7f") == '"\\x01\\x7f"'
    assert go_quote("naïve ☃") == '"naïve ☃"'
    assert go_quote("\u200b\U000e0001") == '"\\u200b\\U000e0001"'


def test_non_ascii_upper_case_is_reported_like_go() -> None:
    # Go lower-cases U+0130 to a plain 'i', so the lowered string matches and the error is "must be lowercase"
    with pytest.raises(InvalidReferenceError, match="^repository name must be lowercase$"):
        parse_reference("\u0130mage")


# --- properties ------------------------------------------------------------------------------------------

_rng = random.Random(20240611)


def _component() -> str:
    alnum = string.ascii_lowercase + string.digits
    parts = [
        "".join(_rng.choice(alnum) for _ in range(_rng.randint(1, 6))) for _ in range(_rng.randint(1, 3))
    ]
    out = parts[0]
    for p in parts[1:]:
        out += _rng.choice([".", "_", "__", "-", "--"]) + p
    return out


def _random_image() -> str:
    domain = _rng.choice(
        ["", "", "docker.io/", "index.docker.io/", "localhost/", "reg.example.com:5000/", "[::1]:80/"]
    )
    path = "/".join(_component() for _ in range(_rng.randint(1, 3)))
    tag = _rng.choice(["", ":latest", ":v1.2-rc_3", ":" + "x" * 128])
    digest = _rng.choice(["", "", "@" + DIGEST])
    return domain + path + tag + digest


RANDOM_IMAGES = [_random_image() for _ in range(300)]


@pytest.mark.parametrize("image", RANDOM_IMAGES)
def test_normalisation_is_idempotent_and_round_trips(image: str) -> None:
    ref = parse(image)
    assert parse(str(ref)) == ref
    familiar = ref.familiar()
    first, slash, _ = ref.familiar_name().partition("/")
    if ref.domain == "docker.io" and slash and ("." in first or ":" in first):
        # a Docker Hub namespace with a '.' reads back as a registry host, upstream too
        assert parse(familiar).name == ref.familiar_name()
    else:
        assert parse(familiar) == ref
    assert normalize_image(normalize_image(image)) == normalize_image(image)
    assert repo_to_pull(image) == ref.name
    assert repo_to_pull(apply_default_image_tag(image)) == ref.name
    assert "/" not in ref.domain


@pytest.mark.parametrize("image", RANDOM_IMAGES[:100])
def test_mutations_never_crash_and_only_raise_value_errors(image: str) -> None:
    for _ in range(20):
        chars = list(image)
        pos = _rng.randrange(len(chars))
        chars[pos] = _rng.choice(string.printable + "É☃")
        mutated = "".join(chars)
        try:
            parse(mutated)
        except InvalidReferenceError as e:
            assert str(e)
            assert invalid_image_name_message(mutated).endswith(str(e))
