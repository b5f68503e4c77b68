"""Decode Kubernetes protobuf request bodies into the dicts their JSON form would be.

kubectl 1.32+ sends ``application/vnd.kubernetes.protobuf`` bodies from its typed clientsets (``create namespace``,
``create secret``, ``create deployment``, ``auth can-i`` ...) and does not retry as JSON after a 415, so the sandbox
must read them. Everything downstream works on JSON-shaped dicts; this module turns a protobuf body into exactly
that dict, so a request looks the same whichever encoding the client chose.

Wire format: ``b"k8s\\x00"`` followed by a ``runtime.Unknown`` message whose ``typeMeta`` names the kind and whose
``raw`` holds the object encoded by gogo-protobuf (proto2). The schema table at the bottom (:data:`_SCHEMA`) gives,
for each message the sandbox accepts, its field numbers, JSON names and types; it was written for this project
from the field numbers documented upstream (k8s.io/api and k8s.io/apimachinery ``generated.proto``, v1.33) and
checked against the descriptors compiled into kubectl v1.33.9.

How a field is turned into JSON follows from how Go encodes it both ways:

* gogo writes every non-pointer field (``generateName: ""``, ``stdin: false``, empty structs) and writes pointer
  fields only when set, so **presence on the wire** means "set" for pointers.
* encoding/json drops zero values of ``omitempty`` scalars, but keeps pointers that are set and fields without
  ``omitempty``. In the table a trailing ``!`` marks such fields: their zero value is kept (``replicas: 0``,
  ``automountServiceAccountToken: false``, ``allowed: false``).
* Structs are never omitted by encoding/json, so a nested message present on the wire is always emitted, empty or
  not (``resources: {}``, ``strategy: {}``, ``status: {}``). The exception is ``metav1.Time``: a zero time
  encodes as JSON ``null``; it is left out here (``creationTimestamp`` is set by the server anyway).
* Absent fields stay absent: the decoder never invents ``null`` for nil lists without ``omitempty``.

Fields the table does not know are skipped (wire-type aware), as gogo does for unknown fields.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import go_quote

__all__ = ["MAGIC", "PROTOBUF_CONTENT_TYPE", "ProtobufDecodeError", "decode", "supported_kinds"]

MAGIC = b"k8s\x00"
PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# The scheme name kube-apiserver prints in "no kind is registered" errors.
_SCHEME_NAME = "pkg/api/legacyscheme/scheme.go:30"


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------


class ProtobufDecodeError(ValueError):
    """An undecodable body. ``str(err)`` is kube-apiserver's 400 BadRequest message for it; ``cause`` is the bare
    decoder error (gogo-protobuf's wording where there is one)."""

    def __init__(self, message: str, cause: str):
        super().__init__(message)
        self.message = message
        self.cause = cause


class _WireError(Exception):
    """A low-level failure; :func:`decode` wraps it in the apiserver's message."""


# ---------------------------------------------------------------------------------------------------------------
# Wire format
# ---------------------------------------------------------------------------------------------------------------

_VARINT, _FIXED64, _BYTES, _END_GROUP, _FIXED32 = 0, 1, 2, 4, 5  # wire types (3, start group, is never used)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if shift >= 64:
            raise _WireError("proto: integer overflow")
        if pos >= len(buf):
            raise _WireError("unexpected EOF")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, pos
        shift += 7


def _iter_fields(buf: bytes, message: str) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field number, wire type, value)``: an int for varints, the payload bytes otherwise."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == _END_GROUP:
            raise _WireError(f"proto: {message}: wiretype end group for non-group")
        if number <= 0:
            raise _WireError(f"proto: {message}: illegal tag {number} (wire type {wire_type})")
        if wire_type == _VARINT:
            value, pos = _read_varint(buf, pos)
            yield number, wire_type, value
        elif wire_type in (_BYTES, _FIXED64, _FIXED32):
            if wire_type == _BYTES:
                size, pos = _read_varint(buf, pos)
                if size >= 1 << 63:  # negative as Go's int
                    raise _WireError("proto: negative length found during unmarshaling")
            else:
                size = 8 if wire_type == _FIXED64 else 4
            if pos + size > len(buf):
                raise _WireError("unexpected EOF")
            yield number, wire_type, buf[pos:pos + size]
            pos += size
        else:  # groups were never used by Kubernetes; 6 and 7 do not exist
            raise _WireError(f"proto: illegal wireType {wire_type}")


def _signed(value: int, bits: int) -> int:
    """Go's int32(v) / int64(v) of a decoded varint."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _text(raw: bytes) -> str:
    # Go strings may hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD.
    return raw.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------------------------

_SCALARS = {"string", "bytes", "bool", "int32", "int64"}
# apimachinery types with their own wire messages and JSON forms (see _SPECIAL_DECODERS)
_SPECIALS = {"Time", "MicroTime", "IntOrString", "Quantity", "FieldsV1", "ExtraValue"}
_INLINE = "inline"  # field name for Go's embedded `json:",inline"` structs


@dataclass(frozen=True)
class _Field:
    number: int
    name: str  # JSON name, or _INLINE to merge the embedded message into its parent
    type: str  # a scalar, a special, or a message name
    repeated: bool = False
    is_map: bool = False  # map<string, type>
    keep_zero: bool = False  # Go pointer or JSON tag without omitempty

    @property
    def go_name(self) -> str:
        """The Go field name, as gogo's "wrong wireType" errors print it (``uid`` -> ``UID``)."""
        for initialism in ("api", "uid", "ip", "fs"):
            rest = self.name[len(initialism):]
            if self.name.startswith(initialism) and (not rest or rest[0].isupper()):
                return initialism.upper() + rest
        return self.name[:1].upper() + self.name[1:]


