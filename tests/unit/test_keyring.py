"""labhelpers.images.keyring against pkg/credentialprovider's vectors, plus properties of the port."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import string
from pathlib import Path

import pytest

from labhelpers.images import (
    AuthConfig,
    DockerConfigEntry,
    DockerConfigError,
    DockerKeyring,
    InvalidImageNameError,
    UnionKeyring,
    _go,
    decode_auth_field,
    decode_entry,
    encode_auth_field,
    encode_entry,
    image_pull_secret_names,
    is_default_registry_match,
    lookup,
    make_docker_keyring,
    missing_secrets_event_message,
    parse_docker_config,
    parse_docker_config_json,
    pull_credentials,
    registry_key,
    repo_to_pull,
    urls_match,
)


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


_DATA = json.loads((_shared() / "conformance" / "kubelet-keyring.json").read_text())
VECTORS = _DATA["vectors"]


class FakeKeyring:
    """credentialprovider.FakeKeyring: the same credentials for every image (a node/plugin keyring)."""

    def __init__(self, creds: list[AuthConfig]) -> None:
        self.creds = creds

    def lookup(self, image: str) -> list[AuthConfig]:
        return list(self.creds)


def _triples(creds) -> list[tuple[str, str, str]]:
    return [(c.username, c.password, c.email) for c in creds]


def _expected(creds: list[dict]) -> list[tuple[str, str, str]]:
    return [(c["username"], c["password"], c["email"]) for c in creds]


def _entry_dict(e: DockerConfigEntry) -> dict:
    return {"username": e.username, "password": e.password, "email": e.email}


def _api_secret(s: dict) -> dict:
    """A vector's secret (raw data) as the API serves it (base64 data)."""
    out = {k: v for k, v in s.items() if k != "data"}
    out["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in s.get("data", {}).items()}
    if "name" in s:
        out["metadata"] = {"name": s["name"]}
    return out


def _run(v: dict) -> None:
    kind = v["kind"]
    if kind == "urls_match":
        assert urls_match(v["glob"], v["target"]) is v["expect_match"]
    elif kind == "keyring_lookup":
        keyring = DockerKeyring()
        keyring.add(parse_docker_config(v["config"]))
        image = v["image"]
        if "lookup_key" in v:  # derived vectors: the kubelet looks up the normalised repository
            assert repo_to_pull(image) == v["lookup_key"]
            image = v["lookup_key"]
            got = pull_credentials(v["image"], [{"auths": v["config"]}])
            assert [(u, p) for _, u, p in got] == [(c["username"], c["password"]) for c in v["expect_creds"]]
            assert all(server in v["config"] for server, _, _ in got)
        creds = keyring.lookup(image)
        assert _triples(creds) == _expected(v["expect_creds"])
        assert bool(creds) is v["expect_match"]
    elif kind == "is_default_registry_match":
        assert is_default_registry_match(v["image"]) is v["expect"]
    elif kind == "make_docker_keyring":
        default = None
        if v["default_keyring_creds"] is not None:
            default = FakeKeyring([AuthConfig(**c) for c in v["default_keyring_creds"]])
        keyring = make_docker_keyring([_api_secret(s) for s in v["pull_secrets"]], default)
        creds = lookup(v["image"], [keyring])
        assert _triples(creds) == _expected(v["expect_creds"])
        assert bool(creds) is v["expect_found"]
    elif kind == "docker_config_entry_decode":
        if v["expect_error"]:
            with pytest.raises(DockerConfigError):
                decode_entry(json.loads(v["input"]))
        else:
            assert _entry_dict(decode_entry(json.loads(v["input"]))) == v["expect"]
    elif kind == "decode_auth_field":
        if v["expect_error"]:
            with pytest.raises(DockerConfigError):
                decode_auth_field(v["input"])
        else:
            assert decode_auth_field(v["input"]) == (v["expect_username"], v["expect_password"])
    elif kind == "docker_config_decode":
        assert {k: _entry_dict(e) for k, e in parse_docker_config(v["input"]).items()} == v["expect"]
    elif kind == "docker_config_json_decode":
        assert {k: _entry_dict(e) for k, e in parse_docker_config_json(v["input"]).items()} == v["expect"]
    elif kind == "docker_config_entry_encode":
        assert encode_entry(DockerConfigEntry(**v["input"])) == v["expect"]
    else:
        pytest.fail(f"unhandled vector kind {kind!r}")


def _id(i: int, v: dict) -> str:
    detail = v.get("image") or v.get("glob") or (v["input"] if isinstance(v.get("input"), str) else "")
    return f"{i:03d}-{v['kind']}-{v['test']}-{str(detail)[:40]}"


def _outcome(v: dict) -> dict:
    return {k: val for k, val in v.items() if k.startswith("expect")}


def _derived(v: dict) -> bool:
    return v["test"] == "derived" or "derived" in (v.get("note") or "")


def _contradicted_by_upstream(v: dict) -> bool:
    """A derived vector whose input an upstream-sourced vector lists with a different outcome.

    Both cannot hold; the upstream test (real Go behaviour) wins. Reported to the data owners.
    """
    return (
        "input" in v
        and _derived(v)
        and any(
            u is not v
            and u["kind"] == v["kind"]
            and u.get("input") == v.get("input")
            and not _derived(u)
            and _outcome(u) != _outcome(v)
            for u in VECTORS
        )
    )


@pytest.mark.parametrize("v", VECTORS, ids=[_id(i, v) for i, v in enumerate(VECTORS)])
def test_vector(v: dict) -> None:
    if _contradicted_by_upstream(v):
        pytest.xfail("conformance data contradicts an upstream vector with the same input")
    _run(v)


def test_vector_count_matches_header() -> None:
    if "vector_count" not in _DATA:
        pytest.skip("no vector_count in this data set")
    assert len(VECTORS) == _DATA["vector_count"]


def test_missing_secret_event_message() -> None:
    spec = _DATA["missing_secret_event"]
    assert (spec["type"], spec["reason"]) == ("Warning", "FailedToRetrieveImagePullSecret")
    message = missing_secrets_event_message(["regcred"])
    assert message == spec["message_template"] % "regcred"
    assert spec["example_kubectl_describe_line"].endswith(message)
    # kubelet_pods.go joins with ", " (strings.Join(failedPullSecrets, ", "))
    assert missing_secrets_event_message(["a", "b"]) == spec["message_template"] % "a, b"


# --- decoding ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("pants", "illegal base64 data at input byte 4"),
        ("Zm9vOmJhcg== ", "illegal base64 data at input byte 12"),
        ("Zm9vOmJhcg=", "illegal base64 data at input byte 11"),
        ("Zm9v OmJhcg", "illegal base64 data at input byte 4"),
        ("Zm9vOmJhcg==Zm9v", "illegal base64 data at input byte 10"),  # no trailing '=': RawStdEncoding
        ("Zm9vOmJhcg==Zm9v=", "illegal base64 data at input byte 12"),  # padded: garbage after "=="
        ("=Zm9v", "illegal base64 data at input byte 0"),
        ("Zm9vOmJhcg==\n", None),
        ("Zm9vYmFy", "unable to parse auth field, must be formatted as base64(username:password)"),
        ("", "unable to parse auth field, must be formatted as base64(username:password)"),
    ],
)
def test_decode_auth_field_errors_match_go(field: str, message: str | None) -> None:
    if message is None:
        assert decode_auth_field(field) == ("foo", "bar")
        return
    with pytest.raises(DockerConfigError) as ei:
        decode_auth_field(field)
    assert str(ei.value) == message


