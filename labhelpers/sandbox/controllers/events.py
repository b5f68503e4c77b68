"""core/v1 Events the way client-go's ``record.EventRecorder`` writes them, with its ``EventCorrelator``.

The correlator is why ``kubectl describe`` shows ``(x3 over 95s)``: an identical event (same source,
involvedObject, type, reason and message) patches count and lastTimestamp of the first one instead of creating
another object; ten distinct messages for one reason within ten minutes collapse into a
``(combined from similar events): ...`` event; and a token bucket (burst 25, one more every five minutes) stops
one source from flooding one object.
"""

from __future__ import annotations

import collections
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..apiserver import codec
from ..apiserver.errors import ApiError
from ..apiserver.objects import Registry
from .common import EVENT, object_reference, rfc3339, rt_for_ref

log = logging.getLogger("labhelpers.sandbox.events")

LRU_ENTRIES = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL_SECONDS = 600
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0


class _LRU(collections.OrderedDict):
    def __init__(self, size: int = LRU_ENTRIES):
        super().__init__()
        self.size = size

    def get_(self, key: str) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class _Observation:
    count: int
    first_timestamp: str
    name: str


@dataclass
class _Aggregate:
    local_keys: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    last: float


def _event_key(ev: dict) -> str:
    src, io = ev.get("source", {}), ev["involvedObject"]
    return "".join([src.get("component", ""), src.get("host", ""), io.get("kind", ""), io.get("namespace", ""),
                    io.get("name", ""), io.get("fieldPath", ""), io.get("uid", ""), io.get("apiVersion", ""),
                    ev.get("type", ""), ev.get("reason", ""), ev.get("message", "")])


def _spam_key(ev: dict) -> str:
    src, io = ev.get("source", {}), ev["involvedObject"]
    return "".join([src.get("component", ""), src.get("host", ""), io.get("kind", ""), io.get("namespace", ""),
                    io.get("name", ""), io.get("uid", ""), io.get("apiVersion", "")])


def _aggregate_key(ev: dict) -> str:
    src, io = ev.get("source", {}), ev["involvedObject"]
    return "".join([src.get("component", ""), src.get("host", ""), io.get("kind", ""), io.get("namespace", ""),
                    io.get("name", ""), io.get("uid", ""), io.get("apiVersion", ""), ev.get("type", ""),
                    ev.get("reason", ""), ev.get("reportingComponent", ""), ev.get("reportingInstance", "")])


class EventRecorder:
    """Records Events through the Registry (so admission and the namespace lifecycle apply, as for any client).

    Timestamps come from the registry's clock, the one object timestamps and ``kubectl`` ages use.
    """

    def __init__(self, registry: Registry, clock: Callable[[], float] | None = None):
        self.registry = registry
        self.clock = clock or registry.clock
        self._observed = _LRU()
        self._aggregates = _LRU()
        self._buckets = _LRU()
        self._last_nanos = 0

    def record(self, obj: dict, type_: str, reason: str, message: str, component: str,
               field_path: str = "", host: str = "") -> dict | None:
        """Record one event about ``obj``; returns the stored Event, or None when dropped. Never raises."""
        try:
            return self._record(obj, type_, reason, message, component, field_path, host)
        except Exception:  # an event must never break the caller, as in client-go (errors are only logged)
            log.exception("could not record event %s for %s", reason, obj.get("metadata", {}).get("name"))
            return None

    def _record(self, obj: dict, type_: str, reason: str, message: str, component: str,
                field_path: str, host: str) -> dict | None:
        rt = rt_for_ref({"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", "")})
        if rt is None:
            log.warning("no resource type for %s %s", obj.get("apiVersion"), obj.get("kind"))
            return None
        ref = object_reference(obj, rt)
        if field_path:
            ref["fieldPath"] = field_path
        now = self.clock()
        event = self._make_event(ref, type_, reason, message, component, host, now)
        # EventCorrelate: aggregate, observe (the count advances even for a dropped event), then filter.
        event, key = self._aggregate(event, now)
        obs = self._observed.get_(key)
        if obs is not None:
            event["metadata"]["name"] = obs.name
            event["firstTimestamp"] = obs.first_timestamp
            event["count"] = obs.count + 1
        self._observed.put(key, _Observation(event["count"], event["firstTimestamp"], event["metadata"]["name"]))
        if self._spam_filtered(event, now):
            log.debug("event dropped by the spam filter: %s %s", reason, message)
            return None
        stored = self._patch(event) if event["count"] > 1 else self._create(event)
        if stored is not None:
            # updateState: remember what the server holds, keyed by the stored event
            self._observed.put(_event_key(stored), _Observation(stored.get("count", 1),
                                                                stored.get("firstTimestamp", ""),
                                                                stored["metadata"]["name"]))
        return stored

    # --- building ---

    def _unique_nanos(self, now: float) -> int:
        nanos = int(now * 1e9)
        if self.clock is time.time:
            nanos = max(nanos, time.time_ns())
        if nanos <= self._last_nanos:
            nanos = self._last_nanos + 1
        self._last_nanos = nanos
        return nanos

    def _make_event(self, ref: dict, type_: str, reason: str, message: str, component: str, host: str,
                    now: float) -> dict:
        ts = rfc3339(now)
        source: dict[str, str] = {"component": component}
        if host:
            source["host"] = host
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{ref.get('name', '')}.{self._unique_nanos(now):x}",
                         "namespace": ref.get("namespace") or "default"},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }

    # --- the correlator ---

    def _spam_filtered(self, event: dict, now: float) -> bool:
        key = _spam_key(event)
        b = self._buckets.get_(key)
        if b is None:
            b = _Bucket(float(SPAM_BURST), now)
        b.tokens = min(float(SPAM_BURST), b.tokens + (now - b.last) * SPAM_QPS)
        b.last = now
        self._buckets.put(key, b)
        if b.tokens < 1.0:
            return True
        b.tokens -= 1.0
        return False

    def _aggregate(self, event: dict, now: float) -> tuple[dict, str]:
        """``EventAggregator.EventAggregate``: past ten distinct messages, one combined event takes over."""
        akey = _aggregate_key(event)
        rec = self._aggregates.get_(akey)
        if rec is None or now - rec.last > AGGREGATE_INTERVAL_SECONDS:
            rec = _Aggregate()
        rec.local_keys.add(event["message"])
        rec.last = now
        self._aggregates.put(akey, rec)
        if len(rec.local_keys) < AGGREGATE_MAX_EVENTS:
            return event, _event_key(event)
        rec.local_keys.pop()
        combined = copy.deepcopy(event)
        combined["message"] = "(combined from similar events): " + event["message"]
        return combined, akey

    # --- writing ---

    def _create(self, event: dict) -> dict | None:
        ns = event["metadata"]["namespace"]
        try:
            return self.registry.create(EVENT, ns, copy.deepcopy(event))
        except ApiError as e:
            log.info("event %s/%s rejected: %s", ns, event["metadata"]["name"], e.message)
            return None

    def _patch(self, event: dict) -> dict | None:
        ns, name = event["metadata"]["namespace"], event["metadata"]["name"]
        body = {"count": event["count"], "lastTimestamp": event["lastTimestamp"], "message": event["message"]}
        try:
            obj, _ = self.registry.patch(EVENT, ns, name, codec.MERGE_PATCH, body)
            return obj
        except ApiError as e:
            if e.code != 404:
                log.info("event %s/%s patch failed: %s", ns, name, e.message)
                return None
        # The event is gone (namespace cleanup, TTL): client-go re-creates it under the same name and count.
        return self._create(event)
