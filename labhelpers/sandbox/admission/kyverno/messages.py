"""The exact texts Kyverno users see: rule messages, the webhook denial, apiserver wrapping, audit warnings.

Sources: ``pkg/engine/handlers/validation/validate_resource.go`` (rule messages),
``pkg/webhooks/utils/block.go`` (denial), ``pkg/webhooks/utils/warning.go`` (warnings),
``pkg/config`` (webhook names) and ``k8s.io/apiserver`` ``ToStatusErr`` (the apiserver prefix).

A whole denial, as ``kubectl run`` prints it::

    Error from server: admission webhook "validate.kyverno.svc-fail" denied the request: <blank line>
    resource Pod/default/bad-pod was blocked due to the following policies <blank line>
    restrict-registries:
      validate-registry: 'validation error: Images must come from approved registries.
        rule validate-registry failed at path /spec/containers/0/image/'

Use :func:`blocked_message` for the Kyverno part, :func:`admission_denial_message` for the apiserver text
(raise it with ``ApiError.admission_denied``: HTTP 400 and no reason).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .results import RuleResult, RuleStatus

# --- rule messages -----------------------------------------------------------------------------------


def _with_period(message: str) -> str:
    return message if message.endswith(".") else message + "."


def rule_pass_message(rule: str) -> str:
    return f"validation rule '{rule}' passed."


def any_pattern_pass_message(rule: str, index: int) -> str:
    return f"validation rule '{rule}' anyPattern[{index}] passed."


def rule_fail_message(rule: str, path: str, message: str = "") -> str:
    """``buildErrorMessage`` with a path: the rule failed at ``path`` (e.g. ``/spec/containers/0/image/``)."""
    if not message:
        return f"validation error: rule {rule} failed at path {path}"
    return f"validation error: {_with_period(message)} rule {rule} failed at path {path}"


def rule_error_message(rule: str, error: str, message: str = "") -> str:
    """``buildErrorMessage`` without a path: the pattern could not be applied (status ``error``)."""
    if not message:
        return f"validation error: rule {rule} execution error: {error}"
    return f"validation error: {_with_period(message)} rule {rule} execution error: {error}"


def message_substitution_error(rule: str, error: str) -> str:
    """What ``buildErrorMessage`` returns when variables in ``validate.message`` cannot be substituted."""
    return f"validation error: variables substitution error in rule {rule} execution error: {error}"


def any_pattern_failed_entry(rule: str, index: int, path: str, error: str) -> str:
    """One failed ``anyPattern`` entry: with a path, or with the error text when the path is empty."""
    if path == "":
        return f"rule {rule}[{index}] failed: {error}"
    return f"rule {rule}[{index}] failed at path {path}"


def any_pattern_skipped_entry(rule: str, index: int, error: str) -> str:
    return f"rule {rule}[{index}] skipped: {error}"


def any_pattern_fail_message(failed_entries: Iterable[str], message: str = "") -> str:
    """``buildAnyPatternErrorMessage`` (no variable substitution here, unlike the ``pattern`` case)."""
    joined = " ".join(failed_entries)
    if not message:
        return f"validation error: {joined}"
    if message.endswith("."):
        return f"validation error: {message} {joined}"
    return f"validation error: {message}. {joined}"


def any_pattern_skip_message(skipped_entries: Iterable[str]) -> str:
    return " ".join(skipped_entries)


def foreach_failure_message(element_message: str) -> str:
    """A failing ``foreach`` element; its message keeps paths relative to the element (``/image/``)."""
    return f"validation failure: {element_message}"


def deny_message(rule: str, message: str = "", condition_message: str = "") -> str:
    """``getDenyMessage`` for a denied request (substitute variables in ``message`` before calling)."""
    if not message and not condition_message:
        return f"validation error: rule {rule} failed"
    return "; ".join(m for m in (message, condition_message) if m)


# --- webhook names and the apiserver wrapping -----------------------------------------------------------


def webhook_name(kind: str = "validate", failure_policy: str = "Fail") -> str:
    """``validate.kyverno.svc-fail`` etc.; verifyImages and mutate rules answer on ``mutate.kyverno.svc-*``."""
    if kind not in ("validate", "mutate"):
        raise ValueError(f"unknown Kyverno webhook kind {kind!r}")
    return f"{kind}.kyverno.svc-{'fail' if failure_policy == 'Fail' else 'ignore'}"


def admission_denial_message(webhook: str, kyverno_message: str) -> str:
    """The Status message the apiserver builds from a webhook denial (``ToStatusErr``, code 400, no reason)."""
    return f'admission webhook "{webhook}" denied the request: {kyverno_message}'


def kubectl_error_text(apiserver_message: str, source_file: str | None = None, verb: str = "creating") -> str:
    """What kubectl prints for that Status (for notebooks and docs; the sandbox serves real kubectl).

    ``kubectl apply -f``/``create -f`` add ``error when creating "<file>": ``; an empty reason gives
    ``Error from server: `` without ``(Reason)``.
    """
    if source_file is not None:
        apiserver_message = f'error when {verb} "{source_file}": {apiserver_message}'
    return f"Error from server: {apiserver_message}"


# --- the Kyverno denial ----------------------------------------------------------------------------------

PolicyResults = Iterable[tuple[str, Iterable[RuleResult]]]


def resource_name(kind: str, namespace: str, name: str) -> str:
    """``Kind/namespace/name``; cluster-scoped resources keep the empty namespace (``Namespace//foo``)."""
    return f"{kind}/{namespace}/{name}"


def blocked_message(kind: str, namespace: str, name: str, policies: PolicyResults) -> str:
    """``GetBlockedMessages``: every non-pass, non-skip rule of the given policies, as YAML.

    ``policies`` are (policy name, rule results) for the responses that took part in the blocking decision,
    in any order; policy and rule names are sorted the way yaml.v2 sorts map keys. A namespaced ``Policy``
    appears under its bare name (``GetName()``). Returns ``""`` when nothing is left to report. The text starts with two
    newlines, has a space after ``policies`` and ends with the YAML's final newline.
    """
    failures: dict[str, dict[str, str]] = {}
    for policy, results in policies:
        reasons = {r.name: r.message for r in results if r.status not in (RuleStatus.PASS, RuleStatus.SKIP)}
        if reasons:
            failures[policy] = reasons  # same bare name twice (Policy and ClusterPolicy): the last one wins
    if not failures:
        return ""
    body = go_yaml_marshal(failures)
    return f"\n\nresource {resource_name(kind, namespace, name)} was blocked due to the following policies \n\n{body}"


def warning_messages(policies: PolicyResults) -> list[str]:
    """``GetWarningMessages``: ``policy <policy>.<rule>: <message>`` for each non-pass, non-skip rule.

    Kyverno sends these as admission warnings for policies with ``spec.emitWarning: true``; kubectl shows
    each as ``Warning: <text>``.
    """
    return [
        f"policy {policy}.{r.name}: {r.message}"
        for policy, results in policies
        for r in results
        if r.status not in (RuleStatus.PASS, RuleStatus.SKIP)
    ]


# --- yaml.v2 Marshal of map[string]map[string]string ----------------------------------------------------------


def go_yaml_marshal(data: Mapping[str, Any]) -> str:
    """``gopkg.in/yaml.v2`` ``Marshal`` of nested string maps: 2-space indent, folding after column 80,
    keys in yaml.v2's natural order, and its scalar styles (plain when possible, else single-quoted; double
    quotes for strings that would read back as another type; literal blocks for multi-line strings)."""
    return yaml.dump(_sorted(data), Dumper=_GoDumper, width=80, indent=2, allow_unicode=True,
                     default_flow_style=False, sort_keys=False)


def _sorted(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _sorted(v[k]) for k in sorted(v, key=functools.cmp_to_key(_go_key_cmp))}
    return v


def _is_letter(c: str) -> bool:
    return unicodedata.category(c).startswith("L")


def _is_digit(c: str) -> bool:
    return unicodedata.category(c) == "Nd"


def _go_key_less(a: str, b: str) -> bool:
    """yaml.v2 ``keyList.Less`` for two strings: letters by code point, digit runs numerically."""
    digits = False
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            digits = _is_digit(a[i])
            continue
        al, bl = _is_letter(a[i]), _is_letter(b[i])
        if al and bl:
            return a[i] < b[i]
        if al or bl:
            return al if digits else bl
        an = bn = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and _is_digit(a[j]):
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and _is_digit(a[ai]):
            an = an * 10 + ord(a[ai]) - 48
            ai += 1
        bi = i
        while bi < len(b) and _is_digit(b[bi]):
            bn = bn * 10 + ord(b[bi]) - 48
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)


