"""Scalar comparison of one resource value with one pattern value (Kyverno ``pattern.Validate``).

String patterns are split on every ``|`` (OR) and then on every ``&`` (AND); each piece may start with an
operator (``>=``, ``<=``, ``>``, ``<``, ``!``) or be a range (``1-10``, ``1!-10``). Each piece is compared
as a duration, else as a quantity, else (only ``!`` and equality) as a wildcard string. Missing values
arrive as ``None`` and count as ``0`` in numeric comparisons, so ``"<5"`` accepts an absent field.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any

from ...gofmt import format_float_e, parse_float, parse_int
from . import wildcard
from .duration import parse_duration
from .quantity import parse_quantity


class Operator(StrEnum):
    EQUAL = ""
    MORE_EQUAL = ">="
    LESS_EQUAL = "<="
    NOT_EQUAL = "!"
    MORE = ">"
    LESS = "<"
    IN_RANGE = "-"
    NOT_IN_RANGE = "!-"


_BOUND = r"([-|+]?[0-9]+(?:\.[0-9]+)?[A-Za-z]*)"
IN_RANGE_RE = re.compile(_BOUND + "-" + _BOUND)
NOT_IN_RANGE_RE = re.compile(_BOUND + "!-" + _BOUND)
_PREFIXES = (Operator.MORE_EQUAL, Operator.LESS_EQUAL, Operator.MORE, Operator.LESS, Operator.NOT_EQUAL)


def operator_from_pattern(pattern: str) -> Operator:
    """``operator.GetOperatorFromStringPattern`` (Go measures the length in bytes)."""
    if len(pattern.encode()) < 2:
        return Operator.EQUAL
    for op in _PREFIXES:
        if pattern.startswith(op.value):
            return op
    if NOT_IN_RANGE_RE.fullmatch(pattern):
        return Operator.NOT_IN_RANGE
    if IN_RANGE_RE.fullmatch(pattern):
        return Operator.IN_RANGE
    return Operator.EQUAL


def validate_value(value: Any, pattern: Any) -> bool:
    """``pattern.Validate(value, pattern)``; ``int`` stands for a Go integer, ``float`` for float64."""
    if isinstance(pattern, bool):
        return isinstance(value, bool) and value == pattern
    if isinstance(pattern, int):
        return _int_pattern(value, pattern)
    if isinstance(pattern, float):
        return _float_pattern(value, pattern)
    if pattern is None:
        return _nil_pattern(value)
    if isinstance(pattern, dict):
        return isinstance(value, dict)  # only the type; the tree walk checks the content
    if isinstance(pattern, str):
        return validate_string_patterns(value, pattern)
    return False  # arrays (and anything else) are never scalar patterns


def _int_pattern(value: Any, pattern: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == pattern
    if isinstance(value, float):
        return value == math.trunc(value) and _go_float_to_int64(value) == pattern
    if isinstance(value, str):
        try:
            return parse_int(value) == pattern
        except ValueError:
            return False
    return False


def _float_pattern(value: Any, pattern: float) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return pattern == math.trunc(pattern) and _go_float_to_int64(pattern) == value
    if isinstance(value, float):
        return value == pattern
    if isinstance(value, str):
        try:
            return parse_float(value) == pattern
        except ValueError:
            return False
    return False


def _go_float_to_int64(f: float) -> int | None:
    """``int64(f)``; out-of-range conversions are implementation-defined in Go, treated here as no match."""
    if math.isinf(f) or math.isnan(f) or not -(2.0**63) <= f < 2.0**63:
        return None
    return int(f)


def _nil_pattern(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str):
        return value == ""
    return False


def validate_string_patterns(value: Any, pattern: str) -> bool:
    """``validateStringPatterns``: the whole-string shortcut, then ``|`` of ``&`` of single patterns."""
    if isinstance(value, str) and value == pattern:
        return True
    return any(
        all(validate_string_pattern(value, piece.strip(" ")) for piece in alternative.strip(" ").split("&"))
        for alternative in pattern.split("|")
    )


def validate_string_pattern(value: Any, pattern: str) -> bool:
    """One operator piece (``validateStringPattern``); only ASCII spaces were trimmed by the caller."""
    op = operator_from_pattern(pattern)
    if op is Operator.IN_RANGE:
        m = IN_RANGE_RE.fullmatch(pattern)
        return bool(m) and validate_string_pattern(value, f">= {m[1]}") and validate_string_pattern(
            value, f"<= {m[2]}"
        )
    if op is Operator.NOT_IN_RANGE:
        m = NOT_IN_RANGE_RE.fullmatch(pattern)
        return bool(m) and (
            validate_string_pattern(value, f"< {m[1]}") or validate_string_pattern(value, f"> {m[2]}")
        )
    return compare(value, _go_trim_space(pattern[len(op.value):]), op)


def compare(value: Any, pattern: str, op: Operator) -> bool:
    """``validateString``: duration first, then quantity, then (``=``/``!`` only) wildcard string."""
    for parse in (parse_duration, parse_quantity):
        result = _compare_parsed(value, pattern, op, parse)
        if result is not None:
            return result
    return _compare_string(value, pattern, op)


def _compare_parsed(value: Any, pattern: str, op: Operator, parse: Any) -> bool | None:
    """None when the pattern or the value does not parse (the comparison is "not processed")."""
    try:
        p = parse(pattern)
        v = parse(_number_to_string(value))
    except ValueError:
        return None
    return {
        Operator.EQUAL: v == p,
        Operator.NOT_EQUAL: v != p,
        Operator.MORE: v > p,
        Operator.LESS: v < p,
        Operator.MORE_EQUAL: v >= p,
        Operator.LESS_EQUAL: v <= p,
    }.get(op)


def _number_to_string(value: Any) -> str:
    """``convertNumberToString``: absent counts as ``"0"``, floats print as ``%f``."""
    if value is None:
        return "0"
    if isinstance(value, bool):
        raise ValueError(f"could not convert {value} to string")
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:f}"
    if isinstance(value, int):
        return str(value)
    raise ValueError(f"could not convert {value!r} to string")


def _compare_string(value: Any, pattern: str, op: Operator) -> bool:
    if op not in (Operator.EQUAL, Operator.NOT_EQUAL):
        return False  # >, <, >=, <= never apply to plain strings
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = format_float_e(value)  # 1.0 -> "1E+00"
    else:
        return False
    matched = wildcard.match(pattern, text)
    return not matched if op is Operator.NOT_EQUAL else matched


_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _go_trim_space(s: str) -> str:
    """``strings.TrimSpace`` (Unicode White_Space)."""
    return s.strip(_GO_SPACE)
