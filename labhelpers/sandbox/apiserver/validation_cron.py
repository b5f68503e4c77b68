"""``cron.ParseStandard`` from github.com/robfig/cron/v3 (the parser CronJob validation uses), as error texts.

Only the accept/reject decision and the exact error string matter to the apiserver: they become
``spec.schedule: Invalid value: "<schedule>": <error>``.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_BOUNDS = {
    "minute": (0, 59, {}),
    "hour": (0, 23, {}),
    "dom": (1, 31, {}),
    "month": (1, 12, {m: i + 1 for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}),
    "dow": (0, 6, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
}
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


class CronError(Exception):
    pass


def _atoi(s: str) -> int:
    """strconv.Atoi, including its error wording."""
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise CronError(f'strconv.Atoi: parsing "{s}": invalid syntax')
    n = int(s)
    if not -(2 ** 63) <= n < 2 ** 63:
        raise CronError(f'strconv.Atoi: parsing "{s}": value out of range')
    return n


def _must_parse_int(expr: str) -> int:
    try:
        num = _atoi(expr)
    except CronError as e:
        raise CronError(f"failed to parse int from {expr}: {e}") from None
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, names: dict[str, int]) -> int:
    if expr.lower() in names:
        return names[expr.lower()]
    return _must_parse_int(expr)


def _range(expr: str, lo: int, hi: int, names: dict[str, int]) -> None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _must_parse_int(range_and_step[1])
        if single:
            end = hi
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")


def _field(text: str, kind: str) -> None:
    lo, hi, names = _BOUNDS[kind]
    for expr in (p for p in text.split(",") if p):
        _range(expr, lo, hi, names)




def _parse_duration(s: str) -> None:
    """time.ParseDuration's accept/reject decision and error wording."""
    orig = s
    if s in ("0", "+0", "-0"):
        return
    if s[:1] in "+-":
        s = s[1:]
    if not s:
        raise CronError(f'time: invalid duration "{orig}"')
    while s:
        m = re.match(r"[0-9]*(?:\.[0-9]*)?", s)
        num = m.group(0) if m else ""
        if num in ("", "."):
            raise CronError(f'time: invalid duration "{orig}"')
        s = s[len(num):]
        unit = re.match(r"[^0-9.]*", s).group(0)  # type: ignore[union-attr]
        if not unit:
            raise CronError(f'time: missing unit in duration "{orig}"')
        if unit not in ("ns", "us", "µs", "μs", "ms", "s", "m", "h"):
            raise CronError(f'time: unknown unit "{unit}" in duration "{orig}"')
        s = s[len(unit):]


def parse_standard_error(spec: str) -> str | None:
    """The error string of ``cron.ParseStandard(spec)``, or None when the schedule parses."""
    try:
        _parse_standard(spec)
    except CronError as e:
        return str(e)
    return None


def _parse_standard(spec: str) -> None:
    if not spec:
        raise CronError("empty spec string")
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        i = spec.find(" ")
        eq = spec.find("=")
        name = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
        try:
            if name not in ("", "UTC", "Local"):
                ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"provided bad location {name}: unknown time zone {name}") from None
        spec = spec[i:].strip() if i >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return
        if spec.startswith("@every "):
            try:
                _parse_duration(spec[len("@every "):])
            except CronError as e:
                raise CronError(f"failed to parse duration {spec}: {e}") from None
            return
        raise CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for text, kind in zip(fields, ("minute", "hour", "dom", "month", "dow"), strict=True):
        _field(text, kind)
