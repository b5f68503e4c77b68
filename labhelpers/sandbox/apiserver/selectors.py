"""Label and field selectors with kube-apiserver's grammar, matching rules and 400 messages.

``kubectl get -l``, ``kubectl wait``, ``kubectl describe`` (events by ``involvedObject.*``) and
``delete namespace`` (``metadata.name``) all rely on these; a wrong selector is the user's mistake, so
the error text has to be the one they would see from a real cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, FieldError, go_quote
from .resources import ResourceType

__all__ = [
    "FieldSelector",
    "FieldTerm",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "label_value_errors",
    "new_requirement",
    "parse_field_selector",
    "parse_field_selector_strict",
    "parse_label_selector",
    "parse_label_selector_strict",
    "qualified_name_errors",
    "selector_from_label_selector",
    "selector_to_string",
]


class SelectorError(ValueError):
    """A selector apimachinery would reject; ``str()`` is apimachinery's error text."""


# --- label key / value validation (k8s.io/apimachinery/pkg/util/validation) ---

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile(f"^{_QNAME_FMT}$")
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character")
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character")
_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def qualified_name_errors(value: str) -> list[str]:
    """``validation.IsQualifiedName``: the rule for label keys."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part " + _max_len_error(253))
            if not _DNS1123_SUBDOMAIN_RE.match(prefix):
                errs.append("prefix part " + _regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT,
                                                          "example.com"))
    else:
        return ["a qualified name " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _QNAME_RE.match(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def label_value_errors(value: str) -> list[str]:
    """``validation.IsValidLabelValue``."""
    errs: list[str] = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _aggregate(messages: list[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message bare, several de-duplicated in brackets."""
    unique: list[str] = []
    for m in messages:
        if m not in unique:
            unique.append(m)
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- requirements and label selectors (k8s.io/apimachinery/pkg/labels) ---

# selection.Operator values
EXISTS, DOES_NOT_EXIST = "exists", "!"
EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
IN, NOT_IN, GREATER_THAN, LESS_THAN = "in", "notin", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_PATH_NIL = "<nil>"  # how a nil *field.Path prints: labels.Parse is called without a path


def _go_int(s: str) -> int | None:
    """``strconv.ParseInt(s, 10, 64)``."""
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        return None
    v = int(s)
    return v if -(2**63) <= v < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return has and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not has or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return has
        if self.operator == DOES_NOT_EXIST:
            return not has
        if self.operator in (GREATER_THAN, LESS_THAN):
            actual = _go_int(labels[self.key]) if has else None
            wanted = _go_int(self.values[0]) if len(self.values) == 1 else None
            if actual is None or wanted is None:
                return False
            return actual > wanted if self.operator == GREATER_THAN else actual < wanted
        return False

    def __str__(self) -> str:
        head = ("!" if self.operator == DOES_NOT_EXIST else "") + self.key
        if self.operator in (EXISTS, DOES_NOT_EXIST):
            return head
        sep = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}.get(self.operator, self.operator)
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        return f"{head}{sep}({vals})" if self.operator in (IN, NOT_IN) else f"{head}{sep}{vals}"


def new_requirement(key: str, operator: str, values: list[str] | tuple[str, ...], path: str = "") -> Requirement:
    """``labels.NewRequirement``: validates key, operator arity and every value (``path`` prefixes fields)."""
    errs: list[str] = []

    def child(name: str) -> str:
        return f"{path}.{name}" if path else name

    key_errs = qualified_name_errors(key)
    if key_errs:
        errs.append(str(FieldError.invalid(child("key"), key, "; ".join(key_errs))))
    vals = list(values)
    values_path = child("values")
    if operator in (IN, NOT_IN):
        if not vals:
            errs.append(str(FieldError.invalid(values_path, vals, "for 'in', 'notin' operators, values set can't be empty")))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(str(FieldError.invalid(values_path, vals, "exact-match compatibility requires one single value")))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(str(FieldError.invalid(values_path, vals, "values set must be empty for exists and does not exist")))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(str(FieldError.invalid(values_path, vals, "for 'Gt', 'Lt' operators, exactly one value is required")))
        for i, v in enumerate(vals):
            if _go_int(v) is None:
                errs.append(str(FieldError.invalid(f"{values_path}[{i}]", v,
                                                   "for 'Gt', 'Lt' operators, the value must be an integer")))
    else:
        supported = ", ".join(f'"{o}"' for o in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        errs.append(f'{child("operator")}: Unsupported value: "{operator}": supported values: {supported}')
    for i, v in enumerate(vals):
        value_errs = label_value_errors(v)
        if value_errs:
            errs.append(str(FieldError.invalid(f"{values_path}[{i}][{key}]", v, "; ".join(value_errs))))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, operator, tuple(vals))


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements (sorted by key, like ``internalSelector``); ``nothing`` selects no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return "" if self.nothing else ",".join(str(r) for r in self.requirements)