_rng = random.Random(7)


@pytest.mark.parametrize("seed", range(60))
def test_auth_field_round_trips_padded_and_unpadded(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " é"
    user = "".join(rng.choice(alphabet.replace(":", "")) for _ in range(rng.randint(0, 12)))
    password = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
    encoded = encode_auth_field(user, password)
    assert encoded == base64.b64encode(f"{user}:{password}".encode()).decode()
    assert decode_auth_field(encoded) == (user, password)
    assert decode_auth_field(encoded.rstrip("=")) == (user, password)
    wrapped = "\r\n".join(encoded[i : i + 5] for i in range(0, len(encoded), 5))
    assert decode_auth_field(wrapped) == (user, password)


def test_entry_auth_overrides_and_null_fields() -> None:
    e = decode_entry({"Username": "u", "PASSWORD": "p", "email": None, "identitytoken": "x"})
    assert (e.username, e.password, e.email) == ("u", "p", "")
    assert decode_entry(None) == DockerConfigEntry()
    assert decode_entry({"username": "u", "auth": ""}).username == "u"
    with pytest.raises(DockerConfigError) as ei:
        decode_entry({"email": False})
    assert str(ei.value) == (
        "json: cannot unmarshal bool into Go struct field dockerConfigEntryWithAuth.email of type string"
    )
    with pytest.raises(DockerConfigError, match="into Go value of type"):
        decode_entry("dXNlcjpwYXNz")


def test_dockerconfigjson_without_auths_has_no_entries() -> None:
    assert parse_docker_config_json({"registry.lab.local:5000": {"username": "a", "password": "b"}}) == {}
    assert parse_docker_config_json('{"auths": null}') == {}
    with pytest.raises(DockerConfigError, match="unexpected end of JSON input"):
        parse_docker_config_json('{"auths": {')
    with pytest.raises(
        DockerConfigError, match=r"DockerConfigJSON\.auths of type credentialprovider\.DockerConfig"
    ):
        parse_docker_config_json({"auths": []})
    # a nested entry's type error is re-labelled with the outer struct and field path
    with pytest.raises(DockerConfigError) as ei:
        parse_docker_config_json({"auths": {"r.io": {"password": 1}}})
    assert str(ei.value) == (
        "json: cannot unmarshal number into Go struct field DockerConfigJSON.auths.password of type string"
    )
    with pytest.raises(DockerConfigError) as ei:
        parse_docker_config({"r.io": ["x"]})
    assert str(ei.value) == (
        "json: cannot unmarshal array into Go value of type credentialprovider.dockerConfigEntryWithAuth"
    )


def test_encode_entry_omits_empty_fields_and_escapes_html() -> None:
    assert encode_entry(DockerConfigEntry("a<b", "")) == '{"username":"a\\u003cb","auth":"YTxiOg=="}'


# --- keys and matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "key"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("https://quay.io/v1/", "quay.io"),
        ("quay.io/coreos", "quay.io/coreos"),
        ("https://r.io/v2", "r.io/v2"),
        ("https://r.io/v2/team", "r.io/team"),
        ("http://r.io:5000/", "r.io:5000"),
        ("user:pw@r.io", "r.io"),
        ("r.io/a%20b", "r.io/a b"),
        ("[::1]:5000", "[::1]:5000"),
        ("registry lab", None),
        ("r.io:port", None),
        ("r.io/%zz", None),
        ("[1.2.3.4]", None),
    ],
)
def test_registry_key(registry: str, key: str | None) -> None:
    assert registry_key(registry) == key


