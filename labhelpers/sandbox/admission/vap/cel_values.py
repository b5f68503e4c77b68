"""Run-time values celpy lacks (optionals, quantities, URLs, authorizer checks) and shared value helpers.

Errors are celpy :class:`CELEvalError` values carrying cel-go's message text (``no such key: x``), so
celpy's evaluator passes them through logical operators the way CEL's error semantics require.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from urllib.parse import SplitResult

from celpy import celtypes as ct
from celpy.evaluation import CELEvalError

NO_OVERLOAD = "no such overload"


def err(message: str) -> CELEvalError:
    return CELEvalError(message)


def first_error(*values: Any) -> CELEvalError | None:
    for v in values:
        if isinstance(v, CELEvalError):
            return v
    return None


def go_value(v: Any) -> str:
    """``%v`` of a CEL value in a cel-go error message."""
    if isinstance(v, ct.BoolType):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return str(v)


def go_type_name(v: Any) -> str:
    """cel-go's Go type of a value, as ``%T`` prints it."""
    for cls, name in ((ct.BoolType, "types.Bool"), (ct.IntType, "types.Int"), (ct.UintType, "types.Uint"),
                      (ct.DoubleType, "types.Double"), (ct.StringType, "types.String"),
                      (ct.BytesType, "types.Bytes"), (ct.TimestampType, "types.Timestamp"),
                      (ct.DurationType, "types.Duration"), (Optional, "*types.Optional")):
        if isinstance(v, cls):
            return name
    return "types.Null" if v is None else type(v).__name__


def is_int(v: Any) -> bool:
    return isinstance(v, ct.IntType)


def is_number(v: Any) -> bool:
    return isinstance(v, ct.IntType | ct.UintType | ct.DoubleType)


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1


def int64(n: int) -> ct.IntType | CELEvalError:
    return ct.IntType(n) if INT64_MIN <= n <= INT64_MAX else err("integer overflow")


def uint64(n: int) -> ct.UintType | CELEvalError:
    return ct.UintType(n) if 0 <= n <= UINT64_MAX else err("unsigned integer overflow")


@dataclass(frozen=True)
class Optional:
    """cel-go ``optional_type``: ``optional.none()`` when ``present`` is false."""

    value: Any = None
    present: bool = False

    def __repr__(self) -> str:
        return f"optional.of({self.value!r})" if self.present else "optional.none()"


NONE = Optional()


@dataclass(frozen=True)
class Quantity:
    """``kubernetes.Quantity``: the exact value of a resource.Quantity string."""

    value: Fraction
    text: str


@dataclass(frozen=True)
class URL:
    """``kubernetes.URL`` (Go's url.URL as the k8s URL library exposes it)."""

    parts: SplitResult
    text: str


class LazyFields:
    """``variables``: each field is computed on first use and remembered (k8s lazy.MapValue)."""

    def __init__(self, compute: dict[str, Callable[[], Any]]):
        self._compute = compute
        self._values: dict[str, Any] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._compute

    def field(self, name: str) -> Any:
        if name not in self._values:
            self._values[name] = self._compute[name]()
        return self._values[name]


# --- authorizer-lite (k8s.io/apiserver/pkg/cel/library/authz.go) ---

# (user, verb, attributes) -> (decision "allow" | "deny" | "no-opinion", reason)
Authorize = Callable[[str, str, dict[str, str]], tuple[str, str]]


@dataclass(frozen=True)
class AuthorizerVal:
    user: str
    authorize: Authorize
    request: dict[str, str] = field(default_factory=dict)  # the request's resource, for requestResource


@dataclass(frozen=True)
class PathCheck:
    authz: AuthorizerVal
    path: str


@dataclass(frozen=True)
class GroupCheck:
    authz: AuthorizerVal
    group: str


@dataclass(frozen=True)
class ResourceCheck:
    authz: AuthorizerVal
    attrs: tuple[tuple[str, str], ...]

    def with_(self, key: str, value: str) -> ResourceCheck:
        attrs = dict(self.attrs)
        attrs[key] = value
        return ResourceCheck(self.authz, tuple(sorted(attrs.items())))


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str


def check(receiver: PathCheck | ResourceCheck, verb: str) -> Decision:
    attrs = {"path": receiver.path} if isinstance(receiver, PathCheck) else dict(receiver.attrs)
    decision, reason = receiver.authz.authorize(receiver.authz.user, verb, attrs)
    return Decision(decision, reason)
