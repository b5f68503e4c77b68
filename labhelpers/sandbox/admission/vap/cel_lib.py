"""Kubernetes' CEL libraries for celpy: the functions kube-apiserver's admission environment declares.

Standard functions (size, conversions, matches), ext.Strings, ext.Sets, optionals, and Kubernetes' lists,
regex, url, quantity and authorizer libraries, each dispatching on its receiver's run-time type. Every
function returns a CEL value or a :class:`CELEvalError` value (``no such overload`` for a wrong type).
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from celpy import celtypes as ct
from celpy.evaluation import CELEvalError

from ..kyverno.quantity import parse_quantity
from .cel_ops import OPERATORS, Fn, compare, equal, is_kind, op_add, strict
from .cel_values import (
    INT64_MAX,
    INT64_MIN,
    NO_OVERLOAD,
    NONE,
    URL,
    AuthorizerVal,
    Decision,
    GroupCheck,
    Optional,
    PathCheck,
    Quantity,
    ResourceCheck,
    check,
    err,
    go_type_name,
    int64,
    is_number,
    uint64,
)


@strict
def fn_size(v: Any) -> Any:
    if isinstance(v, ct.StringType | ct.BytesType | ct.ListType | ct.MapType) and not isinstance(v, ct.BoolType):
        return ct.IntType(len(v))
    return err(NO_OVERLOAD)


def _str_method(fn: Callable[..., Any]) -> Fn:
    @strict
    def method(s: Any, *args: Any) -> Any:
        if not isinstance(s, ct.StringType) or not all(isinstance(a, ct.StringType | ct.IntType) for a in args):
            return err(NO_OVERLOAD)
        return fn(str(s), *args)

    method.__name__ = fn.__name__
    return method


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _compile(pattern: str) -> re.Pattern[str] | CELEvalError:
    try:
        return _regex(pattern)
    except re.error as e:
        return err(f"error parsing regexp: {e}")


def _matches(s: str, pattern: Any) -> Any:
    rx = _compile(str(pattern))
    return rx if isinstance(rx, CELEvalError) else ct.BoolType(rx.search(s) is not None)


# --- conversions ---

def _parse_go_duration(text: str) -> datetime.timedelta | None:
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    m = re.fullmatch(r"([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+", text)
    if not m or text in ("", "+", "-"):
        return None if text not in ("0", "+0", "-0") else datetime.timedelta(0)
    total = sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", text))
    return datetime.timedelta(seconds=-total if m.group(1) == "-" else total)


@strict
def fn_int(v: Any) -> Any:
    if is_kind(v, ct.IntType):
        return v
    if is_kind(v, ct.UintType):
        return int64(int(v))
    if is_kind(v, ct.DoubleType):
        f = float(v)
        if math.isnan(f) or not (INT64_MIN <= f < 2.0 ** 63):
            return err("integer overflow")
        return ct.IntType(int(f))
    if isinstance(v, ct.StringType):
        try:
            return int64(int(str(v), 10))
        except ValueError:
            return err(f"cannot parse '{v}' as int")  # pragma: no cover - message differs slightly from Go
    if isinstance(v, ct.TimestampType):
        return ct.IntType(int(v.timestamp()))
    return err(NO_OVERLOAD)


@strict
def fn_uint(v: Any) -> Any:
    if is_kind(v, ct.UintType):
        return v
    if is_kind(v, ct.IntType):
        return uint64(int(v))
    if is_kind(v, ct.DoubleType):
        f = float(v)
        if math.isnan(f) or not (0 <= f < 2.0 ** 64):
            return err("unsigned integer overflow")
        return ct.UintType(int(f))
    if isinstance(v, ct.StringType):
        try:
            return uint64(int(str(v), 10))
        except ValueError:
            return err(f"cannot parse '{v}' as uint")
    return err(NO_OVERLOAD)


@strict
def fn_double(v: Any) -> Any:
    if is_number(v) and not isinstance(v, ct.BoolType):
        return ct.DoubleType(float(v))
    if isinstance(v, ct.StringType):
        try:
            return ct.DoubleType(float(str(v)))
        except ValueError:
            return err(f"cannot parse '{v}' as double")
    return err(NO_OVERLOAD)


def _format_double(f: float) -> str:
    """Go strconv.FormatFloat(f, 'g', -1, 64)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = repr(f)
    mantissa, _, exp = text.partition("e")
    if exp:
        return f"{mantissa}e{int(exp):+03d}"
    if abs(f) >= 1e21 or (f != 0 and abs(f) < 1e-4):
        return f"{f:e}"
    return text[:-2] if text.endswith(".0") else text


