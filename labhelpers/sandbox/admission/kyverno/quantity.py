"""apimachinery's ``resource.ParseQuantity`` reduced to the exact value Kyverno compares with ``Cmp``.

The grammar is apimachinery's, quirks included: a bare suffix such as ``"m"`` or ``"Ki"`` parses as zero,
``"1e3"``/``"1E+3"`` use a decimal exponent while ``"1E"`` is exa, values are rounded away from zero to
nano precision and capped at ±(2**63-1). The kubernetes Python client's ``parse_quantity`` differs on
these, hence this port.
"""

from __future__ import annotations

from fractions import Fraction

from ...gofmt import parse_int

_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_CHARS = "eEinumkKMGTP"
_NANO = Fraction(1, 10**9)
_MAX = (1 << 63) - 1


def _digits(s: str, i: int) -> int:
    while i < len(s) and "0" <= s[i] <= "9":
        i += 1
    return i


def _split(s: str) -> tuple[bool, str, str, str, str]:
    """``parseQuantityString``: (positive, value, num, denom, suffix)."""
    positive, pos, end = True, 0, len(s)
    if s[:1] == "-":
        positive, pos = False, 1
    elif s[:1] == "+":
        pos = 1
    while pos < end and s[pos] == "0":  # leading zeros
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    i = _digits(s, pos)
    num = s[pos:i]
    if i >= end:
        return positive, s, num, "", ""
    pos = i
    num = num or "0"
    denom = ""
    if s[pos] == ".":
        pos += 1
        i = _digits(s, pos)
        denom = s[pos:i]
        if i >= end:
            return positive, s, num, denom, ""
        pos = i
    value = s[:pos]
    start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, s[start:]
    if s[pos] in "+-":
        pos += 1
    if _digits(s, pos) >= end:
        return positive, value, num, denom, s[start:]
    raise ValueError("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix; :class:`ValueError` when unknown."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], "DecimalSI"
    if suffix in _BINARY:
        return 2, _BINARY[suffix], "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE":
        exp = parse_int(suffix[1:])  # Go then truncates to int32
        exp = (exp + (1 << 31)) % (1 << 32) - (1 << 31)
        return 10, exp, "DecimalExponent"
    raise ValueError("unable to parse quantity's suffix")


def _decimal_string(value: str) -> tuple[int, int]:
    """``inf.Dec.SetString`` of the numeric part: (unscaled, scale) meaning unscaled × 10**-scale."""
    sign = -1 if value[:1] == "-" else 1
    body = value[1:] if value[:1] in "+-" else value
    whole, dot, frac = body.partition(".")
    if not (whole + frac) or not (whole + frac).isdigit() or not (whole + frac).isascii():
        raise ValueError("unable to parse quantity's numeric part")
    return sign * int(whole + frac), len(frac) if dot else 0


def parse_quantity(s: str) -> Fraction:
    """The exact value of quantity ``s``; :class:`ValueError` where ``ParseQuantity`` fails."""
    if s == "":
        raise ValueError("quantities must match the regular expression")
    if s == "0":
        return Fraction(0)
    positive, value, num, denom, suffix = _split(s)
    base, exponent, fmt = _interpret(suffix)
    mantissa, scale, precision = 1, 0, 0
    if fmt == "BinarySI":
        if exponent >= 0 and not denom:
            mantissa = 1 << exponent
            precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        else:
            precision = -1
    else:
        scale = exponent
        precision = 18 - (len(num) + len(denom))
    if precision >= 0:
        scale -= len(denom)
        if scale >= -9:
            n = parse_int(num + denom) * mantissa  # int64Multiply; on overflow Go takes the slow path
            if -_MAX - 1 <= n <= _MAX:
                n = n if positive else -n
                return Fraction(n) * Fraction(10) ** scale
    return _slow_path(value, base, exponent)


def _slow_path(value: str, base: int, exponent: int) -> Fraction:
    unscaled, dec_scale = _decimal_string(value)
    if unscaled == 0:
        return Fraction(0)
    negative = unscaled < 0
    unscaled = abs(unscaled)
    if base == 2:
        amount = Fraction(unscaled * (1 << exponent), 10**dec_scale)
    else:
        magnitude = len(str(unscaled)) + exponent - dec_scale  # amount < 10**magnitude
        if magnitude - 1 >= 19:
            amount = Fraction(_MAX + 1)  # certainly above the cap
        elif magnitude <= -9:
            amount = _NANO  # below one nano: rounded up to it
        else:
            amount = Fraction(unscaled) * Fraction(10) ** (exponent - dec_scale)
    if amount.denominator != 1 and (amount / _NANO).denominator != 1:
        amount = Fraction(-((-amount) // _NANO)) * _NANO  # round up to a multiple of 1e-9
    amount = min(amount, Fraction(_MAX))
    return -amount if negative else amount
