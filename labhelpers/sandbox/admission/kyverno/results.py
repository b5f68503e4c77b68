"""Rule outcomes as Kyverno's engine and policy reports name them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class RuleStatus(StrEnum):
    """``engineapi.RuleStatus``; the values are the PolicyReport ``result`` strings."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"
    SKIP = "skip"


@dataclass(frozen=True)
class RuleResult:
    """One rule's response: the rule name as reported (``autogen-…`` for controllers), status and message."""

    name: str
    status: RuleStatus
    message: str


def should_block(results: Iterable[RuleResult], enforce: bool, failure_policy: str = "Fail") -> bool:
    """``engineutils.BlockRequest`` for one policy's response.

    A ``fail`` blocks when the policy (or rule) is in Enforce mode; an ``error`` blocks whenever the
    policy's ``failurePolicy`` is ``Fail`` (the default). ``skip`` and ``pass`` never block. Kyverno only
    evaluates Enforce policies in the blocking path; Audit ones go to reports (and warnings).
    """
    statuses = {r.status for r in results}
    if RuleStatus.FAIL in statuses and enforce:
        return True
    return RuleStatus.ERROR in statuses and failure_policy == "Fail"


UNCHANGED_ON_UPDATE = "skipping modified resource as validation results have not changed"


def unchanged_update_result(new: RuleResult, old: RuleResult | None) -> RuleResult:
    """UPDATE requests: Kyverno also evaluates the rule on the old object (``validateOldObject``); when both
    responses are identical (name, status, message) a non-pass result becomes a skip, so an object that was
    already violating can still be modified."""
    if old is None or (new.name, new.status, new.message) != (old.name, old.status, old.message):
        return new
    if new.status is RuleStatus.PASS:
        return new
    return RuleResult(new.name, RuleStatus.SKIP, UNCHANGED_ON_UPDATE)