@pytest.mark.parametrize(
    ("glob", "target", "expected"),
    [
        ("*-good.x.io", "a-good.x.io/p", True),
        ("a*c.x.io", "abbc.x.io", True),
        ("a*c.x.io", "abbcd.x.io", False),
        # url.Parse runs first: '?' starts the query, so the key's host is just "r"
        ("r?.io", "r1.io/x", False),
        ("r?", "r/x", True),
        # Go >= 1.24.8 rejects '[' inside a host ("invalid IP-literal") and '\\' is no host character
        ("r[0-9].io", "r7.io", False),
        ("r\\*.io", "r*.io", False),
        ("*", "localhost:5000/x", False),  # ports differ ("" vs "5000")
        ("*:5000", "localhost:5000/x", True),
        ("[::1]:5000", "[::1]:5000/app", True),
        ("R.io", "r.io", False),
    ],
)
def test_urls_match_globs(glob: str, target: str, expected: bool) -> None:
    assert urls_match(glob, target) is expected


def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern))


@pytest.mark.parametrize("seed", range(200))
def test_filepath_match_agrees_with_a_regex_for_star_and_question(seed: int) -> None:
    rng = random.Random(seed)
    label = "".join(rng.choice("abc") for _ in range(rng.randint(1, 6)))
    pattern = "".join(rng.choice("abc*?") for _ in range(rng.randint(1, 5)))
    expected = _glob_regex(pattern).fullmatch(label) is not None
    assert _go.match(pattern, label) is expected
    if "?" not in pattern:  # '?' would start a URL query before matching ever happens
        assert urls_match(f"{pattern}.io", f"{label}.io/x") is expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("r[0-9]", "r7", True),
        ("r[^0-9]", "r7", False),
        ("r[^0-9]", "rx", True),
        ("r[!x]", "r!", True),  # Go negates with '^' only, unlike fnmatch
        ("r\\*", "r*", True),
        ("r\\*", "rx", False),
        ("a*", "a/b", False),
    ],
)
def test_filepath_match_classes_and_escapes(pattern: str, name: str, expected: bool) -> None:
    assert _go.match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["r[", "r[]", "r[a-]", "\\", "*[", "a*b["])
