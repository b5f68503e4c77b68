"""Kubernetes-flavoured CEL on top of cel-python, for ``validate.cel`` rules, ValidatingPolicies and
ValidatingAdmissionPolicies in the offline CLI.

cel-python speaks standard CEL; Kubernetes adds optional field access (``a.?b.orValue(x)``,
``a.?b.hasValue()``), which is rewritten here to ``has()``-guarded expressions before compiling. Evaluation
errors are reported with the apiserver's wording (``expression '<expr>' resulted in error: no such key: k``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celparser, evaluation


class CELError(ValueError):
    """A compile or evaluation error; ``str()`` is the text Kubernetes would show."""


_IDENT = re.compile(r"[A-Za-z0-9_.]")


def _operand_start(text: str, end: int) -> int:
    """Index where the select chain ending at ``end`` starts (identifiers, dots and bracketed parts)."""
    i = end
    while i > 0:
        c = text[i - 1]
        if _IDENT.match(c):
            i -= 1
        elif c in ")]":
            depth, j = 0, i - 1
            while j >= 0:
                depth += text[j] in ")]"
                depth -= text[j] in "(["
                if depth == 0:
                    break
                j -= 1
            i = j
        else:
            break
    return i


def _closing(text: str, open_at: int) -> int:
    depth = 0
    quote = ""
    for i in range(open_at, len(text)):
        c = text[i]
        if quote:
            if c == quote and text[i - 1] != "\\":
                quote = ""
            continue
        if c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    raise CELError("Syntax error: missing ')'")


def rewrite_optionals(expr: str) -> str:
    """``x.?f.orValue(d)`` -> ``(has(x.f) ? x.f : d)``, ``x.?f.hasValue()`` -> ``has(x.f)``,
    and a bare ``x.?f`` -> ``x.f``."""
    while (pos := expr.find(".?")) != -1:
        m = re.match(r"\.\?([A-Za-z_][A-Za-z0-9_]*)", expr[pos:])
        if not m:
            raise CELError(f"Syntax error: unexpected '.?' in {expr!r}")
        start = _operand_start(expr, pos)
        operand, field = expr[start:pos], m.group(1)
        after = pos + m.end()
        target = f"{operand}.{field}"
        if expr.startswith(".orValue(", after):
            close = _closing(expr, after + len(".orValue"))
            default = expr[after + len(".orValue("):close]
            expr = f"{expr[:start]}(has({target}) ? {target} : {default}){expr[close + 1:]}"
        elif expr.startswith(".hasValue()", after):
            expr = f"{expr[:start]}has({target}){expr[after + len('.hasValue()'):]}"
        else:
            expr = f"{expr[:start]}{target}{expr[after:]}"
    return expr


_ENV = celpy.Environment()


@functools.lru_cache(maxsize=512)
def _program(expr: str) -> Any:
    try:
        return _ENV.program(_ENV.compile(rewrite_optionals(expr)))
    except celparser.CELParseError as e:
        raise CELError(f"compilation failed: {str(e).splitlines()[0]}") from None


def to_cel(value: Any) -> Any:
    return celpy.json_to_cel(value)


def to_python(value: Any) -> Any:
    if isinstance(value, celpy.celtypes.BoolType):
        return bool(value)
    if isinstance(value, celpy.celtypes.StringType):
        return str(value)
    if isinstance(value, celpy.celtypes.IntType | celpy.celtypes.UintType):
        return int(value)
    if isinstance(value, celpy.celtypes.DoubleType):
        return float(value)
    if isinstance(value, celpy.celtypes.ListType):
        return [to_python(v) for v in value]
    if isinstance(value, celpy.celtypes.MapType):
        return {to_python(k): to_python(v) for k, v in value.items()}
    return value


def _error_text(e: Exception) -> str:
    if isinstance(e, evaluation.CELEvalError):
        msg = e.args[0] if e.args else str(e)
        m = re.match(r"no such member in mapping: '([^']*)'", str(msg))
        if m:
            return f"no such key: {m.group(1)}"
        return str(msg)
    return str(e)


def evaluate(expr: str, activation: Mapping[str, Any]) -> Any:
    """Evaluate with an activation of plain JSON values; returns a plain Python value."""
    program = _program(expr)
    try:
        result = program.evaluate({k: v if isinstance(v, celpy.celtypes.MapType) else to_cel(v)
                                   for k, v in activation.items()})
    except (evaluation.CELEvalError, TypeError, KeyError, ValueError) as e:
        raise CELError(f"expression '{expr.strip()}' resulted in error: {_error_text(e)}") from None
    if isinstance(result, evaluation.CELEvalError):
        raise CELError(f"expression '{expr.strip()}' resulted in error: {_error_text(result)}")
    return to_python(result)


@dataclass(frozen=True)
class Decision:
    """One validation's outcome: ``admit``, ``deny`` or ``error``, with the message the apiserver shows."""

    action: str
    message: str = ""
    reason: str = ""
    index: int = -1


def bind_variables(variables: list[Mapping[str, Any]], activation: dict[str, Any]) -> dict[str, Any]:
    """Evaluate ``variables`` in order into ``activation['variables']`` (a later one may use an earlier one).
    A failing variable is left out; expressions that use it then fail with ``no such key``."""
    bound: dict[str, Any] = {}
    activation = dict(activation)
    for var in variables or []:
        activation["variables"] = bound
        try:
            bound[var["name"]] = evaluate(var["expression"], activation)
        except CELError:
            continue
    activation["variables"] = bound
    return activation


def validate(validations: list[Mapping[str, Any]], activation: Mapping[str, Any],
             default_message: str = "") -> list[Decision]:
    """``validating.Validator``: every validation, in order (callers usually stop at the first deny)."""
    out = []
    for i, v in enumerate(validations or []):
        expr = v.get("expression", "")
        try:
            ok = evaluate(expr, activation)
        except CELError as e:
            out.append(Decision("error", str(e), index=i))
            continue
        if ok is True:
            out.append(Decision("admit", index=i))
            continue
        message = ""
        if v.get("messageExpression"):
            try:
                text = evaluate(v["messageExpression"], activation)
                if isinstance(text, str) and text.strip() and "\n" not in text.strip():
                    message = text.strip()
            except CELError:
                message = ""
        if not message:
            message = (v.get("message") or default_message or "").strip() or f"failed expression: {expr.strip()}"
        out.append(Decision("deny", message, v.get("reason") or "Invalid", index=i))
    return out


def matches_conditions(conditions: list[Mapping[str, Any]], activation: Mapping[str, Any]) -> bool:
    """``matchConditions``/``celPreconditions``: all must be true (an error counts as not matching)."""
    for c in conditions or []:
        try:
            if evaluate(c.get("expression", ""), activation) is not True:
                return False
        except CELError:
            return False
    return True
