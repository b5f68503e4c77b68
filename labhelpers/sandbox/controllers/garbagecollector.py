"""The garbage collector: ownerReferences cascades (attemptToDeleteItem / processDeletingDependentsItem).

* An object none of whose owners exists any more is deleted (Background, or as its own finalizers ask).
* An object that still has a live owner only loses the references to the owners that are gone.
* An owner in foreground deletion (``foregroundDeletion`` finalizer) has its dependents deleted first; the
  finalizer is removed once no dependent with ``blockOwnerDeletion`` is left, and the owner goes.
* An owner carrying the ``orphan`` finalizer has the references to it removed from its dependents first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from ..apiserver import resources
from ..apiserver.errors import ApiError
from ..apiserver.resources import ResourceType
from ..apiserver.store import WatchEvent, rt_key
from .common import EVENT, Context, Key, deleting, log, rt_for_key, rt_for_ref

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class GarbageCollector:
    name = "garbagecollector"

    def __init__(self, ctx: Context):
        self.ctx = ctx

    # --- event mapping ---

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]:
        m = ev.obj.get("metadata", {})
        refs = m.get("ownerReferences") or []
        if ev.type == "DELETED":
            if ev.rt_key != rt_key(EVENT):  # Events own nothing; skipping them keeps namespace cleanup cheap
                yield ("owner-gone", ev.namespace, m.get("uid", ""))
            # A dependent going away may unblock an owner waiting in foreground deletion.
            for ref in refs:
                if ref.get("blockOwnerDeletion"):
                    yield ("owner", ref.get("apiVersion", ""), ref.get("kind", ""), ev.namespace,
                           ref.get("name", ""))
            return
        finalizers = m.get("finalizers") or []
        if m.get("deletionTimestamp") and (FOREGROUND in finalizers or ORPHAN in finalizers):
            yield ("owner", ev.obj.get("apiVersion", ""), ev.obj.get("kind", ""), ev.namespace, m.get("name", ""))
        if refs and ev.type == "ADDED":
            # The graph builder checks a new object's owners: a dangling reference makes it garbage.
            yield ("dependent", ev.rt_key, ev.namespace, m.get("name", ""))

    def resync_keys(self) -> Iterable[Key]:
        """Everything with owner references or a deletion finalizer (the graph builder's initial sync)."""
        for rt in self._all_rts():
            for obj in self.ctx.registry.list(rt):
                m = obj["metadata"]
                if m.get("ownerReferences"):
                    yield ("dependent", rt_key(rt), m.get("namespace", ""), m["name"])
                if m.get("deletionTimestamp") and {FOREGROUND, ORPHAN} & set(m.get("finalizers") or []):
                    yield ("owner", rt.api_version, rt.kind, m.get("namespace", ""), m["name"])

    # --- reconcile ---

    def reconcile(self, key: Key) -> float | None:
        kind = key[0]
        if kind == "owner-gone":
            for rt, dep in self._dependents(key[1], key[2]):
                self._attempt_to_delete(rt, dep)
        elif kind == "dependent":
            rt = rt_for_key(key[1])
            obj = self.ctx.registry.find(rt, key[2], key[3]) if rt else None
            if rt is not None and obj is not None:
                self._attempt_to_delete(rt, obj)
        elif kind == "owner":
            rt = resources.by_kind(key[1], key[2])
            obj = self.ctx.registry.find(rt, key[3], key[4]) if rt else None
            if rt is not None and obj is not None and deleting(obj):
                finalizers = obj["metadata"].get("finalizers") or []
                if ORPHAN in finalizers:
                    self._orphan_dependents(rt, obj)
                elif FOREGROUND in finalizers:
                    self._process_deleting_dependents(rt, obj)
        return None

    # --- helpers ---

    def _all_rts(self) -> list[ResourceType]:
        return [rt for rt in resources.all_resources() if not rt.virtual]

    def _dependents(self, namespace: str, owner_uid: str) -> list[tuple[ResourceType, dict]]:
        """Objects referring to ``owner_uid``: in its namespace, or anywhere for a cluster-scoped owner."""
        out = []
        if not owner_uid:
            return out
        for rt in self._all_rts():
            if namespace and not rt.namespaced:
                continue
            for obj in self.ctx.registry.list(rt, namespace if (namespace and rt.namespaced) else None):
                if any(r.get("uid") == owner_uid for r in obj["metadata"].get("ownerReferences") or []):
                    out.append((rt, obj))
        return out

    def _owner(self, ref: dict, dependent_ns: str) -> tuple[str, dict | None]:
        """('solid'|'dangling'|'waiting'|'unknown', owner): classifyReferences for one reference."""
        rt = rt_for_ref(ref)
        if rt is None:
            return "unknown", None  # an unresolvable kind is never treated as absent
        owner = self.ctx.registry.find(rt, dependent_ns if rt.namespaced else "", ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return "dangling", None
        if deleting(owner) and FOREGROUND in (owner["metadata"].get("finalizers") or []):
            return "waiting", owner
        return "solid", owner

    def _attempt_to_delete(self, rt: ResourceType, obj: dict) -> None:
        m = obj["metadata"]
        finalizers = m.get("finalizers") or []
        if deleting(obj) and FOREGROUND not in finalizers:
            return
        refs = m.get("ownerReferences") or []
        if not refs:
            return
        ns = m.get("namespace", "")
        solid, dangling, waiting = [], [], []
        for ref in refs:
            state, _ = self._owner(ref, ns)
            if state == "dangling":
                dangling.append(ref)
            elif state == "waiting":
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if not dangling and not waiting:
                return
            gone = {r.get("uid") for r in dangling + waiting}
            self._set_owner_refs(rt, obj, [r for r in refs if r.get("uid") not in gone])
            return
        if deleting(obj):
            return
        if waiting and self._dependents(ns if rt.namespaced else "", m.get("uid", "")):
            policy = "Foreground"
        elif ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("garbage collecting %s %s/%s (%s)", rt.kind, ns, m.get("name"), policy)
        try:
            self.ctx.registry.delete(rt, ns, m["name"], propagation=policy,
                                     preconditions={"uid": m.get("uid")})
        except ApiError as e:
            if e.code not in (404, 409):
                raise

    def _process_deleting_dependents(self, rt: ResourceType, owner: dict) -> None:
        uid = owner["metadata"]["uid"]
        deps = self._dependents(owner["metadata"].get("namespace", "") if rt.namespaced else "", uid)
        blocking = [d for d in deps
                    if any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                           for r in d[1]["metadata"].get("ownerReferences") or [])]
        if not blocking:
            self._remove_finalizer(rt, owner, FOREGROUND)
            return
        for drt, dep in deps:
            self._attempt_to_delete(drt, dep)

    def _orphan_dependents(self, rt: ResourceType, owner: dict) -> None:
        uid = owner["metadata"]["uid"]
        for drt, dep in self._dependents(owner["metadata"].get("namespace", "") if rt.namespaced else "", uid):
            refs = dep["metadata"].get("ownerReferences") or []
            self._set_owner_refs(drt, dep, [r for r in refs if r.get("uid") != uid])
        self._remove_finalizer(rt, owner, ORPHAN)

    def _set_owner_refs(self, rt: ResourceType, obj: dict, refs: list[dict]) -> None:
        obj = copy.deepcopy(obj)
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
        try:
            self.ctx.registry.update(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], obj)
        except ApiError as e:
            if e.code != 404:
                raise

    def _remove_finalizer(self, rt: ResourceType, obj: dict, finalizer: str) -> None:
        obj = copy.deepcopy(obj)
        fins = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        if fins:
            obj["metadata"]["finalizers"] = fins
        else:
            obj["metadata"].pop("finalizers", None)
        try:
            self.ctx.registry.update(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], obj)
        except ApiError as e:
            if e.code != 404:
                raise
