"""Every case of shared/conformance/kyverno-verify-images.json through the cosign checks and the Kyverno hook.

The cases carry real ECDSA signatures made with the vectors' test key, so nothing here is mocked except the
registry: an in-memory one serves the cases' manifests and blobs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from labhelpers.sandbox.admission.kyverno.results import RuleStatus
from labhelpers.sandbox.registries import NotFoundError, oci
from labhelpers.sandbox.registries.client import Manifest
from labhelpers.trust import keys
from labhelpers.trust.cosign import (
    SIGNATURE_ANNOTATION,
    SignatureLayer,
    build_signature_image,
    simple_signing_payload,
)
from labhelpers.trust.kyverno import kyverno_validate_images, kyverno_verify_images
from labhelpers.trust.names import kyverno_image, parse_ggcr
from labhelpers.trust.verify import FetchedSignatures, check_signatures
from tests.conftest import load_conformance

VECTORS: dict[str, Any] = load_conformance("kyverno-verify-images.json")  # type: ignore[assignment]
CASES = {c["name"]: c for c in VECTORS["cases"]}
KEY = keys.load_public_keys(VECTORS["public_key_pem"])
OTHER_KEY = keys.load_public_keys(VECTORS["other_public_key_pem"])


def _layers(case: dict[str, Any]) -> tuple[SignatureLayer, ...]:
    return tuple(SignatureLayer(lay["payload"].encode(), lay["annotations"]) for lay in case["signature_layers"])


def _fetched(case: dict[str, Any]) -> FetchedSignatures:
    ref = parse_ggcr(case["image_ref"])
    tag = case["image_digest"].replace(":", "-") + ".sig"
    return FetchedSignatures(ref, case["image_digest"], tag, _layers(case))


def _cosign_error(case: dict[str, Any]) -> str | None:
    """The cosign part of Kyverno's message (after ``.attestors[0].entries[0].keys: ``)."""
    if case["kyverno_rule_status"] == "pass":
        return None
    return case["kyverno_rule_message"].split(".attestors[0].entries[0].keys: ", 1)[1]