def _sorted_selector(reqs: list[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# Lexer tokens
_ERR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_STRING_TOKENS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "in": _IN, "<": _LT,
                  "!=": _NEQ, "notin": _NOTIN, "(": _OPEN}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, n = 0, len(s)
    while True:
        while pos < n and s[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_EOS, ""))
            return items
        if s[pos] in _SPECIAL:
            buf, last = "", None
            while pos < n and s[pos] in _SPECIAL:
                buf += s[pos]
                if buf in _STRING_TOKENS:
                    last = (_STRING_TOKENS[buf], buf)
                    pos += 1
                elif last is not None:
                    break
                else:
                    pos += 1
            items.append(last if last is not None else (_ERR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while pos < n and s[pos] not in _SPECIAL and s[pos] not in _WHITESPACE:
                pos += 1
            word = s[start:pos]
            items.append((_STRING_TOKENS.get(word, _ID), word))


class _Parser:
    """``labels.Parser``: recursive descent over pre-scanned tokens, keywords demoted to identifiers in values."""

    def __init__(self, s: str):
        self.items = _lex(s)
        self.pos = 0

    def _tok(self, i: int, values: bool) -> tuple[int, str]:
        tok, lit = self.items[i]
        if values and tok in (_IN, _NOTIN):
            tok = _ID
        return tok, lit

    def lookahead(self, values: bool = True) -> tuple[int, str]:
        return self._tok(self.pos, values)

    def consume(self, values: bool = True) -> tuple[int, str]:
        self.pos += 1
        return self._tok(self.pos - 1, values)

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self.requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self.consume()
                if t == _EOS:
                    return reqs
                if t == _COMMA:
                    t2, l2 = self.lookahead()
                    if t2 not in (_ID, _NOT):
                        raise SelectorError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        operator = ""
        tok, lit = self.consume()
        if tok == _NOT:
            operator = DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        key_errs = qualified_name_errors(lit)
        if key_errs:
            raise SelectorError(str(FieldError.invalid(_PATH_NIL, lit, "; ".join(key_errs))))
        if operator == DOES_NOT_EXIST or self.lookahead()[0] in (_EOS, _COMMA):
            # "!key=v" ends the requirement at "key"; the caller then trips over "=".
            return new_requirement(lit, operator or EXISTS, [])
        op = self.operator()
        values = self.set_values() if op in (IN, NOT_IN) else self.exact_value()
        return new_requirement(lit, op, sorted(values))

    def operator(self) -> str:
        tok, lit = self.consume(values=False)
        ops = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
               _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def set_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, _COMMA):
            values = self.identifiers()
            if self.consume()[0] != _CLOSE:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CLOSE:
            self.consume()
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                values.add(lit)
                t2, l2 = self.lookahead()
                if t2 == _COMMA:
                    continue
                if t2 == _CLOSE:
                    return values
                raise SelectorError(f"found '{l2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not values:
                    values.add("")
                t2, _ = self.lookahead()
                if t2 == _CLOSE:
                    values.add("")
                    return values
                if t2 == _COMMA:
                    self.consume()
                    values.add("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_EOS, _COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _ID:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector_strict(s: str) -> LabelSelector:
    """``labels.Parse``; raises :class:`SelectorError` with apimachinery's text."""
    return _sorted_selector(_Parser(s).parse())


def parse_label_selector(s: str) -> LabelSelector:
    """The ``labelSelector`` query parameter; a bad one is the list handler's 400 BadRequest."""
    try:
        return parse_label_selector_strict(s)
    except SelectorError as e:
        raise ApiError.bad_request(str(e)) from None


def selector_from_label_selector(ls: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: nil selects nothing, ``{}`` everything; raises :class:`SelectorError`."""
    if ls is None:
        return LabelSelector(nothing=True)
    match_labels = ls.get("matchLabels") or {}
    expressions = ls.get("matchExpressions") or []
    if not match_labels and not expressions:
        return LabelSelector()
    reqs = [new_requirement(k, EQUALS, [v]) for k, v in match_labels.items()]
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expr in expressions:
        op = expr.get("operator", "")
        if op not in ops:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
        reqs.append(new_requirement(expr.get("key", ""), ops[op], list(expr.get("values") or [])))
    return _sorted_selector(reqs)


def selector_to_string(ls: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: what the wide Selector column shows (``<none>``, ``<error>``)."""
    try:
        text = str(selector_from_label_selector(ls))
    except SelectorError:
        return "<error>"
    return text or "<none>"


# --- field selectors (k8s.io/apimachinery/pkg/fields + per-kind field label conversions) ---

@dataclass(frozen=True)
class FieldTerm:
    field: str
    value: str
    negate: bool = False

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{'!=' if self.negate else '='}{escaped}"


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[FieldTerm, ...] = ()
    fields_of: Callable[[Mapping[str, Any]], dict[str, str]] = field(default=lambda obj: {}, compare=False)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        if not self.terms:
            return True
        values = self.fields_of(obj)
        return all((values.get(t.field, "") != t.value) if t.negate else (values.get(t.field, "") == t.value)
                   for t in self.terms)

    def empty(self) -> bool:
        return not self.terms

    def requires_exact_match(self, field_name: str) -> str | None:
        for t in self.terms:
            if t.field == field_name and not t.negate:
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def _split_terms(s: str) -> list[str]:
    """Comma-separated terms; a backslash-escaped comma stays inside its term."""
    if not s:
        return []
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(s):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out, in_slash = [], False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go prints the rune with %v, i.e. its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _meta_fields(obj: Mapping[str, Any], namespaced: bool) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    out = {"metadata.name": _s(meta.get("name"))}
    if namespaced:
        out["metadata.namespace"] = _s(meta.get("namespace"))
    return out


def _pod_fields(pod: Mapping[str, Any]) -> dict[str, str]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    return {
        "spec.nodeName": _s(spec.get("nodeName")),
        "spec.restartPolicy": _s(spec.get("restartPolicy")),
        "spec.schedulerName": _s(spec.get("schedulerName")),
        "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
        "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
        "status.phase": _s(status.get("phase")),
        "status.podIP": _s(pod_ips[0].get("ip")) if pod_ips else _s(status.get("podIP")),
        "status.nominatedNodeName": _s(status.get("nominatedNodeName")),
    }


def _event_fields(ev: Mapping[str, Any]) -> dict[str, str]:
    io = ev.get("involvedObject") or {}
    out = {f"involvedObject.{k}": _s(io.get(k))
           for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    out["reason"] = _s(ev.get("reason"))
    out["reportingComponent"] = _s(ev.get("reportingComponent"))
    out["source"] = _s((ev.get("source") or {}).get("component")) or out["reportingComponent"]
    out["type"] = _s(ev.get("type"))
    return out


@dataclass(frozen=True)
class _FieldRules:
    """One kind's field label conversion (what is accepted) and selectable fields (what values are)."""

    accepted: tuple[str, ...]
    fields: Callable[[Mapping[str, Any]], dict[str, str]]
    namespaced: bool = True
    reject: Callable[[str], str] = lambda label: f"field label not supported: {label}"
    aliases: Mapping[str, str] = field(default_factory=dict)


def _status_count(obj: Mapping[str, Any], name: str) -> str:
    """An int32 status counter as ``strconv.Itoa`` renders it (unset reads 0)."""
    return str(int((obj.get("status") or {}).get(name) or 0))


# Kinds that register an AddFieldLabelConversionFunc (pkg/apis/core/v1, pkg/apis/batch/v1). apps/v1 registers
# none, so Deployments and ReplicaSets get the generic metadata-only rule like every unlisted kind.
_KIND_RULES: dict[tuple[str, str], _FieldRules] = {
    ("", "Pod"): _FieldRules(
        ("metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
         "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
         "status.nominatedNodeName"),
        _pod_fields, aliases={"spec.host": "spec.nodeName"}),
    ("", "Event"): _FieldRules(
        ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
         "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
         "reportingComponent", "source", "type", "metadata.namespace", "metadata.name"),
        _event_fields),
    ("", "Secret"): _FieldRules(("type", "metadata.namespace", "metadata.name"),
                                lambda o: {"type": _s(o.get("type"))}),
    ("", "Namespace"): _FieldRules(("status.phase", "metadata.name"),
                                   lambda o: {"status.phase": _s((o.get("status") or {}).get("phase"))},
                                   namespaced=False),
    ("", "Node"): _FieldRules(("metadata.name", "spec.unschedulable"),
                              lambda o: {"spec.unschedulable":
                                         "true" if (o.get("spec") or {}).get("unschedulable") else "false"},
                              namespaced=False),
    ("", "ReplicationController"): _FieldRules(("metadata.name", "metadata.namespace", "status.replicas"),
                                               lambda o: {"status.replicas": _status_count(o, "replicas")}),
    ("batch", "Job"): _FieldRules(("metadata.name", "metadata.namespace", "status.successful"),
                                  lambda o: {"status.successful": _status_count(o, "succeeded")},
                                  reject=lambda label: f"field label {go_quote(label)} not supported for batchv1.Job"),
}


def _rules_for(rt: ResourceType) -> _FieldRules:
    if rt.custom:
        # apiextensions' crConverter: name always, namespace only for namespaced kinds.
        accepted = ("metadata.name", "metadata.namespace") if rt.namespaced else ("metadata.name",)
        return _FieldRules(accepted, lambda o: {}, namespaced=rt.namespaced)
    rules = _KIND_RULES.get((rt.group, rt.kind))
    if rules is not None:
        return rules
    # runtime.DefaultMetaV1FieldSelectorConversion (accepts metadata.namespace even for cluster-scoped kinds).
    return _FieldRules(
        ("metadata.name", "metadata.namespace"), lambda o: {}, namespaced=rt.namespaced,
        reject=lambda label: f'{go_quote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"')


def parse_field_selector_strict(s: str, rt: ResourceType) -> FieldSelector:
    """``fields.ParseSelector`` then the kind's field label conversion; raises :class:`SelectorError`."""
    terms: list[FieldTerm] = []
    for part in sorted(_split_terms(s)):
        if part == "":
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append(FieldTerm(lhs, _unescape(rhs), negate=op == "!="))
    rules = _rules_for(rt)
    converted: list[FieldTerm] = []
    for t in terms:
        if t.field in rules.aliases:
            t = FieldTerm(rules.aliases[t.field], t.value, t.negate)
        elif t.field not in rules.accepted:
            raise SelectorError(rules.reject(t.field))
        converted.append(t)

    def fields_of(obj: Mapping[str, Any]) -> dict[str, str]:
        return {**rules.fields(obj), **_meta_fields(obj, rules.namespaced)}

    return FieldSelector(tuple(converted), fields_of)


def parse_field_selector(s: str, rt: ResourceType) -> FieldSelector:
    """The ``fieldSelector`` query parameter; parse errors and unsupported labels are a 400 BadRequest."""
    try:
        return parse_field_selector_strict(s, rt)
    except SelectorError as e:
        raise ApiError.bad_request(str(e)) from None