@strict
def fn_string(v: Any) -> Any:
    if isinstance(v, ct.BoolType):
        return ct.StringType("true" if v else "false")
    if is_kind(v, ct.IntType | ct.UintType):
        return ct.StringType(str(int(v)))
    if is_kind(v, ct.DoubleType):
        return ct.StringType(_format_double(float(v)))
    if isinstance(v, ct.StringType):
        return v
    if isinstance(v, ct.BytesType):
        try:
            return ct.StringType(bytes(v).decode())
        except UnicodeDecodeError:
            return err("invalid UTF-8 in bytes, cannot convert to string")
    if isinstance(v, ct.TimestampType | ct.DurationType):
        return ct.StringType(str(v))
    return err(NO_OVERLOAD)


@strict
def fn_bytes(v: Any) -> Any:
    if isinstance(v, ct.BytesType):
        return v
    if isinstance(v, ct.StringType):
        return ct.BytesType(str(v).encode())
    return err(NO_OVERLOAD)


@strict
def fn_bool(v: Any) -> Any:
    if isinstance(v, ct.BoolType):
        return v
    if isinstance(v, ct.StringType):
        text = str(v)
        if text in ("1", "t", "T", "true", "TRUE", "True"):
            return ct.BoolType(True)
        if text in ("0", "f", "F", "false", "FALSE", "False"):
            return ct.BoolType(False)
        return err("type conversion error from 'string' to 'bool'")
    return err(NO_OVERLOAD)


@strict
def fn_duration(v: Any) -> Any:
    if isinstance(v, ct.DurationType):
        return v
    if isinstance(v, ct.StringType):
        d = _parse_go_duration(str(v))
        if d is None:
            return err(f'time: invalid duration "{v}"')
        return ct.DurationType(d)
    return err(NO_OVERLOAD)


