"""Building blocks shared by the sandbox's object validators, worded exactly like k8s.io/apimachinery.

kube-apiserver renders field errors with Go's fmt verbs (``%q`` for strings, ``%#v`` for maps and structs, a quoted
``"null"`` for nil pointers), and ``field.Error.Error()`` always prints ``<field>: `` even for the root path.
:class:`FieldErr` reproduces that on top of the shared :class:`~.errors.FieldError`, and the ``is_*`` helpers return
the same message lists as ``k8s.io/apimachinery/pkg/util/validation`` (v1.32 wording).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import FieldError, go_quote


class GoValue(str):
    """A bad value already rendered the way Go's ``%#v``/``String()`` would print it; shown verbatim."""


class FieldErr(FieldError):
    """A field error rendered like apimachinery's ``field.Error`` (Go value formatting, root-path prefix)."""

    def body(self) -> str:
        prefix = _TYPE_TEXT[self.type]
        if self.type in ("Required", "Forbidden", "TooLong", "Internal") or self.value is _omit():
            text = prefix
        else:
            text = f"{prefix}: {go_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


_TYPE_TEXT = {
    "Required": "Required value", "Invalid": "Invalid value", "Forbidden": "Forbidden", "TooLong": "Too long",
    "TooMany": "Too many", "NotFound": "Not found", "Duplicate": "Duplicate value",
    "NotSupported": "Unsupported value", "TypeInvalid": "Invalid value", "Internal": "Internal error",
}


def _omit() -> Any:
    return FieldError.__dataclass_fields__["value"].default


def go_value(v: Any) -> str:
    """``field.Error.ErrorBody``'s value rendering: nil pointers print as the quoted string ``"null"``."""
    if isinstance(v, GoValue):
        return str(v)
    if v is None:
        return '"null"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, str):
        return go_quote(v)
    return json.dumps(v, separators=(",", ":"))


# --- constructors (field.Required, field.Invalid, ...) ---

