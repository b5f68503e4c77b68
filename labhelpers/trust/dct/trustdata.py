"""Reading a repository's verified trust data the way Notary's client library walks it.

The notary binary verifies and caches metadata under ``<trust_dir>/tuf/<GUN>/metadata``; this module loads
that cache and reproduces the library calls Docker makes on top of it: ``GetTargetByName`` (role priority),
``GetAllTargetMetadataByName`` (every role that lists a tag), ``ListRoles`` and ``GetDelegationRoles``
(with canonical key IDs). The walk is Notary's ``WalkTargets``: breadth first from ``targets``, following only
delegations whose paths stay inside their parent's, and visiting a role only if its paths cover the target.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tufjson import PublicKey, canonical_id

__all__ = ["DelegationRole", "TargetEntry", "TrustData", "natural_less", "natural_sort_key"]

TARGETS = "targets"
RELEASES = "targets/releases"


@dataclass(frozen=True)
class DelegationRole:
    name: str
    keyids: tuple[str, ...]
    threshold: int
    paths: tuple[str, ...]

    def check_path(self, target: str) -> bool:
        """``DelegationRole.CheckPaths``: a path prefix matches (``""`` matches everything)."""
        return any(target.startswith(p) for p in self.paths)

    def restrict(self, child: DelegationRole) -> DelegationRole:
        """``Restrict``: keep only the child's paths that fall under one of ours."""
        kept = tuple(p for p in child.paths if any(p.startswith(mine) for mine in self.paths))
        return DelegationRole(child.name, child.keyids, child.threshold, kept)


@dataclass(frozen=True)
class TargetEntry:
    """A target (tag) as signed into one role: hex sha256 of the manifest, its length, the role."""

    name: str
    sha256: str
    length: int
    role: str

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256


@dataclass
class TrustData:
    """One GUN's cached metadata: ``root`` and each targets role's ``signed`` part."""

    gun: str
    root: dict[str, Any]
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, trust_dir: str | Path, gun: str) -> TrustData:
        base = Path(trust_dir) / "tuf" / gun / "metadata"
        root = json.loads((base / "root.json").read_text())["signed"]
        data = cls(gun, root)
        for path in sorted(base.rglob("*.json")):
            role = path.relative_to(base).with_suffix("").as_posix()
            if role == TARGETS or role.startswith(TARGETS + "/"):
                data.targets[role] = json.loads(path.read_text())["signed"]
        return data

    # ------------------------------------------------------------------ roles

    def base_role_keyids(self, role: str) -> list[str]:
        """Key IDs of a top-level role as root.json lists them (root: the certificate's ID)."""
        return list(self.root.get("roles", {}).get(role, {}).get("keyids", []))

    def _children(self, parent: DelegationRole) -> list[DelegationRole]:
        signed = self.targets.get(parent.name)
        if signed is None:
            return []
        out = []
        for r in (signed.get("delegations") or {}).get("roles") or []:
            child = DelegationRole(r["name"], tuple(r.get("keyids", [])), int(r.get("threshold", 1)),
                                   tuple(r.get("paths") or ()))
            if child.name.rsplit("/", 1)[0] == parent.name:
                out.append(parent.restrict(child))
        return out

    def walk(self, target: str, role_path: str, visit: Callable[[dict[str, Any], DelegationRole], bool],
             skip: Iterable[str] = ()) -> None:
        """``Repo.WalkTargets``; ``visit`` returns True to stop the walk."""
        role_path = role_path or TARGETS
        skipped = set(skip)
        queue = [DelegationRole(TARGETS, tuple(self.base_role_keyids(TARGETS)), 1, ("",))]
        while queue:
            role = queue.pop(0)
            signed = self.targets.get(role.name)
            if signed is None:
                continue
            if role_path.startswith(role.name + "/"):
                queue.extend(self._children(role))
                continue
            ancestor = role.name == role_path or role.name.startswith(role_path + "/")
            if (not target or role.check_path(target)) and ancestor and role.name not in skipped:
                if visit(signed, role):
                    return
                queue.extend(self._children(role))

    def delegation_roles(self) -> list[DelegationRole]:
        """``GetDelegationRoles``: every delegation, key IDs translated to canonical IDs."""
        found: list[DelegationRole] = []

        def visit(signed: dict[str, Any], _: DelegationRole) -> bool:
            delegations = signed.get("delegations") or {}
            keys = delegations.get("keys") or {}
            for r in delegations.get("roles") or []:
                ids = tuple(canonical_id(PublicKey.from_dict(keys[k])) if k in keys else k for k in r.get("keyids", []))
                found.append(DelegationRole(r["name"], ids, int(r.get("threshold", 1)), tuple(r.get("paths") or ())))
            return False

        self.walk("", "", visit)
        return found

    # ------------------------------------------------------------------ targets

    @staticmethod
    def _entry(name: str, meta: dict[str, Any], role: str) -> TargetEntry:
        raw = (meta.get("hashes") or {}).get("sha256", "")
        return TargetEntry(name, base64.b64decode(raw).hex() if raw else "", int(meta.get("length", 0)), role)

    def _first_in(self, name: str, role: str, skip: list[str]) -> TargetEntry | None:
        found: list[TargetEntry] = []

        def visit(signed: dict[str, Any], valid: DelegationRole) -> bool:
            meta = (signed.get("targets") or {}).get(name)
            if meta is not None:
                found.append(self._entry(name, meta, valid.name))
                return True
            return False

        self.walk(name, role, visit, skip=skip)
        return found[0] if found else None

    def get_target(self, name: str, roles: Iterable[str] = (RELEASES, TARGETS)) -> TargetEntry | None:
        """``GetTargetByName``: the first role (in priority order) whose subtree signs ``name``."""
        roles = list(roles)
        for role in roles:
            entry = self._first_in(name, role, [r for r in roles if r != role])
            if entry is not None:
                return entry
        return None

    def all_targets(self, name: str = "") -> list[TargetEntry]:
        """``GetAllTargetMetadataByName``: one entry per role that signs ``name`` (every target if '')."""
        found: list[TargetEntry] = []

        def visit(signed: dict[str, Any], valid: DelegationRole) -> bool:
            files = signed.get("targets") or {}
            items = files.items() if not name else ([(name, files[name])] if name in files else [])
            found.extend(self._entry(n, meta, valid.name) for n, meta in items)
            return False

        self.walk(name, "", visit)
        return found


def natural_sort_key(s: str) -> tuple[tuple[int, int | str, int], ...]:
    """A key ordering like ``sortorder.NaturalLess`` (digits sort before other characters)."""
    out: list[tuple[int, int | str, int]] = []
    i = 0
    while i < len(s):
        if s[i].isdigit():
            j = i
            while j < len(s) and s[j].isdigit():
                j += 1
            digits = s[i:j]
            stripped = digits.lstrip("0")
            out.append((0, int(stripped or "0"), len(digits) - len(stripped)))
            i = j
        else:
            out.append((1, s[i], 0))
            i += 1
    return tuple(out)


def natural_less(a: str, b: str) -> bool:
    return natural_sort_key(a) < natural_sort_key(b)
