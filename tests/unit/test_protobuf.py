"""The protobuf request-body decoder, against bodies captured from real kubectl (tools/capture_protobuf.py).

Each fixture pair is ``<name>.bin`` (the body kubectl sent) and ``<name>.json`` (the same object in JSON: kubectl's
``--dry-run=client -o json`` output, or kubectl 1.31's JSON request body for commands without a dry run).

Normalisation before comparing: the JSON twin's ``null`` values are removed. They are what Go's encoding/json
prints for a zero ``metav1.Time`` (``creationTimestamp: null``) and for nil lists without ``omitempty``
(``resourceRules: null``); the decoder leaves such fields out instead. Nothing else is normalised.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from labhelpers.sandbox.apiserver import protobuf
from labhelpers.sandbox.apiserver.protobuf import MAGIC, ProtobufDecodeError, decode, supported_kinds

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "protobuf"
MANIFEST: dict[str, dict] = json.loads((FIXTURES / "manifest.json").read_text())


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def fixture(name: str) -> tuple[bytes, dict]:
    return (FIXTURES / f"{name}.bin").read_bytes(), json.loads((FIXTURES / f"{name}.json").read_text())


# --- a minimal encoder, to build bodies the captured ones do not cover -----------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        if n < 0x80:
            return bytes(out + bytes([n]))
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def fld(number: int, value: int | bytes | str | bool) -> bytes:
    """A field: ints and bools as varints, str and bytes length-delimited."""
    if isinstance(value, bool | int):
        return varint(number << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + fld(1, fld(1, api_version) + fld(2, kind)) + fld(2, raw) + fld(3, "") + fld(4, "")


NAMESPACE_RAW = fld(1, fld(1, "lab") + fld(2, "") + fld(8, b"")) + fld(2, b"") + fld(3, fld(1, ""))


# --- captured fixtures -----------------------------------------------------------------------------------------


def test_fixture_set_is_complete():
    names = {p.stem for p in FIXTURES.glob("*.bin")}
    assert names == set(MANIFEST)
    assert all((FIXTURES / f"{n}.json").exists() for n in names)
    assert len(names) >= 25
    assert {e["content_type"] for e in MANIFEST.values()} == {protobuf.PROTOBUF_CONTENT_TYPE}


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_decodes_to_its_json_twin(name):
    body, as_json = fixture(name)
    assert decode(body) == without_nulls(as_json)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_decodes_with_matching_expected_kind(name):
    body, as_json = fixture(name)
    assert decode(body, expected=(as_json["apiVersion"], as_json["kind"])) == decode(body)


def test_namespace_drops_go_zero_values_but_keeps_structs():
    body, _ = fixture("namespace")
    # On the wire: generateName "", namespace "", creationTimestamp {}, ... and an empty status.
    assert b"\x12\x00\x1a\x00" in body
    assert decode(body) == {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "registry-lab"},
                            "spec": {}, "status": {}}


def test_pointer_zero_values_are_kept():
    deployment = decode(fixture("deployment-zero-replicas")[0])
    assert deployment["spec"]["replicas"] == 0
    assert deployment["status"] == {}  # non-pointer zero counters are omitted
    job = decode(fixture("job-from-cronjob")[0])
    pod_spec = job["spec"]["template"]["spec"]
    assert job["spec"]["backoffLimit"] == 0
    assert pod_spec["automountServiceAccountToken"] is False
    assert pod_spec["terminationGracePeriodSeconds"] == 0
    assert job["metadata"]["ownerReferences"][0]["controller"] is True
    review = decode(fixture("can-i-create-pods")[0])
    assert review["status"] == {"allowed": False}  # `json:"allowed"` has no omitempty


def test_secret_data_is_base64_like_json():
    secret = decode(fixture("secret-generic-binary")[0])
    assert base64.b64decode(secret["data"]["blob.bin"]) == bytes(range(256))
    assert secret["data"]["empty"] == ""
    config = json.loads(base64.b64decode(decode(fixture("secret-docker-registry")[0])["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.example.test"]["username"] == "demo"


def test_int_or_string_and_quantity():
    ports = decode(fixture("service-clusterip")[0])["spec"]["ports"]
    assert [p["targetPort"] for p in ports] == [8080, "https"]
    container = decode(fixture("job-from-cronjob")[0])["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "128Mi"}
    assert container["livenessProbe"]["tcpSocket"]["port"] == 9090
    assert container["readinessProbe"]["httpGet"]["port"] == "metrics"


def test_negative_integers_and_times():
    spec = decode(fixture("job-from-cronjob-every-field")[0])["spec"]
    assert spec["parallelism"] == -7  # int32 sign-extended to ten bytes on the wire
    assert spec["activeDeadlineSeconds"] == -(2**40)
    meta = spec["template"]["metadata"]
    assert meta["creationTimestamp"] == "2024-01-02T03:04:05Z"
    assert meta["managedFields"][0]["fieldsV1"] == {"f:x": {}}


# --- hand-built bodies -----------------------------------------------------------------------------------------


def test_unknown_fields_of_every_wire_type_are_skipped():
    extra = (fld(90, 7) + varint(91 << 3 | 1) + b"\x01" * 8 + fld(92, b"\x00junk") + varint(93 << 3 | 5) + b"\x02" * 4)
    metadata = fld(1, "lab") + extra
    body = envelope("v1", "Namespace", fld(1, metadata) + extra + fld(2, b""))
    assert decode(body) == {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "lab"}, "spec": {}}


def test_time_micro_time_and_event():
    event = fld(1, fld(1, "web.1") + fld(3, "demo")) + fld(2, fld(1, "Pod") + fld(3, "web"))
    event += fld(3, "Pulled") + fld(6, fld(1, 1704164645) + fld(2, 999)) + fld(7, b"")
    event += fld(8, 1) + fld(10, fld(1, 1704164645) + fld(2, 123456789)) + fld(14, "") + fld(15, "")
    assert decode(envelope("v1", "Event", event)) == {
        "kind": "Event", "apiVersion": "v1",
        "metadata": {"name": "web.1", "namespace": "demo"},
        "involvedObject": {"kind": "Pod", "name": "web"},
        "reason": "Pulled",
        "firstTimestamp": "2024-01-02T03:04:05Z",  # seconds precision; zero lastTimestamp left out
        "count": 1,
        "eventTime": "2024-01-02T03:04:05.123456Z",
        "reportingComponent": "", "reportingInstance": "",  # no omitempty on these two
    }


def test_delete_options_in_any_group_version():
    opts = fld(1, 0) + fld(2, fld(1, "uid-1")) + fld(4, "Foreground") + fld(5, "All")
    expected = {"gracePeriodSeconds": 0, "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground",
                "dryRun": ["All"]}
    for api_version in ("v1", "apps/v1", "meta.k8s.io/v1"):
        got = decode(envelope(api_version, "DeleteOptions", opts), expected=(api_version, "DeleteOptions"))
        assert got == {"kind": "DeleteOptions", "apiVersion": api_version, **expected}


def test_repeated_message_fields_merge_and_later_zero_wins():
    raw = fld(1, fld(1, "first") + fld(11, fld(1, "a") + fld(2, "1"))) + fld(1, fld(1, "") + fld(3, "ns"))
    assert decode(envelope("v1", "Secret", raw))["metadata"] == {"labels": {"a": "1"}, "namespace": "ns"}


def test_packed_and_unpacked_repeated_ints():
    requirement = fld(2, "In") + fld(3, 1) + fld(3, 2) + fld(3, varint(3) + varint(2**64 - 1))
    rule = fld(1, "FailJob") + fld(2, requirement)
    job = fld(2, fld(11, fld(1, rule)))
    got = decode(envelope("batch/v1", "Job", job))
    assert got["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"] == {"operator": "In", "values": [1, 2, 3, -1]}


def test_supported_kinds():
    kinds = supported_kinds()
    for expected in [("v1", "Namespace"), ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "ServiceAccount"),
                     ("v1", "Pod"), ("v1", "Event"), ("apps/v1", "Deployment"), ("batch/v1", "Job"),
                     ("batch/v1", "CronJob"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
                     ("authorization.k8s.io/v1", "SelfSubjectAccessReview")]:
        assert expected in kinds
    for api_version, kind in kinds:
        assert decode(envelope(api_version, kind, b""))["kind"] == kind


def test_schema_table_is_consistent():
    for name, fields in protobuf._MESSAGES.items():
        for number, f in fields.items():
            assert number == f.number > 0, (name, f.name)
            if f.name == "inline":
                assert f.type in protobuf._MESSAGES
            if f.is_map or f.repeated or f.type in protobuf._MESSAGES:
                assert not f.keep_zero, f"{name}.{f.name}: '!' only applies to scalars"


# --- malformed bodies ------------------------------------------------------------------------------------------


def test_bad_envelope_messages_match_the_apiserver():
    with pytest.raises(ProtobufDecodeError) as e:
        decode(b"", expected=("v1", "Namespace"))
    assert str(e.value) == "the object provided is unrecognized (must be of type Namespace): empty data (<empty>)"

    body = b'{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x"}}'
    with pytest.raises(ProtobufDecodeError) as e:
        decode(body, expected=("v1", "Namespace"))
    assert str(e.value) == (
        "the object provided is unrecognized (must be of type Namespace): provided data does not appear to be a "
        'protobuf message, expected prefix [107 56 115 0] ({"kind":"Namespace","apiVersio ...)')

    with pytest.raises(ProtobufDecodeError) as e:
        decode(MAGIC)
    assert e.value.cause == "empty body"
    assert isinstance(e.value, ValueError)


def test_missing_type_information():
    raw = fld(2, NAMESPACE_RAW)
    assert len(MAGIC + raw) < 30  # summarised in full, as hex
    with pytest.raises(ProtobufDecodeError) as e:
        decode(MAGIC + raw)
    assert str(e.value) == ("the object provided is unrecognized: Object 'Kind' is missing in "
                            f"'runtime.TypeMeta{{APIVersion:\"\", Kind:\"\"}}' ({(MAGIC + raw).hex()})")
    # The endpoint's kind fills in what the envelope lacks, as the apiserver's default GVK does.
    assert decode(MAGIC + raw, expected=("v1", "Namespace"))["metadata"] == {"name": "lab"}


def test_unknown_and_mismatched_kinds():
    with pytest.raises(ProtobufDecodeError) as e:
        decode(envelope("v1", "Widget", b""), expected=("v1", "Secret"))
    assert str(e.value) == ('Widget in version "v1" cannot be handled as a Secret: no kind "Widget" is registered '
                            'for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"')
    with pytest.raises(ProtobufDecodeError) as e:
        decode(envelope("v1", "Namespace", NAMESPACE_RAW), expected=("v1", "Secret"))
    assert str(e.value) == ('Namespace in version "v1" cannot be handled as a Secret: '
                            "converting (v1.Namespace) to (core.Secret): unknown conversion")
    with pytest.raises(ProtobufDecodeError) as e:
        decode(envelope("apps/v1", "Deployment", b""), expected=("apps/v1beta1", "Deployment"))
    assert str(e.value) == "the API version in the data (apps/v1) does not match the expected API version (apps/v1beta1)"


def test_wrong_wire_type():
    raw = fld(1, varint(1 << 3) + varint(5))  # ObjectMeta.name as a varint
    with pytest.raises(ProtobufDecodeError) as e:
        decode(envelope("v1", "Secret", raw), expected=("v1", "Secret"))
    assert str(e.value) == 'Secret in version "v1" cannot be handled as a Secret: proto: wrong wireType = 0 for field Name'
    with pytest.raises(ProtobufDecodeError, match="wrong wireType = 2 for field Replicas"):
        decode(envelope("apps/v1", "Deployment", fld(2, fld(1, b"\x03"))))
    with pytest.raises(ProtobufDecodeError, match="wrong wireType = 0 for field UID"):
        decode(envelope("v1", "Secret", fld(1, fld(5, 1))))


@pytest.mark.parametrize("raw, cause", [
    (fld(1, b"") + b"\x0a", "unexpected EOF"),  # a length that never comes
    (fld(1, b"") + b"\x0a\x05ab", "unexpected EOF"),  # a length past the end
    (b"\x08" + b"\xff" * 10 + b"\x01", "proto: integer overflow"),
    (b"\x0c", "proto: Secret: wiretype end group for non-group"),
    (b"\x00\x00", "proto: Secret: illegal tag 0 (wire type 0)"),
    (b"\x0f", "proto: illegal wireType 7"),
    (b"\x0a" + varint(2**63), "proto: negative length found during unmarshaling"),
])
def test_corrupt_object_bytes(raw, cause):
    with pytest.raises(ProtobufDecodeError) as e:
        decode(envelope("v1", "Secret", raw))
    assert e.value.cause == cause


@pytest.mark.parametrize("name", ["secret-docker-registry", "deployment", "job-from-cronjob", "can-i-create-pods"])
def test_every_truncation_fails_cleanly(name):
    body, as_json = fixture(name)
    full = decode(body)
    bare = {"kind": as_json["kind"], "apiVersion": as_json["apiVersion"]}
    decoded = 0
    for n in range(len(body)):
        try:
            got = decode(body[:n])
        except ProtobufDecodeError:
            continue
        # Only cuts between the envelope's fields still parse: after typeMeta (an object with no fields), or in
        # the ignored contentEncoding/contentType at the end.
        assert got in (bare, full)
        decoded += 1
    assert decoded <= 4


def test_random_corruption_never_raises_anything_else():
    rng = random.Random(1337)
    bodies = [fixture(n)[0] for n in ("secret-docker-registry", "job-from-cronjob-every-field", "debug-copy")]
    outcomes = {"decoded": 0, "rejected": 0}
    for _ in range(3000):
        body = bytearray(rng.choice(bodies))
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(4, len(body))] = rng.randrange(256)
        try:
            decode(bytes(body))
            outcomes["decoded"] += 1
        except ProtobufDecodeError:
            outcomes["rejected"] += 1
    assert min(outcomes.values()) > 100  # both paths were exercised
