"""Kyverno-compatible validation engine core: pure logic, no I/O.

Modules, bottom-up:

* :mod:`.wildcard` – ``*``/``?`` matching (``ext/wildcard``) and wildcard label/annotation keys.
* :mod:`.duration`, :mod:`.quantity`, :mod:`.gofmt` – the Go/apimachinery primitives Kyverno leans on.
* :mod:`.operators` – scalar comparison (``pattern.Validate``): ``!``, ``>``, ranges, ``|``, ``&``.
* :mod:`.anchors` – anchor parsing, the anchor handlers and anchor errors.
* :mod:`.references` – ``$(...)`` references inside a pattern.
* :mod:`.pattern` – the tree walk (``validate.MatchPattern``) and rule evaluation for ``pattern``/``anyPattern``.
* :mod:`.results` – rule statuses, the blocking decision, the UPDATE "unchanged" rule.
* :mod:`.messages` – the exact texts users see (rule messages, webhook denial, audit warnings).
* :mod:`.vpol_cel`, :mod:`.vpol`, :mod:`.vpol_engine`, :mod:`.vpol_admission` – the CEL ``ValidatingPolicy``:
  Kyverno's CEL environment on :mod:`..vap`, the CRD object, compiler and evaluator, webhooks and reports.

Typical admission flow (match/exclude, autogen and ``{{ }}`` variables happen before this)::

    result = validate_rule(rule, resource, message=substituted_message)       # RuleResult
    if should_block(results, enforce=True, failure_policy="Fail"):
        text = messages.blocked_message(kind, namespace, name, [(policy_name, results)])
        raise ApiError.admission_denied(messages.admission_denial_message(messages.webhook_name(), text))
"""

from . import messages
from .pattern import PatternResult, match_pattern, validate_pattern, validate_rule
from .results import RuleResult, RuleStatus, should_block, unchanged_update_result

__all__ = [
    "PatternResult",
    "RuleResult",
    "RuleStatus",
    "match_pattern",
    "messages",
    "should_block",
    "unchanged_update_result",
    "validate_pattern",
    "validate_rule",
]