def test_filepath_match_bad_patterns_raise(pattern: str) -> None:
    with pytest.raises(_go.BadPattern):
        _go.match(pattern, "zzz")


def test_index_is_unique_and_reverse_byte_sorted() -> None:
    keyring = DockerKeyring()
    keyring.add(
        parse_docker_config({"*.x.io": {}, "a.x.io": {}, "a.x.io/team": {}, "https://a.x.io/v1/": {}})
    )
    keyring.add(parse_docker_config({"b.x.io": {}}))
    assert keyring.index == ["b.x.io", "a.x.io/team", "a.x.io", "*.x.io"]


def test_docker_hub_fallback_only_when_nothing_matched() -> None:
    keyring = DockerKeyring()
    keyring.add(
        parse_docker_config(
            {"https://index.docker.io/v1/": {"username": "hub"}, "docker.io/team": {"username": "team"}}
        )
    )
    assert [c.username for c in keyring.lookup("docker.io/team/app")] == ["team"]
    assert [c.username for c in keyring.lookup("docker.io/library/nginx")] == ["hub"]
    assert keyring.lookup("ghcr.io/org/app") == []


def test_pull_credentials_order_and_server_as_written() -> None:
    secrets = [
        {"auths": {"registry.lab.local:5000": {"auth": encode_auth_field("alice", "a")}}},
        {"auths": {"https://registry.lab.local:5000/v2/": {"username": "bob", "password": "b"}}},
        {"auths": {"registry.lab.local:5000/team": {"username": "carol", "password": "c"}}},
    ]
    got = pull_credentials("registry.lab.local:5000/team/app:v1", secrets)
    assert got == [
        ("registry.lab.local:5000/team", "carol", "c"),
        ("registry.lab.local:5000", "alice", "a"),
        ("https://registry.lab.local:5000/v2/", "bob", "b"),
    ]
    assert pull_credentials("registry.lab.local:5000/other/app", secrets[2:]) == []
    with pytest.raises(InvalidImageNameError):
        pull_credentials("Registry.lab.local:5000/Team/app", secrets)
    with pytest.raises(DockerConfigError, match="must be formatted as base64"):
        pull_credentials("nginx", [{"auths": {"docker.io": {"auth": "Zm9vYmFy"}}}])


def test_make_docker_keyring_unions_secrets_before_default_and_tags_source() -> None:
    secret = _api_secret(
        {
            "name": "regcred",
            "type": "kubernetes.io/dockerconfigjson",
            "data": {
                ".dockerconfigjson": json.dumps({"auths": {"r.io": {"username": "u", "password": "p"}}})
            },
        }
    )
    node = FakeKeyring([AuthConfig("node", "n")])
    creds = make_docker_keyring([secret], node).lookup("r.io/app")
    assert [(c.username, c.source) for c in creds] == [("u", "regcred"), ("node", "")]
    assert make_docker_keyring([], node) is node
    assert UnionKeyring([None, node]).lookup("x") == node.creds
    bad = _api_secret(
        {"type": "kubernetes.io/dockercfg", "data": {".dockercfg": json.dumps({"r.io": {"auth": "%%%"}})}}
    )
    with pytest.raises(DockerConfigError, match="illegal base64 data at input byte 0"):
        make_docker_keyring([secret, bad])


def test_image_pull_secret_names_skip_empty() -> None:
    pod = {"spec": {"imagePullSecrets": [{"name": "a"}, {"name": ""}, {}, {"name": "b"}]}}
    assert image_pull_secret_names(pod) == ["a", "b"]
    assert image_pull_secret_names({"spec": {}}) == []
