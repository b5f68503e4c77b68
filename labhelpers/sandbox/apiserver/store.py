"""Object storage: SQLite for durability, an in-memory event log for watches.

The server is one asyncio process, and every store call below is synchronous, so each read-modify-write runs
without interleaving: optimistic concurrency (resourceVersion) is enough for correctness, exactly as etcd's
compare-and-swap is for kube-apiserver.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .resources import ResourceType

# How many events a watch can replay from; older resourceVersions get 410 Expired, like etcd compaction.
HISTORY = 5000


@dataclass
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    rt_key: str
    namespace: str
    obj: dict
    rv: int


def rt_key(rt: ResourceType) -> str:
    return f"{rt.group}/{rt.version}/{rt.plural}"


class Watcher:
    """One open watch: a queue the store feeds and a filter it applies."""

    def __init__(self, key: str, namespace: str | None, predicate: Callable[[dict], bool] | None):
        self.key = key
        self.namespace = namespace
        self.predicate = predicate
        self.queue: asyncio.Queue[WatchEvent] = asyncio.Queue()

    def wants(self, ev: WatchEvent) -> bool:
        if ev.rt_key != self.key:
            return False
        return self.namespace is None or ev.namespace == self.namespace


class Store:
    def __init__(self, path: Path | str):
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS objects (rt TEXT, namespace TEXT, name TEXT, rv INTEGER, data TEXT,"
            " PRIMARY KEY (rt, namespace, name))"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = self.db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        self.rv = int(row[0]) if row else 1
        # Watches can resume from any rv at or after this one (the event log starts empty at each start).
        self.oldest_rv = self.rv
        self.history: collections.deque[WatchEvent] = collections.deque(maxlen=HISTORY)
        self.watchers: set[Watcher] = set()
        self.listeners: list[Callable[[WatchEvent], None]] = []

    # --- reads ---

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict | None:
        row = self.db.execute(
            "SELECT data FROM objects WHERE rt=? AND namespace=? AND name=?", (rt_key(rt), namespace, name)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, rt: ResourceType, namespace: str | None = None) -> list[dict]:
        if namespace is None:
            rows = self.db.execute(
                "SELECT data FROM objects WHERE rt=? ORDER BY namespace, name", (rt_key(rt),)
            ).fetchall()
        else:
            rows = self.db.execute(
                "SELECT data FROM objects WHERE rt=? AND namespace=? ORDER BY name", (rt_key(rt), namespace)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count_in_namespace(self, namespace: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM objects WHERE namespace=?", (namespace,)).fetchone()[0]

    def keys_in_namespace(self, namespace: str) -> list[tuple[str, str]]:
        return self.db.execute("SELECT rt, name FROM objects WHERE namespace=?", (namespace,)).fetchall()

    # --- writes ---

    def _next_rv(self) -> int:
        self.rv += 1
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('rv', ?)", (str(self.rv),))
        return self.rv

    def create(self, rt: ResourceType, obj: dict) -> dict:
        """Persist a new object; the caller has checked it does not exist."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        ns = meta.get("namespace", "") if rt.namespaced else ""
        with self.db:
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            self.db.execute(
                "INSERT INTO objects(rt, namespace, name, rv, data) VALUES (?,?,?,?,?)",
                (rt_key(rt), ns, meta["name"], rv, json.dumps(obj)),
            )
        self._emit("ADDED", rt, ns, obj, rv)
        return obj

    def update(self, rt: ResourceType, obj: dict) -> dict:
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if rt.namespaced else ""
        with self.db:
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            self.db.execute(
                "UPDATE objects SET rv=?, data=? WHERE rt=? AND namespace=? AND name=?",
                (rv, json.dumps(obj), rt_key(rt), ns, meta["name"]),
            )
        self._emit("MODIFIED", rt, ns, obj, rv)
        return obj

    def delete(self, rt: ResourceType, namespace: str, name: str) -> dict | None:
        obj = self.get(rt, namespace, name)
        if obj is None:
            return None
        with self.db:
            rv = self._next_rv()
            obj["metadata"]["resourceVersion"] = str(rv)
            self.db.execute(
                "DELETE FROM objects WHERE rt=? AND namespace=? AND name=?", (rt_key(rt), namespace, name)
            )
        self._emit("DELETED", rt, namespace, obj, rv)
        return obj

    # --- watch ---

    def _emit(self, type_: str, rt: ResourceType, ns: str, obj: dict, rv: int) -> None:
        ev = WatchEvent(type_, rt_key(rt), ns, json.loads(json.dumps(obj)), rv)
        self.history.append(ev)
        if len(self.history) == self.history.maxlen:
            self.oldest_rv = self.history[0].rv - 1
        for w in list(self.watchers):
            if w.wants(ev):
                w.queue.put_nowait(ev)
        for listener in self.listeners:
            listener(ev)

    def replay(self, key: str, namespace: str | None, since: int) -> Iterable[WatchEvent]:
        for ev in self.history:
            if ev.rv > since and ev.rt_key == key and (namespace is None or ev.namespace == namespace):
                yield ev

    def subscribe(self, rt: ResourceType, namespace: str | None) -> Watcher:
        w = Watcher(rt_key(rt), namespace, None)
        self.watchers.add(w)
        return w

    def unsubscribe(self, w: Watcher) -> None:
        self.watchers.discard(w)

    def close(self) -> None:
        self.db.close()
