"""Go's ``time.ParseDuration``, which Kyverno tries first for every operator comparison.

Accepted: ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`` with units ns, us, µs, μs, ms, s, m, h, or the bare ``0``.
A number without a unit (other than ``0``) is an error, which is why ``"5"`` falls through to the quantity
comparison. The fraction is folded in with float64 arithmetic, exactly as Go does.
"""

from __future__ import annotations

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 micro sign
    "\u03bcs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_LIMIT = 1 << 63


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


def parse_duration(s: str) -> int:
    """Nanoseconds, or :class:`ValueError` where Go returns an error."""
    orig = s
    bad = ValueError(f'time: invalid duration "{orig}"')
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise bad
    total = 0
    while s:
        if not (s[0] == "." or _digit(s[0])):
            raise bad
        i, v = 0, 0
        while i < len(s) and _digit(s[i]):  # leadingInt
            if v > _LIMIT // 10:
                raise bad
            v = v * 10 + int(s[i])
            if v > _LIMIT:
                raise bad
            i += 1
        pre = i > 0
        s = s[i:]
        post, f, scale = False, 0, 1.0
        if s and s[0] == ".":  # leadingFraction: extra digits past int64 precision are ignored
            s = s[1:]
            i, overflow = 0, False
            while i < len(s) and _digit(s[i]):
                if not overflow:
                    if f > (_LIMIT - 1) // 10:
                        overflow = True
                    else:
                        y = f * 10 + int(s[i])
                        if y > _LIMIT:
                            overflow = True
                        else:
                            f, scale = y, scale * 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise bad
        i = 0
        while i < len(s) and not (s[i] == "." or _digit(s[i])):
            i += 1
        if i == 0:
            raise ValueError(f'time: missing unit in duration "{orig}"')
        unit = _UNITS.get(s[:i])
        if unit is None:
            raise ValueError(f'time: unknown unit "{s[:i]}" in duration "{orig}"')
        s = s[i:]
        if v > _LIMIT // unit:
            raise bad
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > _LIMIT:
                raise bad
        total += v
        if total > _LIMIT:
            raise bad
    if neg:
        return -total
    if total > _LIMIT - 1:
        raise bad
    return total