def _go_key_cmp(a: str, b: str) -> int:
    if _go_key_less(a, b):
        return -1
    return 1 if _go_key_less(b, a) else 0


_V2_SPECIAL = {
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
    "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
    "", "~", "null", "Null", "NULL",
    ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
    "<<",
}
_V2_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO]?[0-7]*|0[bB][01]+|[1-9][0-9]*)")
_V2_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_V2_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?"
                           r"(?:Z|[-+][0-9]{2}:[0-9]{2})?)?")


def _reads_back_as_string(s: str) -> bool:
    """yaml.v2 ``resolve("", s)`` is ``!!str`` (otherwise ``stringv`` double-quotes the value)."""
    if s in _V2_SPECIAL:
        return False
    if s[:1] in "+-.0123456789":
        plain = s.replace("_", "")
        if _V2_INT.fullmatch(plain) or _V2_TIMESTAMP.fullmatch(s):
            return False
        if s[:1] != "." and _V2_FLOAT.fullmatch(plain):
            return False
        if s[:1] == "." and _V2_FLOAT.fullmatch(s):
            return False
    return True


class _GoRepresenter(yaml.representer.SafeRepresenter):
    def represent_str(self, data: str) -> yaml.ScalarNode:
        if "\n" in data:
            style = "|"
        elif not _reads_back_as_string(data):
            style = '"'
        else:
            style = None
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_GoRepresenter.add_representer(str, _GoRepresenter.represent_str)


