"""Notary's target walk and docker trust inspect's rendering, on hand-made (unsigned) metadata."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from labhelpers.trust.dct.client import match_released_signatures, render_inspect, render_pretty
from labhelpers.trust.dct.trustdata import TrustData, natural_less
from labhelpers.trust.dct.tufjson import ecdsa_public_key

GUN = "docker.io/youruser/trusted-app"
H1, H2, H3 = "11" * 32, "22" * 32, "33" * 32


def _meta(hexdigest: str, length: int = 401) -> dict:
    return {"hashes": {"sha256": base64.b64encode(bytes.fromhex(hexdigest)).decode()}, "length": length}


def _write(base: Path, role: str, signed: dict) -> None:
    path = base / f"{role}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"signed": signed, "signatures": []}))


def _repo(tmp_path: Path, *, delegations: bool = True) -> TrustData:
    base = tmp_path / "tuf" / GUN / "metadata"
    alice = ecdsa_public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    _write(base, "root", {"_type": "Root", "roles": {"root": {"keyids": ["rootcert"], "threshold": 1},
                                                     "targets": {"keyids": ["repokey"], "threshold": 1}}})
    roles = []
    if delegations:
        roles = [{"name": "targets/releases", "keyids": [alice.id], "threshold": 1, "paths": [""]},
                 {"name": "targets/alice", "keyids": [alice.id], "threshold": 1, "paths": [""]},
                 {"name": "targets/bob", "keyids": [], "threshold": 1, "paths": ["v9"]}]
    _write(base, "targets", {"_type": "Targets", "targets": {"v1.0": _meta(H1), "v10": _meta(H3)},
                             "delegations": {"keys": {alice.id: alice.to_dict()}, "roles": roles}})
    if delegations:
        _write(base, "targets/releases", {"targets": {"v2": _meta(H2), "v1.0": _meta(H2)}})
        _write(base, "targets/alice", {"targets": {"v2": _meta(H2), "v3": _meta(H3)}})
        _write(base, "targets/bob", {"targets": {"v2": _meta(H2), "v9": _meta(H1)}})  # v2 is outside bob's paths
    return TrustData.load(tmp_path, GUN)


def test_releases_win_over_targets_when_resolving(tmp_path: Path) -> None:
    data = _repo(tmp_path)
    hit = data.get_target("v1.0")
    assert hit is not None and (hit.role, hit.sha256) == ("targets/releases", H2)
    only_targets = data.get_target("v10")
    assert only_targets is not None and only_targets.role == "targets" and only_targets.digest == "sha256:" + H3
    unreleased = data.get_target("v3")
    assert unreleased is not None and unreleased.role == "targets/alice"  # docker then refuses it
    assert data.get_target("nope") is None


def test_all_targets_respects_delegation_paths(tmp_path: Path) -> None:
    data = _repo(tmp_path)
    roles = sorted(e.role for e in data.all_targets("v2"))
    assert roles == ["targets/alice", "targets/releases"]
    assert [e.role for e in data.all_targets("v9")] == ["targets/bob"]


def test_matched_signatures_and_inspect_shape(tmp_path: Path) -> None:
    data = _repo(tmp_path)
    rows = match_released_signatures(data.all_targets())
    assert [r["SignedTag"] for r in rows] == ["v1.0", "v1.0", "v2", "v10"]  # natural order, one row per digest
    by_tag = {(r["SignedTag"], r["Digest"]): r["Signers"] for r in rows}
    # listing everything (no tag) does not path-check roles, as in Notary: bob's out-of-path v2 counts here...
    assert by_tag[("v2", H2)] == ["alice", "bob"]
    assert by_tag[("v1.0", H1)] == [] and by_tag[("v1.0", H2)] == []
    # ...but not when the tag is named, because then the walk only visits roles whose paths cover it
    out = render_inspect(f"{GUN}:v2", match_released_signatures(data.all_targets("v2")), data)
    assert list(out) == ["Name", "SignedTags", "Signers", "AdministrativeKeys"]
    assert out["SignedTags"] == [{"SignedTag": "v2", "Digest": H2, "Signers": ["alice"]}]
    alice_id = data.delegation_roles()[1].keyids[0]
    assert out["Signers"] == [{"Name": "bob"}, {"Name": "alice", "Keys": [{"ID": alice_id}]}]
    assert out["AdministrativeKeys"] == [{"Name": "Root", "Keys": [{"ID": "rootcert"}]},
                                         {"Name": "Repository", "Keys": [{"ID": "repokey"}]}]


def test_repo_admin_and_pretty_output(tmp_path: Path) -> None:
    data = _repo(tmp_path, delegations=False)
    rows = match_released_signatures(data.all_targets("v1.0"))
    assert render_inspect(f"{GUN}:v1.0", rows, data)["SignedTags"][0]["Signers"] == ["Repo Admin"]
    pretty = render_pretty(f"{GUN}:v1.0", rows, data)
    assert pretty == (
        f"\nSignatures for {GUN}:v1.0\n\n"
        f"SIGNED TAG   DIGEST{' ' * 61}SIGNERS\n"
        f"v1.0         {H1}   (Repo Admin)\n"
        f"\nAdministrative keys for {GUN}:v1.0\n\n"
        "  Repository Key:\trepokey\n"
        "  Root Key:\trootcert\n")
    empty = render_pretty(f"{GUN}:zz", [], data)
    assert empty.startswith(f"\nNo signatures for {GUN}:zz\n\n")


def test_natural_less() -> None:
    assert natural_less("v2", "v10") and not natural_less("v10", "v2")
    assert natural_less("1.9", "1.10") and natural_less("a", "b") and natural_less("v1", "v1.0")
    assert natural_less("9", "a") and natural_less("v01", "v001") and not natural_less("x", "x")