@strict
def fn_timestamp(v: Any) -> Any:
    if isinstance(v, ct.TimestampType):
        return v
    if is_kind(v, ct.IntType):
        return ct.TimestampType(datetime.datetime.fromtimestamp(int(v), datetime.UTC))
    if isinstance(v, ct.StringType):
        try:
            return ct.TimestampType(str(v))
        except ValueError:
            return err(f'parsing time "{v}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    return err(NO_OVERLOAD)


def fn_dyn(v: Any) -> Any:
    return v


# --- ext.Strings ---

def _index_error(i: int) -> CELEvalError:
    return err(f"index out of range: {i}")


def s_char_at(s: str, i: Any) -> Any:
    i = int(i)
    if i < 0 or i > len(s):
        return _index_error(i)
    return ct.StringType(s[i:i + 1])


def s_index_of(s: str, sub: Any, offset: Any = 0) -> Any:
    offset = int(offset)
    if offset < 0 or offset > len(s):
        return _index_error(offset)
    return ct.IntType(s.find(str(sub), offset))


def s_last_index_of(s: str, sub: Any, offset: Any = None) -> Any:
    if offset is None:
        return ct.IntType(s.rfind(str(sub)))
    offset = int(offset)
    if offset < 0 or offset >= len(s) + (1 if not s else 0):
        return _index_error(offset)
    return ct.IntType(s.rfind(str(sub), 0, offset + len(str(sub))))


def s_lower(s: str) -> Any:
    return ct.StringType("".join(c.lower() if "A" <= c <= "Z" else c for c in s))


def s_upper(s: str) -> Any:
    return ct.StringType("".join(c.upper() if "a" <= c <= "z" else c for c in s))


def s_replace(s: str, old: Any, new: Any, n: Any = -1) -> Any:
    return ct.StringType(s.replace(str(old), str(new), int(n)))


def s_split(s: str, sep: Any, n: Any = -1) -> Any:
    n, sep = int(n), str(sep)
    if n == 0:
        return ct.ListType([])
    if sep == "":
        parts = list(s) if n < 0 or n >= len(s) else [*s[:n - 1], s[n - 1:]]
    else:
        parts = s.split(sep) if n < 0 else s.split(sep, n - 1)
    return ct.ListType([ct.StringType(p) for p in parts])


def s_substring(s: str, start: Any, end: Any = None) -> Any:
    start = int(start)
    stop = len(s) if end is None else int(end)
    if start < 0 or start > len(s):
        return _index_error(start)
    if stop < 0 or stop > len(s):
        return _index_error(stop)
    if stop < start:
        return err(f"invalid substring range. start: {start}, end: {stop}")
    return ct.StringType(s[start:stop])


def s_trim(s: str) -> Any:
    return ct.StringType(s.strip(" \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                                 "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"))


@strict
def l_join(items: Any, sep: Any = "") -> Any:
    if not isinstance(items, ct.ListType) or not all(isinstance(x, ct.StringType) for x in items):
        return err(NO_OVERLOAD)
    return ct.StringType(str(sep).join(str(x) for x in items))


def _format_arg(verb: str, v: Any, precision: int | None) -> str | CELEvalError:
    if verb == "s":
        return _display(v)
    if verb == "d":
        if not is_kind(v, ct.IntType | ct.UintType):
            return err("error during formatting: integer clause can only be used on integers, was given "
                       + go_type_name(v))
        return str(int(v))
    if verb in "fe":
        if not is_number(v) or isinstance(v, ct.BoolType):
            return err("error during formatting: fixed-point clause can only be used on doubles, was given "
                       + go_type_name(v))
        return f"{float(v):.{6 if precision is None else precision}{verb}}"
    if verb in "xXob":
        if is_kind(v, ct.IntType | ct.UintType):
            text = format(int(v), {"x": "x", "X": "X", "o": "o", "b": "b"}[verb])
        elif isinstance(v, ct.StringType | ct.BytesType) and verb in "xX":
            data = str(v).encode() if isinstance(v, ct.StringType) else bytes(v)
            text = data.hex() if verb == "x" else data.hex().upper()
        else:
            return err(NO_OVERLOAD)
        return text
    return err(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')


def _display(v: Any) -> str:
    if isinstance(v, ct.BoolType):
        return "true" if v else "false"
    if isinstance(v, ct.DoubleType):
        return _format_double(float(v))
    if isinstance(v, ct.ListType):
        return "[" + ", ".join(_display(x) for x in v) + "]"
    if isinstance(v, ct.MapType):
        return "{" + ", ".join(f"{_display(k)}: {_display(x)}" for k, x in v.items()) + "}"
    if v is None:
        return "null"
    if isinstance(v, ct.BytesType):
        return bytes(v).decode(errors="replace")
    return str(v)


@strict
def s_format(fmt: Any, args: Any) -> Any:
    if not isinstance(fmt, ct.StringType) or not isinstance(args, ct.ListType):
        return err(NO_OVERLOAD)
    out, i, arg = [], 0, 0
    text = str(fmt)
    while i < len(text):
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        m = re.match(r"%(?:\.(\d+))?([a-zA-Z%])", text[i:])
        if not m:
            return err("could not parse formatting clause: unexpected end of string")
        i += m.end()
        if m.group(2) == "%":
            out.append("%")
            continue
        if arg >= len(args):
            return err(f"index {arg} out of range")
        piece = _format_arg(m.group(2), args[arg], int(m.group(1)) if m.group(1) else None)
        if isinstance(piece, CELEvalError):
            return piece
        out.append(piece)
        arg += 1
    return ct.StringType("".join(out))


@strict
def strings_quote(s: Any) -> Any:
    if not isinstance(s, ct.StringType):
        return err(NO_OVERLOAD)
    return ct.StringType(json.dumps(str(s), ensure_ascii=False))


# --- Kubernetes lists and regex ---

@strict
def l_is_sorted(items: Any) -> Any:
    for a, b in zip(items, items[1:], strict=False):
        c = compare(a, b)
        if isinstance(c, CELEvalError):
            return c
        if c > 0:
            return ct.BoolType(False)
    return ct.BoolType(True)


@strict
def l_sum(items: Any) -> Any:
    total: Any = ct.IntType(0)
    for i, x in enumerate(items):
        total = x if i == 0 else op_add(total, x)
        if isinstance(total, CELEvalError):
            return total
    return total


def _extreme(name: str, better: Callable[[int], bool]) -> Fn:
    @strict
    def fn(items: Any) -> Any:
        if not isinstance(items, ct.ListType):
            return err(NO_OVERLOAD)
        if not items:
            return err(f"{name} called on empty list")
        best = items[0]
        for x in items[1:]:
            c = compare(x, best)
            if isinstance(c, CELEvalError):
                return c
            if better(c):
                best = x
        return best

    return fn


def _list_or_string(string_fn: Fn, list_last: bool) -> Fn:
    @strict
    def fn(receiver: Any, *args: Any) -> Any:
        if isinstance(receiver, ct.StringType):
            return string_fn(str(receiver), *args)
        if isinstance(receiver, ct.ListType) and len(args) == 1:
            positions = [i for i, x in enumerate(receiver) if equal(x, args[0])]
            if not positions:
                return ct.IntType(-1)
            return ct.IntType(positions[-1] if list_last else positions[0])
        return err(NO_OVERLOAD)

    return fn


def s_find(s: str, pattern: Any) -> Any:
    rx = _compile(str(pattern))
    if isinstance(rx, CELEvalError):
        return rx
    m = rx.search(s)
    return ct.StringType(m.group(0) if m else "")


def s_find_all(s: str, pattern: Any, n: Any = -1) -> Any:
    rx = _compile(str(pattern))
    if isinstance(rx, CELEvalError):
        return rx
    found = [m.group(0) for m in rx.finditer(s)]
    if int(n) >= 0:
        found = found[:int(n)]
    return ct.ListType([ct.StringType(x) for x in found])


# --- Kubernetes URLs ---

@strict
def fn_url(s: Any) -> Any:
    if not isinstance(s, ct.StringType):
        return err(NO_OVERLOAD)
    try:
        parts = urlsplit(str(s))
        _ = parts.port
    except ValueError as e:
        return err(f"URL parse error during conversion from string: parse \"{s}\": {e}")
    if not parts.scheme and not str(s).startswith("/"):
        return err(f"URL parse error during conversion from string: parse \"{s}\": invalid URI for request")
    return URL(parts, str(s))


@strict
def fn_is_url(s: Any) -> Any:
    return ct.BoolType(isinstance(fn_url(s), URL))


def _url_part(getter: Callable[[URL], str]) -> Fn:
    @strict
    def fn(u: Any) -> Any:
        return ct.StringType(getter(u)) if isinstance(u, URL) else err(NO_OVERLOAD)

    return fn


def _host(u: URL) -> str:
    netloc = u.parts.netloc
    return netloc.rsplit("@", 1)[-1]


def _hostname(u: URL) -> str:
    host = _host(u)
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _port(u: URL) -> str:
    host = _host(u)
    tail = host[host.find("]") + 1:] if host.startswith("[") else host
    return tail.rsplit(":", 1)[1] if ":" in tail else ""


@strict
def url_query(u: Any) -> Any:
    if not isinstance(u, URL):
        return err(NO_OVERLOAD)
    q = parse_qs(u.parts.query, keep_blank_values=True)
    return ct.MapType({ct.StringType(k): ct.ListType([ct.StringType(x) for x in v]) for k, v in q.items()})


# --- Kubernetes quantities ---

@strict
def fn_quantity(s: Any) -> Any:
    if not isinstance(s, ct.StringType):
        return err(NO_OVERLOAD)
    try:
        return Quantity(parse_quantity(str(s)), str(s))
    except ValueError as e:
        return err(str(e))


@strict
def fn_is_quantity(s: Any) -> Any:
    return ct.BoolType(isinstance(fn_quantity(s), Quantity))


def _quantity_method(fn: Callable[..., Any]) -> Fn:
    @strict
    def method(q: Any, *args: Any) -> Any:
        if not isinstance(q, Quantity):
            return err(NO_OVERLOAD)
        return fn(q, *args)

    return method


def _q_other(v: Any) -> Fraction | None:
    if isinstance(v, Quantity):
        return v.value
    if is_kind(v, ct.IntType):
        return Fraction(int(v))
    return None


def q_add(q: Quantity, other: Any, sign: int = 1) -> Any:
    o = _q_other(other)
    if o is None:
        return err(NO_OVERLOAD)
    value = q.value + sign * o
    return Quantity(value, str(value))


def q_compare(q: Quantity, other: Any) -> int | None:
    o = _q_other(other) if isinstance(other, Quantity) else None
    if o is None:
        return None
    return (q.value > o) - (q.value < o)


def q_as_integer(q: Quantity) -> Any:
    if q.value.denominator != 1 or not INT64_MIN <= q.value <= INT64_MAX:
        return err("cannot convert value to integer")
    return ct.IntType(int(q.value))


# --- ext.Sets and optionals ---

def _sets(test: Callable[[ct.ListType, ct.ListType], bool]) -> Fn:
    @strict
    def fn(a: Any, b: Any) -> Any:
        if not isinstance(a, ct.ListType) or not isinstance(b, ct.ListType):
            return err(NO_OVERLOAD)
        return ct.BoolType(test(a, b))

    return fn


def _contains_all(a: ct.ListType, b: ct.ListType) -> bool:
    return all(any(equal(x, y) for y in a) for x in b)


def _zero(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, ct.BoolType):
        return not v
    if isinstance(v, ct.StringType | ct.BytesType | ct.ListType | ct.MapType):
        return len(v) == 0
    if is_number(v):
        return float(v) == 0
    if isinstance(v, ct.DurationType):
        return v == datetime.timedelta(0)
    return False


def _optional_method(fn: Callable[..., Any]) -> Fn:
    def method(o: Any, *args: Any) -> Any:
        if isinstance(o, CELEvalError):
            return o
        if not isinstance(o, Optional):
            return err(NO_OVERLOAD)
        return fn(o, *args)

    return method


def _opt_value(o: Optional) -> Any:
    return o.value if o.present else err("optional.none() dereference")


def _opt_or(o: Optional, other: Any) -> Any:
    if o.present:
        return o
    return other if isinstance(other, Optional | CELEvalError) else err(NO_OVERLOAD)


def _opt_or_value(o: Optional, other: Any) -> Any:
    return o.value if o.present else other


# --- authorizer ---

def _authz_method(receiver_type: type, fn: Callable[..., Any]) -> Fn:
    @strict
    def method(r: Any, *args: Any) -> Any:
        if not isinstance(r, receiver_type) or not all(isinstance(a, ct.StringType) for a in args):
            return err(NO_OVERLOAD)
        return fn(r, *(str(a) for a in args))

    return method


def _service_account(a: AuthorizerVal, namespace: str, name: str) -> AuthorizerVal:
    return AuthorizerVal(f"system:serviceaccount:{namespace}:{name}", a.authorize, a.request)


# --- dispatch tables ---

def _by_receiver(*candidates: tuple[type, Fn]) -> Fn:
    """Several libraries share a method name (``check``, ``name``, ``indexOf``): pick by receiver type."""

    def fn(receiver: Any, *args: Any) -> Any:
        if isinstance(receiver, CELEvalError):
            return receiver
        for cls, impl in candidates:
            if isinstance(receiver, cls):
                return impl(receiver, *args)
        return err(NO_OVERLOAD)

    return fn


def _decision(attr: str) -> Fn:
    def fn(d: Decision) -> Any:
        if attr == "allowed":
            return ct.BoolType(d.decision == "allow")
        if attr == "errored":
            return ct.BoolType(False)
        if attr == "error":
            return ct.StringType("")
        return ct.StringType(d.reason)

    return _authz_method(Decision, fn)


FUNCTIONS: dict[str, Fn] = {
    "size": fn_size,
    "contains": _str_method(lambda s, x: ct.BoolType(str(x) in s)),
    "startsWith": _str_method(lambda s, x: ct.BoolType(s.startswith(str(x)))),
    "endsWith": _str_method(lambda s, x: ct.BoolType(s.endswith(str(x)))),
    "matches": _str_method(_matches),
    "int": fn_int, "uint": fn_uint, "double": fn_double, "string": fn_string, "bytes": fn_bytes,
    "bool": fn_bool, "duration": fn_duration, "timestamp": fn_timestamp, "dyn": fn_dyn,
    "charAt": _str_method(s_char_at),
    "indexOf": _list_or_string(s_index_of, list_last=False),
    "lastIndexOf": _list_or_string(s_last_index_of, list_last=True),
    "lowerAscii": _str_method(s_lower), "upperAscii": _str_method(s_upper),
    "replace": _str_method(s_replace), "split": _str_method(s_split),
    "substring": _str_method(s_substring), "trim": _str_method(s_trim),
    "join": l_join, "format": s_format, "strings.quote": strings_quote,
    "isSorted": l_is_sorted, "sum": l_sum,
    "min": _extreme("min", lambda c: c < 0), "max": _extreme("max", lambda c: c > 0),
    "find": _str_method(s_find), "findAll": _str_method(s_find_all),
    "url": fn_url, "isURL": fn_is_url,
    "getScheme": _url_part(lambda u: u.parts.scheme), "getHost": _url_part(_host),
    "getHostname": _url_part(_hostname), "getPort": _url_part(_port),
    "getEscapedPath": _url_part(lambda u: u.parts.path), "getQuery": url_query,
    "quantity": fn_quantity, "isQuantity": fn_is_quantity,
    "sign": _quantity_method(lambda q: ct.IntType((q.value > 0) - (q.value < 0))),
    "isInteger": _quantity_method(lambda q: ct.BoolType(q.value.denominator == 1)),
    "asInteger": _quantity_method(q_as_integer),
    "asApproximateFloat": _quantity_method(lambda q: ct.DoubleType(float(q.value))),
    "add": _quantity_method(q_add), "sub": _quantity_method(lambda q, o: q_add(q, o, -1)),
    "compareTo": _quantity_method(lambda q, o: err(NO_OVERLOAD) if q_compare(q, o) is None
                                  else ct.IntType(q_compare(q, o))),
    "isGreaterThan": _quantity_method(lambda q, o: err(NO_OVERLOAD) if q_compare(q, o) is None
                                      else ct.BoolType(q_compare(q, o) == 1)),
    "isLessThan": _quantity_method(lambda q, o: err(NO_OVERLOAD) if q_compare(q, o) is None
                                   else ct.BoolType(q_compare(q, o) == -1)),
    "sets.contains": _sets(_contains_all),
    "sets.equivalent": _sets(lambda a, b: _contains_all(a, b) and _contains_all(b, a)),
    "sets.intersects": _sets(lambda a, b: any(any(equal(x, y) for y in a) for x in b)),
    "optional.of": strict(lambda v: Optional(v, True)),
    "optional.ofNonZeroValue": strict(lambda v: NONE if _zero(v) else Optional(v, True)),
    "optional.none": lambda: NONE,
    "hasValue": _optional_method(lambda o: ct.BoolType(o.present)),
    "value": _optional_method(_opt_value),
    "or": _optional_method(_opt_or),
    "orValue": _optional_method(_opt_or_value),
    "path": _authz_method(AuthorizerVal, lambda a, p: PathCheck(a, p)),
    "group": _authz_method(AuthorizerVal, lambda a, g: GroupCheck(a, g)),
    "serviceAccount": _authz_method(AuthorizerVal, _service_account),
    "resource": _authz_method(GroupCheck, lambda g, r: ResourceCheck(g.authz, (("group", g.group),
                                                                               ("resource", r)))),
    "subresource": _authz_method(ResourceCheck, lambda r, v: r.with_("subresource", v)),
    "namespace": _authz_method(ResourceCheck, lambda r, v: r.with_("namespace", v)),
    "name": _authz_method(ResourceCheck, lambda r, v: r.with_("name", v)),
    "check": _by_receiver((PathCheck, _authz_method(PathCheck, check)),
                          (ResourceCheck, _authz_method(ResourceCheck, check))),
    "allowed": _decision("allowed"), "errored": _decision("errored"),
    "reason": _decision("reason"), "error": _decision("error"),
}


def functions() -> dict[str, Fn]:
    return {**OPERATORS, **FUNCTIONS}