class _GoEmitter(yaml.emitter.Emitter):
    def choose_scalar_style(self) -> str:
        """``yaml_emitter_select_scalar_style``."""
        if self.analysis is None:
            self.analysis = self.analyze_scalar(self.event.value)
        a = self.analysis
        style = self.event.style or ""
        if self.simple_key_context and a.multiline:
            style = '"'
        if style == "":
            if (self.flow_level and not a.allow_flow_plain) or (not self.flow_level and not a.allow_block_plain):
                style = "'"
            if not self.event.value and (self.flow_level or self.simple_key_context):
                style = "'"
            if not self.event.implicit[0]:
                style = "'"
        if style == "'" and not a.allow_single_quoted:
            style = '"'
        if style in ("|", ">") and (not a.allow_block or self.flow_level or self.simple_key_context):
            style = '"'
        return style


class _GoResolver(yaml.resolver.BaseResolver):
    """Plain scalars resolve the yaml.v2 way, so PyYAML's idea of implicit tags matches Go's choices."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0] and not _reads_back_as_string(value):
            return "tag:yaml.org,2002:null"  # any non-string tag: the emitter must not write it plain
        return super().resolve(kind, value, implicit)


class _GoDumper(_GoEmitter, yaml.serializer.Serializer, _GoRepresenter, _GoResolver):
    def __init__(self, stream: Any, default_style: Any = None, default_flow_style: Any = False,
                 canonical: Any = None, indent: Any = None, width: Any = None, allow_unicode: Any = None,
                 line_break: Any = None, encoding: Any = None, explicit_start: Any = None,
                 explicit_end: Any = None, version: Any = None, tags: Any = None, sort_keys: bool = True) -> None:
        _GoEmitter.__init__(self, stream, canonical=canonical, indent=indent, width=width,
                            allow_unicode=allow_unicode, line_break=line_break)
        yaml.serializer.Serializer.__init__(self, encoding=encoding, explicit_start=explicit_start,
                                            explicit_end=explicit_end, version=version, tags=tags)
        _GoRepresenter.__init__(self, default_style=default_style, default_flow_style=default_flow_style,
                                sort_keys=sort_keys)
        _GoResolver.__init__(self)