_TOKEN = re.compile(r"(\d+)\s+([A-Za-z]\w*)(?::(\S+?))?(!)?(?=\s|$)")


def _parse_schema(text: str) -> dict[str, dict[int, _Field]]:
    """Parse the compact table: ``Message  N name[:type][!] ...``; continuation lines start with a space."""
    messages: dict[str, dict[int, _Field]] = {}
    current: dict[int, _Field] | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            name, _, line = line.partition(" ")
            current = messages.setdefault(name, {})
        assert current is not None, f"field line before any message: {line!r}"
        for number, fname, ftype, keep in _TOKEN.findall(line):
            ftype = ftype or "string"
            repeated, is_map = ftype.startswith("["), ftype.startswith("{")
            if repeated or is_map:
                ftype = ftype[1:-1]
            current[int(number)] = _Field(int(number), fname, ftype, repeated, is_map, bool(keep))
    for mname, fields in messages.items():
        for f in fields.values():
            if f.type not in _SCALARS and f.type not in _SPECIALS and f.type not in messages:
                raise RuntimeError(f"protobuf schema: {mname}.{f.name} has unknown type {f.type}")
    return messages


# ---------------------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------------------

_OMIT = object()  # a special value that JSON would print as null (zero Time)


def _decode_message(type_name: str, buf: bytes, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decode one message into ``out``. Repeated occurrences of a message field merge, as in gogo."""
    out = {} if out is None else out
    fields = _MESSAGES[type_name]
    for number, wire_type, raw in _iter_fields(buf, type_name):
        field = fields.get(number)
        if field is None:
            continue  # unknown field: already skipped by its wire type
        if field.is_map:
            key, value = _map_entry(field, _expect_bytes(field, wire_type, raw))
            out.setdefault(field.name, {})[key] = value
        elif field.repeated:
            out.setdefault(field.name, []).extend(_repeated_values(field, wire_type, raw))
        elif field.name == _INLINE:
            _decode_message(field.type, _expect_bytes(field, wire_type, raw), out)
        elif field.type in _MESSAGES:
            existing = out.get(field.name)
            out[field.name] = _decode_message(field.type, _expect_bytes(field, wire_type, raw),
                                              existing if isinstance(existing, dict) else None)
        else:
            value = _single_value(field, wire_type, raw)
            if value is _OMIT or (not field.keep_zero and field.type in _SCALARS and _is_zero(value)):
                out.pop(field.name, None)  # a later zero overrides an earlier value, as in Go
            else:
                out[field.name] = value
    return out


def _is_zero(value: Any) -> bool:
    return value in ("", 0, False)


def _expect_bytes(field: _Field, wire_type: int, raw: int | bytes) -> bytes:
    if wire_type != _BYTES:
        raise _WireError(f"proto: wrong wireType = {wire_type} for field {field.go_name}")
    assert isinstance(raw, bytes)
    return raw


def _single_value(field: _Field, wire_type: int, raw: int | bytes) -> Any:
    """A scalar or special value; messages are handled by the caller."""
    if field.type in ("bool", "int32", "int64"):
        if wire_type != _VARINT:
            raise _WireError(f"proto: wrong wireType = {wire_type} for field {field.go_name}")
        assert isinstance(raw, int)
        if field.type == "bool":
            return raw != 0
        return _signed(raw, 32 if field.type == "int32" else 64)
    payload = _expect_bytes(field, wire_type, raw)
    if field.type == "string":
        return _text(payload)
    if field.type == "bytes":
        return base64.b64encode(payload).decode("ascii")
    return _SPECIAL_DECODERS[field.type](payload)


def _repeated_values(field: _Field, wire_type: int, raw: int | bytes) -> list[Any]:
    if field.type in ("int32", "int64", "bool") and wire_type == _BYTES:
        assert isinstance(raw, bytes)  # packed encoding: a run of varints
        values, pos = [], 0
        while pos < len(raw):
            v, pos = _read_varint(raw, pos)
            values.append(_single_value(field, _VARINT, v))
        return values
    if field.type in _MESSAGES:
        return [_decode_message(field.type, _expect_bytes(field, wire_type, raw))]
    value = _single_value(field, wire_type, raw)
    return [] if value is _OMIT else [value]


def _map_entry(field: _Field, buf: bytes) -> tuple[str, Any]:
    """A map entry is a message {1: key, 2: value}; a missing part is its zero value."""
    key, value = "", None
    value_field = _Field(2, "value", field.type)
    for number, wire_type, raw in _iter_fields(buf, f"{field.go_name}Entry"):
        if number == 1:
            key = _text(_expect_bytes(_Field(1, "key", "string"), wire_type, raw))
        elif number == 2:
            if field.type in _MESSAGES:
                value = _decode_message(field.type, _expect_bytes(value_field, wire_type, raw))
            else:
                value = _single_value(value_field, wire_type, raw)
    if value is None or value is _OMIT:
        value = _zero_map_value(field.type)
    return key, value


def _zero_map_value(type_name: str) -> Any:
    return {"string": "", "bytes": "", "bool": False, "int32": 0, "int64": 0, "Quantity": "0",
            "ExtraValue": []}.get(type_name, {})


# --- apimachinery special types --------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp(buf: bytes) -> tuple[int, int] | None:
    """metav1.Time / MicroTime on the wire: {1: seconds, 2: nanos}. An empty message is Go's zero time."""
    if not buf:
        return None
    seconds = nanos = 0
    for number, wire_type, raw in _iter_fields(buf, "Timestamp"):
        if number not in (1, 2):
            continue
        if wire_type != _VARINT:
            raise _WireError(f"proto: wrong wireType = {wire_type} for field {('Seconds', 'Nanos')[number - 1]}")
        assert isinstance(raw, int)
        if number == 1:
            seconds = _signed(raw, 64)
        else:
            nanos = _signed(raw, 32)
    return seconds, nanos


def _to_datetime(seconds: int, nanos: int) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as e:
        raise _WireError(f"timestamp out of range: {seconds}s") from e


def _rfc3339(t: datetime, micro: bool = False) -> str:
    # Formatted by hand: strftime does not zero-pad years below 1000 everywhere, Go does.
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return text + (f".{t.microsecond:06d}Z" if micro else "Z")


def _decode_time(buf: bytes) -> Any:
    ts = _timestamp(buf)
    if ts is None:
        return _OMIT
    return _rfc3339(_to_datetime(*ts))  # whole seconds, as metav1.Time marshals


def _decode_micro_time(buf: bytes) -> Any:
    ts = _timestamp(buf)
    if ts is None:
        return _OMIT
    return _rfc3339(_to_datetime(*ts), micro=True)


def _decode_int_or_string(buf: bytes) -> int | str:
    """intstr.IntOrString: {1: type (0 int, 1 string), 2: intVal, 3: strVal}; JSON is the bare int or string."""
    kind, int_val, str_val = 0, 0, ""
    for number, wire_type, raw in _iter_fields(buf, "IntOrString"):
        if number in (1, 2) and wire_type == _VARINT:
            assert isinstance(raw, int)
            if number == 1:
                kind = _signed(raw, 64)
            else:
                int_val = _signed(raw, 32)
        elif number == 3 and wire_type == _BYTES:
            assert isinstance(raw, bytes)
            str_val = _text(raw)
        elif number in (1, 2, 3):
            raise _WireError(f"proto: wrong wireType = {wire_type} for field {('Type', 'IntVal', 'StrVal')[number - 1]}")
    return str_val if kind == 1 else int_val


def _decode_quantity(buf: bytes) -> str:
    """resource.Quantity travels as its canonical string {1: string}; JSON is that string."""
    text = "0"
    for number, wire_type, raw in _iter_fields(buf, "Quantity"):
        if number == 1:
            text = _text(_expect_bytes(_Field(1, "string", "string"), wire_type, raw))
    return text


def _decode_fields_v1(buf: bytes) -> Any:
    """metav1.FieldsV1 {1: Raw} holds JSON, which the JSON form inlines."""
    raw_json = b""
    for number, wire_type, raw in _iter_fields(buf, "FieldsV1"):
        if number == 1:
            raw_json = _expect_bytes(_Field(1, "Raw", "bytes"), wire_type, raw)
    if not raw_json:
        return _OMIT
    try:
        return json.loads(raw_json)
    except ValueError as e:
        raise _WireError(f"FieldsV1 holds invalid JSON: {e}") from e


def _decode_extra_value(buf: bytes) -> list[str]:
    """authentication/v1 ExtraValue {1: repeated string} is a plain string list in JSON."""
    item = _Field(1, "items", "string")
    return [_text(_expect_bytes(item, wt, raw)) for number, wt, raw in _iter_fields(buf, "ExtraValue") if number == 1]


_SPECIAL_DECODERS = {
    "Time": _decode_time,
    "MicroTime": _decode_micro_time,
    "IntOrString": _decode_int_or_string,
    "Quantity": _decode_quantity,
    "FieldsV1": _decode_fields_v1,
    "ExtraValue": _decode_extra_value,
}


# ---------------------------------------------------------------------------------------------------------------
# Envelope and public API
# ---------------------------------------------------------------------------------------------------------------


def supported_kinds() -> set[tuple[str, str]]:
    """The ``(apiVersion, kind)`` pairs :func:`decode` accepts (``DeleteOptions`` is accepted in any version)."""
    return set(_KINDS)


def decode(body: bytes, expected: tuple[str, str] | None = None) -> dict[str, Any]:
    """Decode an ``application/vnd.kubernetes.protobuf`` body into the object's JSON form.

    ``expected`` is the ``(apiVersion, kind)`` of the endpoint the body was sent to. With it, an envelope without
    type information is read as that kind (as kube-apiserver does), a body of another kind is rejected, and error
    messages name the expected kind as the apiserver's BadRequest does.
    """
    expected_kind = expected[1] if expected else None
    try:
        api_version, kind, raw = _read_envelope(body)
    except _WireError as e:
        raise _unrecognized(str(e), body, expected_kind) from None
    if expected:
        api_version = api_version or expected[0]
        kind = kind or expected[1]
    if not kind:
        raise _unrecognized(f"Object 'Kind' is missing in '{_type_meta(api_version, kind)}'", body, expected_kind)

    version = api_version.rpartition("/")[2]

    def cannot_handle(cause: str) -> ProtobufDecodeError:
        message = f"{kind} in version {go_quote(version)} cannot be handled as a {expected_kind or kind}: {cause}"
        return ProtobufDecodeError(message, cause)

    if not api_version:
        raise cannot_handle(f"Object 'apiVersion' is missing in '{_type_meta(api_version, kind)}'")
    message = _message_for(api_version, kind)
    if message is None:
        raise cannot_handle(f"no kind {go_quote(kind)} is registered for version {go_quote(api_version)} "
                            f"in scheme {go_quote(_SCHEME_NAME)}")
    if expected and (api_version, kind) != expected and not kind == expected[1] == "DeleteOptions":
        if kind != expected[1]:
            target = f"{_internal_package(expected[0])}.{expected[1]}"
            raise cannot_handle(f"converting ({version}.{kind}) to ({target}): unknown conversion")
        cause = f"the API version in the data ({api_version}) does not match the expected API version ({expected[0]})"
        raise ProtobufDecodeError(cause, cause)
    try:
        obj = _decode_message(message, raw)
    except _WireError as e:
        raise cannot_handle(str(e)) from None
    return {"kind": kind, "apiVersion": api_version, **obj}


def _type_meta(api_version: str, kind: str) -> str:
    """Go's %#v of a runtime.TypeMeta, as the missing-kind errors print it."""
    return f"runtime.TypeMeta{{APIVersion:{go_quote(api_version)}, Kind:{go_quote(kind)}}}"


_UNKNOWN_FIELDS = {  # runtime.Unknown; contentEncoding and contentType are ignored, as the apiserver does
    1: _Field(1, "typeMeta", "TypeMeta"),
    2: _Field(2, "raw", "bytes"),
    3: _Field(3, "contentEncoding", "string"),
    4: _Field(4, "contentType", "string"),
}


def _read_envelope(body: bytes) -> tuple[str, str, bytes]:
    """Split ``MAGIC`` + runtime.Unknown into (apiVersion, kind, raw object bytes)."""
    if not body:
        raise _WireError("empty data")
    if not body.startswith(MAGIC):
        prefix = " ".join(str(b) for b in MAGIC)
        raise _WireError(f"provided data does not appear to be a protobuf message, expected prefix [{prefix}]")
    if len(body) == len(MAGIC):
        raise _WireError("empty body")
    type_meta: dict[str, Any] = {}
    raw = b""
    for number, wire_type, value in _iter_fields(body[len(MAGIC):], "Unknown"):
        field = _UNKNOWN_FIELDS.get(number)
        if field is None:
            continue
        payload = _expect_bytes(field, wire_type, value)
        if number == 1:
            _decode_message("TypeMeta", payload, type_meta)
        elif number == 2:
            raw = payload
    return type_meta.get("apiVersion", ""), type_meta.get("kind", ""), raw


def _message_for(api_version: str, kind: str) -> str | None:
    if kind == "DeleteOptions":  # registered in every group version
        return "DeleteOptions"
    return _KINDS.get((api_version, kind))


def _internal_package(api_version: str) -> str:
    """Go package of the apiserver's internal type for a group, as conversion errors print it."""
    group = api_version.rpartition("/")[0]
    return {"": "core", "rbac.authorization.k8s.io": "rbac", "authorization.k8s.io": "authorization",
            "authentication.k8s.io": "authentication"}.get(group, group)


def _unrecognized(cause: str, body: bytes, expected_kind: str | None) -> ProtobufDecodeError:
    """The apiserver's message when not even the type could be read from the body."""
    must_be = f" (must be of type {expected_kind})" if expected_kind else ""
    return ProtobufDecodeError(f"the object provided is unrecognized{must_be}: {cause} ({_summarize(body)})", cause)


def _summarize(data: bytes, limit: int = 30) -> str:
    """Like the apiserver: JSON-looking bodies as text, anything else as hex, cut after ``limit`` bytes."""
    if not data:
        return "<empty>"
    head = data[:limit]
    text = head.decode("utf-8", errors="replace") if data[:1] == b"{" else head.hex()
    return text + " ..." if len(data) > limit else text


# ---------------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------------
#
# One message per entry: its Go type name, then fields as ``number jsonName[:type][!]`` in field-number order.
#   type     string (the default), bytes, bool, int32, int64; a message name; or an apimachinery special:
#            Time, MicroTime, IntOrString, Quantity, FieldsV1, ExtraValue
#   [T]      repeated T;   {T}  map<string, T>
#   !        keep the zero value: a Go pointer field, or a JSON tag without omitempty
#   inline   an embedded struct whose fields the JSON form lifts into the parent (`json:",inline"`)
# Only the messages and fields the sandbox needs are listed; the rest are skipped on decode. Not covered:
# PodStatus container statuses, the cloud-provider and legacy volume sources, ephemeral (PVC template) volumes.

_SCHEMA = """
# --- runtime ---
TypeMeta  1 apiVersion  2 kind

# --- meta/v1 ---
ObjectMeta  1 name  2 generateName  3 namespace  4 selfLink  5 uid  6 resourceVersion  7 generation:int64
     8 creationTimestamp:Time  9 deletionTimestamp:Time  10 deletionGracePeriodSeconds:int64!
     11 labels:{string}  12 annotations:{string}  13 ownerReferences:[OwnerReference]  14 finalizers:[string]
     17 managedFields:[ManagedFieldsEntry]
OwnerReference  1 kind!  3 name!  4 uid!  5 apiVersion!  6 controller:bool!  7 blockOwnerDeletion:bool!
ManagedFieldsEntry  1 manager  2 operation  3 apiVersion  4 time:Time  6 fieldsType  7 fieldsV1:FieldsV1
     8 subresource
LabelSelector  1 matchLabels:{string}  2 matchExpressions:[LabelSelectorRequirement]
LabelSelectorRequirement  1 key!  2 operator!  3 values:[string]
FieldSelectorRequirement  1 key!  2 operator!  3 values:[string]
Condition  1 type!  2 status!  3 observedGeneration:int64  4 lastTransitionTime:Time  5 reason!  6 message!
DeleteOptions  1 gracePeriodSeconds:int64!  2 preconditions:Preconditions  3 orphanDependents:bool!
     4 propagationPolicy!  5 dryRun:[string]  6 ignoreStoreReadErrorWithClusterBreakingPotential:bool!
Preconditions  1 uid!  2 resourceVersion!

# --- core/v1 ---
Namespace  1 metadata:ObjectMeta  2 spec:NamespaceSpec  3 status:NamespaceStatus
NamespaceSpec  1 finalizers:[string]
NamespaceStatus  1 phase  2 conditions:[NamespaceCondition]
NamespaceCondition  1 type!  2 status!  4 lastTransitionTime:Time  5 reason  6 message
Secret  1 metadata:ObjectMeta  2 data:{bytes}  3 type  4 stringData:{string}  5 immutable:bool!
ConfigMap  1 metadata:ObjectMeta  2 data:{string}  3 binaryData:{bytes}  4 immutable:bool!
ServiceAccount  1 metadata:ObjectMeta  2 secrets:[ObjectReference]  3 imagePullSecrets:[LocalObjectReference]
     4 automountServiceAccountToken:bool!
LocalObjectReference  1 name
ObjectReference  1 kind  2 namespace  3 name  4 uid  5 apiVersion  6 resourceVersion  7 fieldPath
Event  1 metadata:ObjectMeta  2 involvedObject:ObjectReference  3 reason  4 message  5 source:EventSource
     6 firstTimestamp:Time  7 lastTimestamp:Time  8 count:int32  9 type  10 eventTime:MicroTime
     11 series:EventSeries  12 action  13 related:ObjectReference  14 reportingComponent!  15 reportingInstance!
EventSource  1 component  2 host
EventSeries  1 count:int32  2 lastObservedTime:MicroTime
Service  1 metadata:ObjectMeta  2 spec:ServiceSpec  3 status:ServiceStatus
ServiceSpec  1 ports:[ServicePort]  2 selector:{string}  3 clusterIP  4 type  5 externalIPs:[string]
     7 sessionAffinity  8 loadBalancerIP  9 loadBalancerSourceRanges:[string]  10 externalName
     11 externalTrafficPolicy  12 healthCheckNodePort:int32  13 publishNotReadyAddresses:bool
     14 sessionAffinityConfig:SessionAffinityConfig  17 ipFamilyPolicy!  18 clusterIPs:[string]
     19 ipFamilies:[string]  20 allocateLoadBalancerNodePorts:bool!  21 loadBalancerClass!
     22 internalTrafficPolicy!  23 trafficDistribution!
ServicePort  1 name  2 protocol  3 port:int32!  4 targetPort:IntOrString  5 nodePort:int32  6 appProtocol!
SessionAffinityConfig  1 clientIP:ClientIPConfig
ClientIPConfig  1 timeoutSeconds:int32!
ServiceStatus  1 loadBalancer:LoadBalancerStatus  2 conditions:[Condition]
LoadBalancerStatus  1 ingress:[LoadBalancerIngress]
LoadBalancerIngress  1 ip  2 hostname  3 ipMode!  4 ports:[PortStatus]
PortStatus  1 port:int32!  2 protocol!  3 error!
Pod  1 metadata:ObjectMeta  2 spec:PodSpec  3 status:PodStatus
PodStatus  1 phase  2 conditions:[PodCondition]  3 message  4 reason  5 hostIP  6 podIP  7 startTime:Time
     9 qosClass  11 nominatedNodeName  12 podIPs:[PodIP]  14 resize  16 hostIPs:[HostIP]
     17 observedGeneration:int64
PodCondition  1 type!  2 status!  3 lastProbeTime:Time  4 lastTransitionTime:Time  5 reason  6 message
     7 observedGeneration:int64
PodIP  1 ip!
HostIP  1 ip!
PodTemplateSpec  1 metadata:ObjectMeta  2 spec:PodSpec
PodSpec  1 volumes:[Volume]  2 containers:[Container]  3 restartPolicy  4 terminationGracePeriodSeconds:int64!
     5 activeDeadlineSeconds:int64!  6 dnsPolicy  7 nodeSelector:{string}  8 serviceAccountName
     9 serviceAccount  10 nodeName  11 hostNetwork:bool  12 hostPID:bool  13 hostIPC:bool
     14 securityContext:PodSecurityContext  15 imagePullSecrets:[LocalObjectReference]  16 hostname
     17 subdomain  18 affinity:Affinity  19 schedulerName  20 initContainers:[Container]
     21 automountServiceAccountToken:bool!  22 tolerations:[Toleration]  23 hostAliases:[HostAlias]
     24 priorityClassName  25 priority:int32!  26 dnsConfig:PodDNSConfig  27 shareProcessNamespace:bool!
     28 readinessGates:[PodReadinessGate]  29 runtimeClassName!  30 enableServiceLinks:bool!
     31 preemptionPolicy!  32 overhead:{Quantity}  33 topologySpreadConstraints:[TopologySpreadConstraint]
     34 ephemeralContainers:[EphemeralContainer]  35 setHostnameAsFQDN:bool!  36 os:PodOS  37 hostUsers:bool!
     38 schedulingGates:[PodSchedulingGate]  39 resourceClaims:[PodResourceClaim]  40 resources:ResourceRequirements
Container  1 name!  2 image  3 command:[string]  4 args:[string]  5 workingDir  6 ports:[ContainerPort]
     7 env:[EnvVar]  8 resources:ResourceRequirements  9 volumeMounts:[VolumeMount]  10 livenessProbe:Probe
     11 readinessProbe:Probe  12 lifecycle:Lifecycle  13 terminationMessagePath  14 imagePullPolicy
     15 securityContext:SecurityContext  16 stdin:bool  17 stdinOnce:bool  18 tty:bool
     19 envFrom:[EnvFromSource]  20 terminationMessagePolicy  21 volumeDevices:[VolumeDevice]
     22 startupProbe:Probe  23 resizePolicy:[ContainerResizePolicy]  24 restartPolicy!
EphemeralContainer  1 inline:Container  2 targetContainerName
ContainerPort  1 name  2 hostPort:int32  3 containerPort:int32!  4 protocol  5 hostIP
EnvVar  1 name!  2 value  3 valueFrom:EnvVarSource
EnvVarSource  1 fieldRef:ObjectFieldSelector  2 resourceFieldRef:ResourceFieldSelector
     3 configMapKeyRef:ConfigMapKeySelector  4 secretKeyRef:SecretKeySelector
ObjectFieldSelector  1 apiVersion  2 fieldPath!
ResourceFieldSelector  1 containerName  2 resource!  3 divisor:Quantity
ConfigMapKeySelector  1 inline:LocalObjectReference  2 key!  3 optional:bool!
SecretKeySelector  1 inline:LocalObjectReference  2 key!  3 optional:bool!
EnvFromSource  1 prefix  2 configMapRef:ConfigMapEnvSource  3 secretRef:SecretEnvSource
ConfigMapEnvSource  1 inline:LocalObjectReference  2 optional:bool!
SecretEnvSource  1 inline:LocalObjectReference  2 optional:bool!
ResourceRequirements  1 limits:{Quantity}  2 requests:{Quantity}  3 claims:[ResourceClaim]
ResourceClaim  1 name!  2 request
VolumeMount  1 name!  2 readOnly:bool  3 mountPath!  4 subPath  5 mountPropagation!  6 subPathExpr
     7 recursiveReadOnly!
VolumeDevice  1 name!  2 devicePath!
Probe  1 inline:ProbeHandler  2 initialDelaySeconds:int32  3 timeoutSeconds:int32  4 periodSeconds:int32
     5 successThreshold:int32  6 failureThreshold:int32  7 terminationGracePeriodSeconds:int64!
ProbeHandler  1 exec:ExecAction  2 httpGet:HTTPGetAction  3 tcpSocket:TCPSocketAction  4 grpc:GRPCAction
ExecAction  1 command:[string]
HTTPGetAction  1 path  2 port:IntOrString  3 host  4 scheme  5 httpHeaders:[HTTPHeader]
HTTPHeader  1 name!  2 value!
TCPSocketAction  1 port:IntOrString  2 host
GRPCAction  1 port:int32!  2 service!
Lifecycle  1 postStart:LifecycleHandler  2 preStop:LifecycleHandler  3 stopSignal!
LifecycleHandler  1 exec:ExecAction  2 httpGet:HTTPGetAction  3 tcpSocket:TCPSocketAction  4 sleep:SleepAction
SleepAction  1 seconds:int64!
SecurityContext  1 capabilities:Capabilities  2 privileged:bool!  3 seLinuxOptions:SELinuxOptions
     4 runAsUser:int64!  5 runAsNonRoot:bool!  6 readOnlyRootFilesystem:bool!  7 allowPrivilegeEscalation:bool!
     8 runAsGroup:int64!  9 procMount!  10 windowsOptions:WindowsSecurityContextOptions
     11 seccompProfile:SeccompProfile  12 appArmorProfile:AppArmorProfile
Capabilities  1 add:[string]  2 drop:[string]
SELinuxOptions  1 user  2 role  3 type  4 level
WindowsSecurityContextOptions  1 gmsaCredentialSpecName!  2 gmsaCredentialSpec!  3 runAsUserName!
     4 hostProcess:bool!
SeccompProfile  1 type!  2 localhostProfile!
AppArmorProfile  1 type!  2 localhostProfile!
ContainerResizePolicy  1 resourceName!  2 restartPolicy!
PodSecurityContext  1 seLinuxOptions:SELinuxOptions  2 runAsUser:int64!  3 runAsNonRoot:bool!
     4 supplementalGroups:[int64]  5 fsGroup:int64!  6 runAsGroup:int64!  7 sysctls:[Sysctl]
     8 windowsOptions:WindowsSecurityContextOptions  9 fsGroupChangePolicy!  10 seccompProfile:SeccompProfile
     11 appArmorProfile:AppArmorProfile  12 supplementalGroupsPolicy!  13 seLinuxChangePolicy!
Sysctl  1 name!  2 value!
Toleration  1 key  2 operator  3 value  4 effect  5 tolerationSeconds:int64!
HostAlias  1 ip!  2 hostnames:[string]
PodDNSConfig  1 nameservers:[string]  2 searches:[string]  3 options:[PodDNSConfigOption]
PodDNSConfigOption  1 name  2 value!
PodReadinessGate  1 conditionType!
TopologySpreadConstraint  1 maxSkew:int32!  2 topologyKey!  3 whenUnsatisfiable!  4 labelSelector:LabelSelector
     5 minDomains:int32!  6 nodeAffinityPolicy!  7 nodeTaintsPolicy!  8 matchLabelKeys:[string]
PodOS  1 name!
PodSchedulingGate  1 name!
PodResourceClaim  1 name!  3 resourceClaimName!  4 resourceClaimTemplateName!
Affinity  1 nodeAffinity:NodeAffinity  2 podAffinity:PodAffinity  3 podAntiAffinity:PodAntiAffinity
NodeAffinity  1 requiredDuringSchedulingIgnoredDuringExecution:NodeSelector
     2 preferredDuringSchedulingIgnoredDuringExecution:[PreferredSchedulingTerm]
NodeSelector  1 nodeSelectorTerms:[NodeSelectorTerm]
NodeSelectorTerm  1 matchExpressions:[NodeSelectorRequirement]  2 matchFields:[NodeSelectorRequirement]
NodeSelectorRequirement  1 key!  2 operator!  3 values:[string]
PreferredSchedulingTerm  1 weight:int32!  2 preference:NodeSelectorTerm
PodAffinity  1 requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm]
     2 preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]
PodAntiAffinity  1 requiredDuringSchedulingIgnoredDuringExecution:[PodAffinityTerm]
     2 preferredDuringSchedulingIgnoredDuringExecution:[WeightedPodAffinityTerm]
PodAffinityTerm  1 labelSelector:LabelSelector  2 namespaces:[string]  3 topologyKey!
     4 namespaceSelector:LabelSelector  5 matchLabelKeys:[string]  6 mismatchLabelKeys:[string]
WeightedPodAffinityTerm  1 weight:int32!  2 podAffinityTerm:PodAffinityTerm
Volume  1 name!  2 inline:VolumeSource
VolumeSource  1 hostPath:HostPathVolumeSource  2 emptyDir:EmptyDirVolumeSource  6 secret:SecretVolumeSource
     7 nfs:NFSVolumeSource  10 persistentVolumeClaim:PersistentVolumeClaimVolumeSource
     16 downwardAPI:DownwardAPIVolumeSource  19 configMap:ConfigMapVolumeSource
     26 projected:ProjectedVolumeSource  28 csi:CSIVolumeSource  30 image:ImageVolumeSource
HostPathVolumeSource  1 path!  2 type!
EmptyDirVolumeSource  1 medium  2 sizeLimit:Quantity
SecretVolumeSource  1 secretName  2 items:[KeyToPath]  3 defaultMode:int32!  4 optional:bool!
NFSVolumeSource  1 server!  2 path!  3 readOnly:bool
PersistentVolumeClaimVolumeSource  1 claimName!  2 readOnly:bool
ConfigMapVolumeSource  1 inline:LocalObjectReference  2 items:[KeyToPath]  3 defaultMode:int32!
     4 optional:bool!
KeyToPath  1 key!  2 path!  3 mode:int32!
DownwardAPIVolumeSource  1 items:[DownwardAPIVolumeFile]  2 defaultMode:int32!
DownwardAPIVolumeFile  1 path!  2 fieldRef:ObjectFieldSelector  3 resourceFieldRef:ResourceFieldSelector
     4 mode:int32!
ProjectedVolumeSource  1 sources:[VolumeProjection]  2 defaultMode:int32!
VolumeProjection  1 secret:SecretProjection  2 downwardAPI:DownwardAPIProjection
     3 configMap:ConfigMapProjection  4 serviceAccountToken:ServiceAccountTokenProjection
     5 clusterTrustBundle:ClusterTrustBundleProjection
SecretProjection  1 inline:LocalObjectReference  2 items:[KeyToPath]  4 optional:bool!
ConfigMapProjection  1 inline:LocalObjectReference  2 items:[KeyToPath]  4 optional:bool!
DownwardAPIProjection  1 items:[DownwardAPIVolumeFile]
ServiceAccountTokenProjection  1 audience  2 expirationSeconds:int64!  3 path!
ClusterTrustBundleProjection  1 name!  2 signerName!  3 labelSelector:LabelSelector  4 path!  5 optional:bool!
CSIVolumeSource  1 driver!  2 readOnly:bool!  3 fsType!  4 volumeAttributes:{string}
     5 nodePublishSecretRef:LocalObjectReference
ImageVolumeSource  1 reference  2 pullPolicy

# --- apps/v1 ---
Deployment  1 metadata:ObjectMeta  2 spec:DeploymentSpec  3 status:DeploymentStatus
DeploymentSpec  1 replicas:int32!  2 selector:LabelSelector  3 template:PodTemplateSpec
     4 strategy:DeploymentStrategy  5 minReadySeconds:int32  6 revisionHistoryLimit:int32!  7 paused:bool
     9 progressDeadlineSeconds:int32!
DeploymentStrategy  1 type  2 rollingUpdate:RollingUpdateDeployment
RollingUpdateDeployment  1 maxUnavailable:IntOrString  2 maxSurge:IntOrString
DeploymentStatus  1 observedGeneration:int64  2 replicas:int32  3 updatedReplicas:int32
     4 availableReplicas:int32  5 unavailableReplicas:int32  6 conditions:[DeploymentCondition]
     7 readyReplicas:int32  8 collisionCount:int32!  9 terminatingReplicas:int32!
DeploymentCondition  1 type!  2 status!  4 reason  5 message  6 lastUpdateTime:Time  7 lastTransitionTime:Time

# --- batch/v1 ---
Job  1 metadata:ObjectMeta  2 spec:JobSpec  3 status:JobStatus
JobSpec  1 parallelism:int32!  2 completions:int32!  3 activeDeadlineSeconds:int64!  4 selector:LabelSelector
     5 manualSelector:bool!  6 template:PodTemplateSpec  7 backoffLimit:int32!  8 ttlSecondsAfterFinished:int32!
     9 completionMode!  10 suspend:bool!  11 podFailurePolicy:PodFailurePolicy  12 backoffLimitPerIndex:int32!
     13 maxFailedIndexes:int32!  14 podReplacementPolicy!  15 managedBy!  16 successPolicy:SuccessPolicy
JobStatus  1 conditions:[JobCondition]  2 startTime:Time  3 completionTime:Time  4 active:int32
     5 succeeded:int32  6 failed:int32  7 completedIndexes  8 uncountedTerminatedPods:UncountedTerminatedPods
     9 ready:int32!  10 failedIndexes!  11 terminating:int32!
JobCondition  1 type!  2 status!  3 lastProbeTime:Time  4 lastTransitionTime:Time  5 reason  6 message
UncountedTerminatedPods  1 succeeded:[string]  2 failed:[string]
PodFailurePolicy  1 rules:[PodFailurePolicyRule]
PodFailurePolicyRule  1 action!  2 onExitCodes:PodFailurePolicyOnExitCodesRequirement
     3 onPodConditions:[PodFailurePolicyOnPodConditionsPattern]
PodFailurePolicyOnExitCodesRequirement  1 containerName!  2 operator!  3 values:[int32]
PodFailurePolicyOnPodConditionsPattern  1 type!  2 status!
SuccessPolicy  1 rules:[SuccessPolicyRule]
SuccessPolicyRule  1 succeededIndexes!  2 succeededCount:int32!
JobTemplateSpec  1 metadata:ObjectMeta  2 spec:JobSpec
CronJob  1 metadata:ObjectMeta  2 spec:CronJobSpec  3 status:CronJobStatus
CronJobSpec  1 schedule!  2 startingDeadlineSeconds:int64!  3 concurrencyPolicy  4 suspend:bool!
     5 jobTemplate:JobTemplateSpec  6 successfulJobsHistoryLimit:int32!  7 failedJobsHistoryLimit:int32!
     8 timeZone!
CronJobStatus  1 active:[ObjectReference]  4 lastScheduleTime:Time  5 lastSuccessfulTime:Time

# --- rbac/v1 ---
Role  1 metadata:ObjectMeta  2 rules:[PolicyRule]
ClusterRole  1 metadata:ObjectMeta  2 rules:[PolicyRule]  3 aggregationRule:AggregationRule
RoleBinding  1 metadata:ObjectMeta  2 subjects:[Subject]  3 roleRef:RoleRef
ClusterRoleBinding  1 metadata:ObjectMeta  2 subjects:[Subject]  3 roleRef:RoleRef
PolicyRule  1 verbs:[string]  2 apiGroups:[string]  3 resources:[string]  4 resourceNames:[string]
     5 nonResourceURLs:[string]
AggregationRule  1 clusterRoleSelectors:[LabelSelector]
Subject  1 kind!  2 apiGroup  3 name!  4 namespace
RoleRef  1 apiGroup!  2 kind!  3 name!

# --- authorization/v1 ---
SelfSubjectAccessReview  1 metadata:ObjectMeta  2 spec:SelfSubjectAccessReviewSpec
     3 status:SubjectAccessReviewStatus
SelfSubjectAccessReviewSpec  1 resourceAttributes:ResourceAttributes
     2 nonResourceAttributes:NonResourceAttributes
ResourceAttributes  1 namespace  2 verb  3 group  4 version  5 resource  6 subresource  7 name
     8 fieldSelector:FieldSelectorAttributes  9 labelSelector:LabelSelectorAttributes
NonResourceAttributes  1 path  2 verb
FieldSelectorAttributes  1 rawSelector  2 requirements:[FieldSelectorRequirement]
LabelSelectorAttributes  1 rawSelector  2 requirements:[LabelSelectorRequirement]
SubjectAccessReviewStatus  1 allowed:bool!  2 reason  3 evaluationError  4 denied:bool
SelfSubjectRulesReview  1 metadata:ObjectMeta  2 spec:SelfSubjectRulesReviewSpec
     3 status:SubjectRulesReviewStatus
SelfSubjectRulesReviewSpec  1 namespace
SubjectRulesReviewStatus  1 resourceRules:[ResourceRule]  2 nonResourceRules:[NonResourceRule]
     3 incomplete:bool!  4 evaluationError
ResourceRule  1 verbs:[string]  2 apiGroups:[string]  3 resources:[string]  4 resourceNames:[string]
NonResourceRule  1 verbs:[string]  2 nonResourceURLs:[string]

# --- authentication/v1 ---
SelfSubjectReview  1 metadata:ObjectMeta  2 status:SelfSubjectReviewStatus
SelfSubjectReviewStatus  1 userInfo:UserInfo
UserInfo  1 username  2 uid  3 groups:[string]  4 extra:{ExtraValue}

# --- policy/v1 ---
Eviction  1 metadata:ObjectMeta  2 deleteOptions:DeleteOptions
"""

_MESSAGES = _parse_schema(_SCHEMA)

# (apiVersion, kind) -> message of the top-level object
_KINDS: dict[tuple[str, str], str] = {
    ("v1", kind): kind
    for kind in ("Namespace", "Secret", "ConfigMap", "ServiceAccount", "Pod", "Service", "Event")
} | {
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("policy/v1", "Eviction"): "Eviction",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("meta.k8s.io/v1", "DeleteOptions"): "DeleteOptions",
} | {
    ("rbac.authorization.k8s.io/v1", kind): kind for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
} | {
    ("authorization.k8s.io/v1", kind): kind for kind in ("SelfSubjectAccessReview", "SelfSubjectRulesReview")
}
