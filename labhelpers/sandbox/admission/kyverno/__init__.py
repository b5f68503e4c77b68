"""Kyverno-compatible validation engine core: pure logic, no I/O.

Modules, bottom-up:

* :mod:`.wildcard` – ``*``/``?`` matching (``ext/wildcard``) and wildcard label/annotation keys.
* :mod:`.duration`, :mod:`.quantity`, :mod:`.gofmt` – the Go/apimachinery primitives Kyverno leans on.
* :mod:`.operators` – scalar comparison (``pattern.Validate``): ``!``, ``>``, ranges, ``|``, ``&``.
* :mod:`.anchors` – anchor parsing, the anchor handlers and anchor errors.
* :mod:`.pattern` – the tree walk (``validate.MatchPattern``) and rule evaluation for ``pattern``/``anyPattern``.
* :mod:`.messages` – the exact texts users see (rule messages, webhook denial, audit warnings).
"""

from .pattern import PatternResult, validate_pattern, validate_rule
from .results import RuleResult, RuleStatus

__all__ = ["PatternResult", "RuleResult", "RuleStatus", "validate_pattern", "validate_rule"]
