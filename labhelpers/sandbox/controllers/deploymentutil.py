"""Deployment arithmetic shared by the deployment controller and its tests (pkg/controller/deployment/util):
the pod-template-hash, maxSurge/maxUnavailable resolution, ReplicaSet counts and the condition helpers.

Known deviation: the hash is FNV-32a over the template's canonical JSON, not over Go's spew dump of the
struct, so the 10-character suffixes differ from a real cluster's for the same template (same alphabet,
same stability).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable

from .common import find_condition, int_field, strip_empty

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SKIPPED_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                       DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"}
REVISION_HISTORY_LIMIT_CHARS = 2000
MAX_INT32 = 2 ** 31 - 1
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- pod-template-hash ---

def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """``rand.SafeEncodeString``: each byte mapped into an alphabet without vowels or look-alikes."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in s.encode())


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    """``controller.ComputeHash``: a stable hash of the pod template (plus the collision count, if any)."""
    data = json.dumps(strip_empty(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return safe_encode(str(fnv32a(data)))


def equal_ignore_hash(a: dict | None, b: dict | None) -> bool:
    """``EqualIgnoreHash``: two pod templates are the same rollout if they differ only in pod-template-hash."""
    a, b = copy.deepcopy(a or {}), copy.deepcopy(b or {})
    for t in (a, b):
        (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return strip_empty(a) == strip_empty(b)


# --- int-or-percent arithmetic (deploymentutil) ---

def scaled_value(v: int | str | None, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if v is None:
        return 0
    if isinstance(v, int):
        return v
    m = re.fullmatch(r"(\d+)%", str(v))
    if not m:
        try:
            return int(v)
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: {v!r} is not a percentage") from None
    pct = int(m.group(1)) * total / 100
    return math.ceil(pct) if round_up else math.floor(pct)


def replicas(d: dict) -> int:
    return int_field(d, "spec.replicas", 1)


def is_rolling(d: dict) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(d: dict) -> tuple[int, int]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # without this the rollout could never make progress
    return surge, unavailable


def max_surge(d: dict) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: dict) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(resolve_fenceposts(d)[1], replicas(d))


# --- ReplicaSet arithmetic ---

def rs_replicas(rs: dict | None) -> int:
    return int_field(rs, "spec.replicas", 1) if rs else 0


def rs_status(rs: dict | None, field: str) -> int:
    return int_field(rs, f"status.{field}", 0) if rs else 0


def active_rss(rss: Iterable[dict | None]) -> list[dict]:
    return [rs for rs in rss if rs is not None and rs_replicas(rs) > 0]


def revision_of(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, ""))
    except ValueError:
        return 0


def by_creation(rss: list[dict], newest_first: bool = False) -> list[dict]:
    return sorted(rss, key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]),
                  reverse=newest_first)


def has_progress_deadline(d: dict) -> bool:
    v = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
    return v is not None and v != MAX_INT32


def deployment_complete(d: dict, status: dict) -> bool:
    n = replicas(d)
    return (status.get("updatedReplicas", 0) == n and status.get("replicas", 0) == n
            and status.get("availableReplicas", 0) == n
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 0))


def deployment_progressing(d: dict, new: dict) -> bool:
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def new_condition(type_: str, status: str, reason: str, message: str, now: str) -> dict:
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: dict, cond: dict) -> None:
    """``SetDeploymentCondition``: same status and reason is a no-op; a change moves the condition last."""
    conds = status.get("conditions") or []
    cur = find_condition(conds, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond["lastTransitionTime"] = cur.get("lastTransitionTime")
    status["conditions"] = [c for c in conds if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: dict, type_: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