def required(path: str, detail: str = "") -> FieldErr:
    return FieldErr("Required", path, detail=detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldErr:
    return FieldErr("Invalid", path, value, detail)


def forbidden(path: str, detail: str = "") -> FieldErr:
    return FieldErr("Forbidden", path, detail=detail)


def duplicate(path: str, value: Any) -> FieldErr:
    return FieldErr("Duplicate", path, value)


def not_found(path: str, value: Any, detail: str = "") -> FieldErr:
    return FieldErr("NotFound", path, value, detail)


def not_supported(path: str, value: Any, valid: Iterable[str]) -> FieldErr:
    quoted = ", ".join(go_quote(str(x)) for x in valid)
    return FieldErr("NotSupported", path, value, f"supported values: {quoted}" if quoted else "")


def too_long(path: str, max_len: int) -> FieldErr:
    unit = "byte" if max_len == 1 else "bytes"
    return FieldErr("TooLong", path, detail=f"may not be more than {max_len} {unit}")


def too_many(path: str, actual: int, max_items: int) -> FieldErr:
    return FieldErr("TooMany", path, actual, f"must have at most {max_items} items")


def immutable(path: str, new: Any, old: Any) -> list[FieldErr]:
    """apimachinery ValidateImmutableField."""
    return [] if new == old else [invalid(path, new, FIELD_IMMUTABLE)]


FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"


def non_negative(value: int, path: str) -> list[FieldErr]:
    return [invalid(path, value, IS_NEGATIVE)] if value < 0 else []


def key(path: str, k: str) -> str:
    """field.Path.Key: ``data[.dockercfg]``."""
    return f"{path}[{k}]"


def child(path: str, *names: str) -> str:
    return ".".join([path, *names]) if path else ".".join(names)


# --- message builders (pkg/util/validation) ---

def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += f"'{ex}', "
    return msg + f"regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


EMPTY_ERROR = "must be non-empty"

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_CONFIGMAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_ENV_VAR_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_PERCENT_FMT = "[0-9]+%"
_HTTP_HEADER_FMT = "[-A-Za-z0-9]+"


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile(f"(?:{fmt})\\Z")


_DNS1123_LABEL_RE = _full(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = _full(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = _full(_DNS1035_LABEL_FMT)
_QNAME_RE = _full(_QNAME_FMT)
_LABEL_VALUE_RE = _full(_LABEL_VALUE_FMT)
_CONFIGMAP_KEY_RE = _full(_CONFIGMAP_KEY_FMT)
_ENV_VAR_RE = _full(_ENV_VAR_FMT)
_PERCENT_RE = _full(_PERCENT_FMT)
_HTTP_HEADER_RE = _full(_HTTP_HEADER_FMT)


def _blen(s: str) -> int:
    """Go's len(string) counts UTF-8 bytes."""
    return len(s.encode())


def is_dns1123_label(v: str) -> list[str]:
    errs = []
    if _blen(v) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL_RE.match(v):
        if _DNS1123_SUBDOMAIN_RE.match(v):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                                    "or '-', and must start and end with an alphanumeric character",
                                    _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if _blen(v) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(v):
        errs.append(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                "'-' or '.', and must start and end with an alphanumeric character",
                                _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(v: str) -> list[str]:
    errs = []
    if _blen(v) > 63:
        errs.append(max_len_error(63))
    if not _DNS1035_LABEL_RE.match(v):
        errs.append(regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                                "with an alphabetic character, and end with an alphanumeric character",
                                _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


_QNAME_ERR = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"


def is_qualified_name(v: str) -> list[str]:
    errs: list[str] = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + regex_error(_QNAME_ERR, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif _blen(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QNAME_RE.match(name):
        errs.append("name part " + regex_error(_QNAME_ERR, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(v: str) -> list[str]:
    errs = []
    if _blen(v) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.match(v):
        errs.append(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                                "'_' or '.', and must start and end with an alphanumeric character",
                                _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _chdir_prefix(v: str) -> list[str]:
    if v == ".":
        return ["must not be '.'"]
    if v == "..":
        return ["must not be '..'"]
    if v.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(v: str) -> list[str]:
    errs = []
    if _blen(v) > 253:
        errs.append(max_len_error(253))
    if not _CONFIGMAP_KEY_RE.match(v):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                _CONFIGMAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _chdir_prefix(v)


def is_env_var_name(v: str) -> list[str]:
    errs = []
    if not _ENV_VAR_RE.match(v):
        errs.append(regex_error("a valid environment variable name must consist of alphabetic characters, digits, "
                                "'_', '-', or '.', and must not start with a digit",
                                _ENV_VAR_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errs + _chdir_prefix(v)


def is_relaxed_env_var_name(v: str) -> list[str]:
    """RelaxedEnvironmentVariableValidation is on by default in v1.32 (beta)."""
    errs = []
    if not v:
        errs.append("environment variable name " + EMPTY_ERROR)
    if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in v):
        errs.append("a valid environment variable name must consist only of printable ASCII characters other than '='")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if _blen(port) > 15:
        errs.append(max_len_error(15))
    if not re.fullmatch(r"[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(v: str) -> list[str]:
    if not _PERCENT_RE.match(v):
        return [regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                            _PERCENT_FMT, "1%", "93%")]
    return []


def is_http_header_name(v: str) -> list[str]:
    if not _HTTP_HEADER_RE.match(v):
        return [regex_error("a valid HTTP header must consist of alphanumeric characters or '-'",
                            _HTTP_HEADER_FMT, "X-Header-Name")]
    return []


def is_valid_id(v: int) -> list[str]:
    """IsValidUserID / IsValidGroupID (uint32 range)."""
    return [] if 0 <= v <= 0xFFFFFFFF else [inclusive_range_error(0, 0xFFFFFFFF)]


# --- name validators (ValidateNameFunc: name, prefix -> messages) ---

def _mask_trailing_dash(name: str) -> str:
    # apimachinery replaces the last *two* characters (a long-standing quirk kept for compatibility).
    return name[:-2] + "a" if name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def is_valid_path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """apimachinery path.IsValidPathSegmentName (RBAC objects): only '.', '..', '/' and '%' are banned."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    errs = []
    for bad in ("/", "%"):
        if bad in name:
            errs.append(f"may not contain '{bad}'")
    return errs


# --- labels, annotations, selectors (meta/v1/validation) ---

def validate_label_name(name: str, path: str) -> list[FieldErr]:
    return [invalid(path, name, m) for m in is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    for k, v in (labels or {}).items():
        errs.extend(validate_label_name(k, path))
        errs.extend(invalid(path, v, m) for m in is_valid_label_value(v if isinstance(v, str) else str(v)))
    return errs


TOTAL_ANNOTATION_SIZE = 256 * 1024


def validate_annotations(annotations: Any, path: str) -> list[FieldErr]:
    errs: list[FieldErr] = []
    total = 0
    for k, v in (annotations or {}).items():
        errs.extend(invalid(path, k, m) for m in is_qualified_name(k.lower()))
        total += _blen(k) + _blen(v if isinstance(v, str) else str(v))
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE))
    return errs


def validate_label_selector(sel: Any, path: str) -> list[FieldErr]:
    if sel is None:
        return []
    errs = validate_labels(sel.get("matchLabels"), child(path, "matchLabels"))
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        p = f"{child(path, 'matchExpressions')}[{i}]"
        op = expr.get("operator", "")
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(child(p, "values"),
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(child(p, "operator"), op, "not a valid selector operator"))
        errs.extend(validate_label_name(expr.get("key", ""), child(p, "key")))
    return errs


def selector_matches(sel: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """metav1.LabelSelectorAsSelector(sel).Matches(labels); nil selects nothing, empty selects everything."""
    if sel is None:
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        k, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(k) not in values:
            return False
        if op == "NotIn" and k in labels and labels[k] in values:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def selector_is_empty(sel: Mapping[str, Any] | None) -> bool:
    return sel is not None and not sel.get("matchLabels") and not sel.get("matchExpressions")


# --- Go %#v renderings for the values kube-apiserver prints with it ---

def go_string_map(m: Mapping[str, Any] | None, present: bool = True) -> GoValue:
    """``%#v`` of a map[string]string: keys sorted, ``map[string]string(nil)`` when unset."""
    if m is None or not present:
        return GoValue("map[string]string(nil)")
    inner = ", ".join(f"{go_quote(k)}:{go_quote(str(m[k]))}" for k in sorted(m))
    return GoValue(f"map[string]string{{{inner}}}")


def go_string_slice(v: list[str] | None) -> str:
    if v is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(x) for x in v) + "}"


def go_label_selector(sel: Mapping[str, Any] | None) -> GoValue:
    """``%#v`` of a dereferenced *metav1.LabelSelector (it has no value-receiver String method)."""
    if sel is None:
        return GoValue('"null"')
    ml = go_string_map(sel.get("matchLabels"), "matchLabels" in sel and sel.get("matchLabels") is not None)
    exprs = sel.get("matchExpressions")
    if exprs is None:
        me = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = [f"v1.LabelSelectorRequirement{{Key:{go_quote(e.get('key', ''))}, "
                 f"Operator:{go_quote(e.get('operator', ''))}, Values:{go_string_slice(e.get('values'))}}}"
                 for e in exprs]
        me = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    return GoValue(f"v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{me}}}")


# --- resource.Quantity (just enough to compare and check signs) ---

_SUFFIX = {
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal("1e3"),
    "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
}
_QUANTITY_RE = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?\Z")


def parse_quantity(v: Any) -> Decimal | None:
    """The numeric value of a resource.Quantity string/number, or None when it does not parse."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return Decimal(str(v))
    if not isinstance(v, str):
        return None
    m = _QUANTITY_RE.match(v.strip())
    if not m:
        return None
    try:
        num = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suffix = m.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return num * (Decimal(10) ** int(suffix[1:]))
    return num * _SUFFIX[suffix]


def as_int(v: Any) -> int | None:
    """An integer field's value if it is one (JSON numbers may arrive as floats)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


_DECIMAL_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}


def _go_rem(a: int, b: int) -> int:
    """Go's % (the sign follows the dividend)."""
    r = abs(a) % b
    return -r if a < 0 else r


def canonical_quantity(v: Any, round_up_milli: bool = True) -> Any:
    """resource.Quantity's canonical String() (``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``), rounded up to milli
    scale like SetDefaults_ResourceList; values that do not parse are returned unchanged."""
    value = parse_quantity(v)
    if value is None:
        return v
    text = str(v).strip() if isinstance(v, str) else str(v)
    m = _QUANTITY_RE.match(text)
    suffix = (m.group(2) or "") if m else ""
    fmt = "BinarySI" if suffix.endswith("i") else "DecimalExponent" if suffix[:1] in ("e", "E") else "DecimalSI"
    if round_up_milli:
        milli = value * 1000
        if milli != int(milli):
            value = Decimal(int(milli) + (1 if milli > 0 else 0)) / 1000
    if value == 0:
        return "0"
    if fmt == "BinarySI":
        if -1024 < value < 1024 or value != int(value):
            fmt = "DecimalSI"
        else:
            amount, exp = int(value), 0
            while amount % 1024 == 0 and exp < 6:
                amount //= 1024
                exp += 1
            return f"{amount}{_BINARY_SUFFIX[exp]}"
    sign, digits, exponent = value.normalize().as_tuple()
    mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
    exp = int(exponent)
    while mantissa != 0 and mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    r = _go_rem(exp, 3)
    if r in (1, -2):
        mantissa, exp = mantissa * 10, exp - 1
    elif r in (2, -1):
        mantissa, exp = mantissa * 100, exp - 2
    if fmt == "DecimalExponent":
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    if exp in _DECIMAL_SUFFIX:
        return f"{mantissa}{_DECIMAL_SUFFIX[exp]}"
    return f"{mantissa}e{exp}"