def test_every_case_is_covered() -> None:
    assert set(CASES) == {"signed", "unsigned", "signed-by-someone-else", "payload-digest-mismatch",
                          "missing-signature-annotation", "tampered-payload", "two-signatures-one-good",
                          "signed-with-optional-annotations"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_cosign_check_gives_the_vector_outcome(name: str) -> None:
    case = CASES[name]
    result = check_signatures(_fetched(case), KEY)
    assert result.error == _cosign_error(case)
    assert result.ok is (case["kyverno_rule_status"] == "pass")
    assert result.signatures_found == len(case["signature_layers"])


# The "missing-signature-annotation" vector was hand-made with an empty ``"annotations":{}``; go-containerregistry's
# Descriptor has ``omitempty`` on annotations, so cosign never writes that and neither do we.
@pytest.mark.parametrize("name", [n for n, c in CASES.items()
                                  if c["signature_manifest"] and n != "missing-signature-annotation"])
def test_signature_image_bytes_are_cosigns(name: str) -> None:
    """Manifest and config rebuilt from the layers equal the vector byte for byte (and so their digests)."""
    case = CASES[name]
    manifest, config, media_type = build_signature_image(list(_layers(case)))
    assert config.decode() == case["signature_config"]
    assert manifest.decode() == case["signature_manifest"]
    assert oci.sha256_digest(manifest) == case["signature_manifest_digest"]
    assert media_type == oci.OCI_MANIFEST


@pytest.mark.parametrize("name", sorted(CASES))
def test_payload_bytes_are_cosigns(name: str) -> None:
    for lay in CASES[name]["signature_layers"]:
        claims = json.loads(lay["payload"])
        rebuilt = simple_signing_payload(claims["critical"]["identity"]["docker-reference"],
                                         claims["critical"]["image"]["docker-manifest-digest"], claims["optional"])
        assert rebuilt.decode() == lay["payload"]


def test_the_other_key_rejects_the_signed_image_and_accepts_someone_elses() -> None:
    assert check_signatures(_fetched(CASES["signed"]), OTHER_KEY).error == (
        "no matching signatures: invalid signature when validating ASN.1 encoded signature")
    assert check_signatures(_fetched(CASES["signed-by-someone-else"]), OTHER_KEY).ok


def test_two_keys_either_one_verifies() -> None:
    result = check_signatures(_fetched(CASES["signed-by-someone-else"]), [*KEY, *OTHER_KEY])
    assert result.ok and result.verified[0].key_index == 1


def test_two_signatures_one_good_reports_only_the_good_one() -> None:
    result = check_signatures(_fetched(CASES["two-signatures-one-good"]), KEY)
    assert result.matching == 1 and result.errors == ["invalid signature when validating ASN.1 encoded signature"]


def test_several_bad_layers_are_joined_like_cosign() -> None:
    layers = _layers(CASES["payload-digest-mismatch"]) + _layers(CASES["tampered-payload"])
    fetched = FetchedSignatures(parse_ggcr(CASES["signed"]["image_ref"]), CASES["signed"]["image_digest"], "t",
                                layers)
    result = check_signatures(fetched, KEY)
    assert result.error == ("no matching signatures: invalid or missing digest in claim: sha256:" + "0" * 64
                            + "\n invalid signature when validating ASN.1 encoded signature")
    assert result.exit_code == 12


def test_signature_copied_to_another_repository_still_verifies() -> None:
    """cosign ignores docker-reference: the signed payload names youruser/app, the image lives elsewhere."""
    case = CASES["signed"]
    moved = FetchedSignatures(parse_ggcr("registry.local:5000/attacker/app:signed"), case["image_digest"],
                              "t", _layers(case))
    result = check_signatures(moved, KEY)
    assert result.ok
    assert result.reference_mismatches == ["registry.local:5000/youruser/app"]


def test_bad_base64_and_annotations() -> None:
    case = CASES["signed"]
    lay = _layers(case)[0]
    bad = SignatureLayer(lay.payload, {SIGNATURE_ANNOTATION: "MEU!"})
    fetched = FetchedSignatures(parse_ggcr(case["image_ref"]), case["image_digest"], "t", (bad,))
    assert check_signatures(fetched, KEY).errors == ["illegal base64 data at input byte 3"]
    annotated = _fetched(CASES["signed-with-optional-annotations"])
    assert check_signatures(annotated, KEY, annotations={"env": "prod"}).ok
    assert check_signatures(annotated, KEY, annotations={"env": "dev"}).errors == ["missing or incorrect annotation"]


def test_empty_annotations_are_omitted_like_go() -> None:
    case = CASES["missing-signature-annotation"]
    manifest, _, _ = build_signature_image(list(_layers(case)))
    assert manifest.decode() == case["signature_manifest"].replace(',"annotations":{}', "")


def test_payloads_json_is_what_cosign_verify_prints() -> None:
    result = check_signatures(_fetched(CASES["signed"]), KEY)
    assert result.payloads_json() == "[" + CASES["signed"]["signature_layers"][0]["payload"] + "]"


# ------------------------------------------------------------------------------------- the Kyverno hook


class FakeRegistry:
    """Async, in-memory stand-in for RegistryClient: manifests by tag, blobs by digest."""

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], bytes] = {}
        self.blobs: dict[str, bytes] = {}

    def add_case(self, case: dict[str, Any]) -> None:
        repo = parse_ggcr(case["image_ref"]).repository
        self.manifests[(repo, parse_ggcr(case["image_ref"]).tag)] = case["image_manifest"].encode()
        if case["signature_manifest"]:
            tag = case["signature_tag"].rsplit(":", 1)[1]
            self.manifests[(repo, tag)] = case["signature_manifest"].encode()
            for lay in case["signature_layers"]:
                self.blobs[lay["digest"]] = lay["payload"].encode()

    async def get_manifest(self, repository: str, reference: str, **_: Any) -> Manifest:
        data = self.manifests.get((repository, reference))
        if data is None:
            raise NotFoundError("GET", f"http://127.0.0.1:1/v2/{repository}/manifests/{reference}", 404,
                                "Not Found", [], None, b"")
        return Manifest(oci.OCI_MANIFEST, oci.sha256_digest(data), data)

    async def get_blob(self, repository: str, digest: str) -> bytes:
        return self.blobs[digest]

    async def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def registry() -> FakeRegistry:
    reg = FakeRegistry()
    for case in CASES.values():
        reg.add_case(case)
    return reg


@pytest.mark.parametrize("name", sorted(CASES))
def test_kyverno_rule_result_matches_the_vector(name: str, registry: FakeRegistry) -> None:
    case = CASES[name]
    rule = VECTORS["policy"]["spec"]["rules"][0]
    [outcome] = kyverno_verify_images(rule, [case["image_ref"]], lambda repo: registry)
    assert outcome.status == RuleStatus(case["kyverno_rule_status"])
    assert outcome.message == case["kyverno_rule_message"]
    assert outcome.patched_image == case.get("mutated_image")


