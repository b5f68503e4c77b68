"""Notary's TUF dialect, checked against metadata the real notary 0.7.0 client produced."""

from __future__ import annotations

import copy
import datetime as dt
import json

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from labhelpers.trust.dct import tufjson

# Written by `notary init docker.io/youruser/x1` (Debian notary 0.7.0): the targets key and its targets.json.
NOTARY_TARGETS_KEY = {"keytype": "ecdsa", "keyval": {"private": None, "public": (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElS4MNTvJBIxu/st21sQCGo69mQHEbohnDLwujIUAGKBKVXJnqGfIfEC+PQQZC07cbL+Lb"
    "hYZz2Iscq7vqwEKFQ==")}}
NOTARY_TARGETS_KEY_ID = "2fb777b03434950601ff9d91be20525fe2df9cb34d69a8bf4e0d7ed135dcaeea"
NOTARY_TARGETS_JSON = (
    '{"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2029-11-26T21:18:37.332414938Z",'
    '"targets":{},"version":1},"signatures":[{"keyid":"2fb777b03434950601ff9d91be20525fe2df9cb34d69a8bf4e0d7ed135'
    'dcaeea","method":"ecdsa","sig":"NjzIfQLq1WbTYO468LdEtDYJJdLd245uwL3KxgwPsNM14CndiTuaac6UPOaGkwsXNrKRxEVAniFm'
    '4xMqYikRtg=="}]}')
# The same run's root certificate key: root.json names it 7577ed..., the private key file is 34ba111...
NOTARY_ROOT_CERT_KEY = {"keytype": "ecdsa-x509", "keyval": {"private": None, "public": (
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJjekNDQVJtZ0F3SUJBZ0lRZFd0QjFoRGFiMjkwYURnaTRxK1hRakFLQmdncWhrak9"
    "QUVFEQWpBZ01SNHcKSEFZRFZRUURFeFZrYjJOclpYSXVhVzh2ZVc5MWNuVnpaWEl2ZURFd0hoY05Nall4TVRJM01qRXhPRE0zV2hjTgpNel"
    "l4TVRJME1qRXhPRE0zV2pBZ01SNHdIQVlEVlFRREV4VmtiMk5yWlhJdWFXOHZlVzkxY25WelpYSXZlREV3CldUQVRCZ2NxaGtqT1BRSUJCZ"
    "2dxaGtqT1BRTUJCd05DQUFSdEN6aDErT2RDb2RGUzF3R0djeG1XalBWQUR1QVEKVnN4ZDZDbXlWR2ZVd2VheTR4MjcrbXZmeGNaNXNrUXlJ"
    "Y3EwWllteFJVVEF4N08rUWQzMUtWSFhvelV3TXpBTwpCZ05WSFE4QkFmOEVCQU1DQmFBd0V3WURWUjBsQkF3d0NnWUlLd1lCQlFVSEF3TXd"
    "EQVlEVlIwVEFRSC9CQUl3CkFEQUtCZ2dxaGtqT1BRUURBZ05JQURCRkFpQldnNFdTYk9zYWtXMkxLMWRsZzhGRXAvb1BYUXZ3YzBEMHhXc3"
    "EKM0tZRW9nSWhBTHlSMmxsejV4KzlFb09MWHFac2JJeWtmZmxGL0hFZXdwOGxnYzdFRkpxNQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tC"
    "g==")}}


def test_canonical_json_is_sorted_compact_and_go_escaped() -> None:
    doc = {"b": [1, {"z": None, "a": True}], "a": "<x & y>"}
    assert tufjson.canonical_json(doc) == b'{"a":"\\u003cx \\u0026 y\\u003e","b":[1,{"a":true,"z":null}]}'


def test_key_ids_match_notary() -> None:
    assert tufjson.key_id(NOTARY_TARGETS_KEY) == NOTARY_TARGETS_KEY_ID
    cert_key = tufjson.PublicKey.from_dict(NOTARY_ROOT_CERT_KEY)
    assert cert_key.id == "7577ed8a7ee465c5ae36437950a63a8d725895fcb2a9631101759077ef839462"
    # the canonical ID (and the private key's file name) is the bare public key's ID
    assert tufjson.canonical_id(cert_key) == "34ba111c3cb65cb6a992f0fcb7136d8cc7e4d36f827681a5017e90951d7de16d"


def test_verifies_a_signature_made_by_notary_and_rejects_tampering() -> None:
    doc = json.loads(NOTARY_TARGETS_JSON)
    key = tufjson.PublicKey.from_dict(NOTARY_TARGETS_KEY)
    assert tufjson.verify_signature(doc["signed"], doc["signatures"][0], key)
    tampered = copy.deepcopy(doc["signed"])
    tampered["targets"]["v1.0"] = {"hashes": {"sha256": "AAAA"}, "length": 1}
    assert not tufjson.verify_signature(tampered, doc["signatures"][0], key)


def test_envelope_round_trips_notary_wire_bytes() -> None:
    assert tufjson.signed_envelope(json.loads(NOTARY_TARGETS_JSON)) == NOTARY_TARGETS_JSON.encode()


def test_sign_then_verify_uses_raw_r_s_signatures() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tufjson.ecdsa_public_key(key.public_key())
    doc = tufjson.sign_metadata(tufjson.new_targets(0), [(pub.id, key)])
    sig = doc["signatures"][0]
    assert sig["method"] == "ecdsa" and sig["keyid"] == pub.id
    assert len(__import__("base64").b64decode(sig["sig"])) == 64
    assert tufjson.verify_signature(doc["signed"], sig, pub)
    other = tufjson.ecdsa_public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert not tufjson.verify_signature(doc["signed"], sig, other)


def test_go_time_trims_nanoseconds_like_go() -> None:
    assert tufjson.go_time(ns=1_795_000_000_332_414_938) == "2026-11-18T11:06:40.332414938Z"
    assert tufjson.go_time(ns=1_795_000_000_100_000_000) == "2026-11-18T11:06:40.1Z"
    assert tufjson.go_time(ns=1_795_000_000_000_000_000) == "2026-11-18T11:06:40Z"
    assert tufjson.parse_go_time("2029-11-26T21:18:37.332414938Z") == dt.datetime(
        2029, 11, 26, 21, 18, 37, 332414, tzinfo=dt.UTC)


def test_initial_metadata_versions_and_expiries() -> None:
    now = 1_795_000_000_000_000_000
    root = tufjson.new_root({}, {"root": ["a"]}, now)
    targets = tufjson.new_targets(now)
    assert root["version"] == targets["version"] == 1
    assert root["_type"] == "Root" and root["consistent_snapshot"] is False
    assert root["roles"]["root"] == {"keyids": ["a"], "threshold": 1}
    assert tufjson.parse_go_time(root["expires"]) - tufjson.parse_go_time(tufjson.go_time(ns=now)) == \
        dt.timedelta(days=3650)
    assert tufjson.parse_go_time(targets["expires"]) - tufjson.parse_go_time(tufjson.go_time(ns=now)) == \
        dt.timedelta(days=1095)
    assert targets["delegations"] == {"keys": {}, "roles": []} and targets["targets"] == {}


def test_root_certificate_follows_notarys_template() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    cert = tufjson.root_certificate(key, "docker.io/youruser/trusted-app", start)
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "docker.io/youruser/trusted-app"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=3650)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CODE_SIGNING]
    assert 0 < cert.serial_number < 1 << 128
    pub = tufjson.x509_public_key(cert)
    assert pub.keytype == "ecdsa-x509"
    assert tufjson.canonical_id(pub) == tufjson.ecdsa_public_key(key.public_key()).id != pub.id
