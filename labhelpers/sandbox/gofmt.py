"""Go formatting and parsing primitives that leak into Kyverno's behaviour and messages.

Resources and patterns are decoded JSON, so the Go types are: ``map[string]interface {}``, ``[]interface {}``,
``string``, ``bool``, ``<nil>``, ``int64`` (whole numbers in a resource) and ``float64``. Python ``int`` stands
for ``int64`` and ``float`` for ``float64``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def go_type(v: Any) -> str:
    """``%T`` of a decoded JSON value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return type(v).__name__


def format_value(v: Any) -> str:
    """``%v`` of a decoded JSON value (maps print with sorted keys, as ``fmt`` does)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float_g(v)
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{format_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(format_value(x) for x in v) + "]"
    return str(v)


def _shortest_digits(v: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``|v|`` (what strconv's shortest mode and Python's ``repr`` both produce)
    and the decimal-point position: ``0.ds × 10**dp``."""
    _, digits, exp = Decimal(repr(abs(v))).as_tuple()
    ds = "".join(map(str, digits))
    stripped = ds.rstrip("0")
    if not stripped:
        return "0", 1
    exp = int(exp) + len(ds) - len(stripped)
    ds = stripped.lstrip("0")
    return ds, len(ds) + exp


def _special(v: float) -> str | None:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return None


def _sign(v: float) -> str:
    return "-" if math.copysign(1.0, v) < 0 else ""


def _exp_form(ds: str, exp: int, letter: str) -> str:
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{mant}{letter}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def format_float_e(v: float) -> str:
    """``strconv.FormatFloat(v, 'E', -1, 64)``: shortest digits, always in exponent form (``1E+00``)."""
    special = _special(v)
    if special:
        return special
    ds, dp = _shortest_digits(v)
    return _sign(v) + _exp_form(ds, 0 if ds == "0" else dp - 1, "E")


def format_float_g(v: float) -> str:
    """``%v`` of a float64 (``%g``, shortest): exponent form when the exponent is below -4 or at least 6,
    so ``1e+06`` but ``100000``."""
    special = _special(v)
    if special:
        return special
    ds, dp = _shortest_digits(v)
    if ds == "0":
        return _sign(v) + "0"
    exp = dp - 1
    if exp < -4 or exp >= 6:
        return _sign(v) + _exp_form(ds, exp, "e")
    if dp <= 0:
        return f"{_sign(v)}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return _sign(v) + ds + "0" * (dp - len(ds))
    return f"{_sign(v)}{ds[:dp]}.{ds[dp:]}"


_PARSE_INT_RE = re.compile(r"[+-]?[0-9]+")
_DEC_FLOAT_RE = re.compile(
    r"[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?"
)
_HEX_FLOAT_RE = re.compile(
    r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.(?:[0-9a-fA-F](?:_?[0-9a-fA-F])*)?)?[pP][+-]?[0-9](?:_?[0-9])*"
)
_SPECIAL_FLOAT_RE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def parse_int(s: str) -> int:
    """``strconv.ParseInt(s, 10, 64)``: ASCII digits with an optional sign, no spaces or underscores."""
    if not _PARSE_INT_RE.fullmatch(s):
        raise ValueError(f'strconv.ParseInt: parsing "{s}": invalid syntax')
    n = int(s)
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise ValueError(f'strconv.ParseInt: parsing "{s}": value out of range')
    return n


def parse_float(s: str) -> float:
    """``strconv.ParseFloat(s, 64)``: Go float literal syntax (underscores between digits, hex with ``p``
    exponent, ``inf``/``infinity``/``nan``); out-of-range values are errors, as Kyverno treats them."""
    if _SPECIAL_FLOAT_RE.fullmatch(s):
        return float(s.lower().replace("infinity", "inf"))
    if _DEC_FLOAT_RE.fullmatch(s):
        f = float(s.replace("_", ""))
    elif _HEX_FLOAT_RE.fullmatch(s):
        body = s.replace("_", "")
        neg = body.startswith("-")
        body = body.lstrip("+-")
        mant, _, exp = body[2:].lower().partition("p")
        f = float.fromhex(("-" if neg else "") + "0x" + (mant or "0") + "p" + exp)
    else:
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": invalid syntax')
    if f in (float("inf"), float("-inf")):
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": value out of range')
    return f