def test_kyverno_ignores_images_outside_image_references(registry: FakeRegistry) -> None:
    rule = VECTORS["policy"]["spec"]["rules"][0]
    assert kyverno_verify_images(rule, ["nginx:1.25", "registry.local:5000/other/app:v1"],
                                 lambda repo: registry) == []


def test_kyverno_count_and_several_keys_in_one_entry(registry: FakeRegistry) -> None:
    both = VECTORS["public_key_pem"] + "\n" + VECTORS["other_public_key_pem"]
    entry = {"imageReferences": ["registry.local:5000/*"],
             "attestors": [{"count": 1, "entries": [{"keys": {"publicKeys": both}}]}]}
    [ok] = kyverno_verify_images(entry, [CASES["signed"]["image_ref"]], lambda repo: registry)
    assert ok.status == RuleStatus.PASS
    entry["attestors"][0].pop("count")  # nil count: every (expanded) entry must verify
    [fail] = kyverno_verify_images(entry, [CASES["signed"]["image_ref"]], lambda repo: registry)
    assert fail.status == RuleStatus.FAIL
    assert fail.message == ("failed to verify image registry.local:5000/youruser/app:signed: .attestors[0]"
                            ".entries[1].keys: no matching signatures: invalid signature when validating "
                            "ASN.1 encoded signature")


def test_kyverno_skip_and_no_mutation_when_digest_given(registry: FakeRegistry) -> None:
    case = CASES["signed"]
    entry = {"imageReferences": ["registry.local:5000/*"], "skipImageReferences": ["*:unsigned"],
             "attestors": [{"entries": [{"keys": {"publicKeys": VECTORS["public_key_pem"]}}]}]}
    pinned = "registry.local:5000/youruser/app@" + case["image_digest"]
    unsigned = CASES["unsigned"]["image_ref"]
    registry.manifests[("youruser/app", case["image_digest"])] = case["image_manifest"].encode()
    skipped, passed = kyverno_verify_images(entry, [unsigned, pinned], lambda repo: registry)
    assert (skipped.status, skipped.message) == (RuleStatus.SKIP, f"skipping image reference image {unsigned}")
    assert passed.status == RuleStatus.PASS and passed.patched_image is None


def test_kyverno_unknown_tag_fails_with_cosigns_text(registry: FakeRegistry) -> None:
    entry = {"imageReferences": ["registry.local:5000/*"],
             "attestors": [{"entries": [{"keys": {"publicKeys": VECTORS["public_key_pem"]}}]}]}
    [o] = kyverno_verify_images(entry, ["registry.local:5000/youruser/app:nope"], lambda repo: registry)
    assert o.status == RuleStatus.FAIL
    assert o.message == ("failed to verify image registry.local:5000/youruser/app:nope: .attestors[0].entries[0]"
                         ".keys: image tag not found: GET https://registry.local:5000/v2/youruser/app/manifests/"
                         "nope: unexpected status code 404 Not Found")


def test_kyverno_validate_step() -> None:
    rule = VECTORS["policy"]["spec"]["rules"][0]
    img = CASES["signed"]["image_ref"]
    pinned = CASES["signed"]["mutated_image"]
    [missing] = kyverno_validate_images(rule, [img], {})
    assert missing.message == f"missing digest for {img}"
    pinned_name = str(kyverno_image(pinned))
    [unverified] = kyverno_validate_images(rule, [pinned], {})
    assert unverified.message == f"unverified image {pinned_name}"
    [ok] = kyverno_validate_images(rule, [pinned], {pinned_name: "pass"})
    assert (ok.status, ok.message) == (RuleStatus.PASS, "image verified")


def test_kyverno_image_names() -> None:
    assert str(kyverno_image("nginx")) == "docker.io/nginx:latest"
    assert str(kyverno_image("test/nginx")) == "docker.io/test/nginx:latest"
    assert str(kyverno_image("localhost:4443/test/nginx")) == "localhost:4443/test/nginx:latest"
    assert parse_ggcr("nginx").name == "index.docker.io/library/nginx:latest"
    assert parse_ggcr("docker.io/youruser/app:v1").repository_name == "index.docker.io/youruser/app"


def test_signature_in_vector_is_a_real_ecdsa_signature_over_the_payload() -> None:
    lay = CASES["signed"]["signature_layers"][0]
    KEY[0].verify(base64.b64decode(lay["annotations"][SIGNATURE_ANNOTATION]), lay["payload"].encode())
    with pytest.raises(keys.InvalidSignatureError):
        KEY[0].verify(base64.b64decode(lay["annotations"][SIGNATURE_ANNOTATION]), lay["payload"].encode() + b" ")
