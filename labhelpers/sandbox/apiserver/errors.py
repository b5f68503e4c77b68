"""metav1.Status errors exactly as kube-apiserver builds them.

kubectl prints ``Error from server (<reason>): <message>`` only when the body is a complete Status, so every
failure path in the sandbox raises :class:`ApiError` and the HTTP layer serialises it with apimachinery's field
order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# field.ErrorType -> (cause reason, message prefix)
_FIELD_ERROR_TYPES = {
    "Required": ("FieldValueRequired", "Required value"),
    "Invalid": ("FieldValueInvalid", "Invalid value"),
    "Forbidden": ("FieldValueForbidden", "Forbidden"),
    "TooLong": ("FieldValueTooLong", "Too long"),
    "TooMany": ("FieldValueTooMany", "Too many"),
    "NotFound": ("FieldValueNotFound", "Not found"),
    "Duplicate": ("FieldValueDuplicate", "Duplicate value"),
    "NotSupported": ("FieldValueNotSupported", "Unsupported value"),
    "TypeInvalid": ("FieldValueTypeInvalid", "Invalid value"),
    "Internal": ("InternalError", "Internal error"),
}

_OMIT = object()


def go_quote(s: str) -> str:
    """Go's %q for the strings that appear in field errors (JSON escaping matches it for printable text)."""
    return json.dumps(s, ensure_ascii=False)


@dataclass
class FieldError:
    """One apimachinery ``field.Error``: a path, a type, the bad value and an optional detail."""

    type: str
    field: str
    value: Any = _OMIT
    detail: str = ""

    @property
    def reason(self) -> str:
        return _FIELD_ERROR_TYPES[self.type][0]

    def body(self) -> str:
        prefix = _FIELD_ERROR_TYPES[self.type][1]
        if self.type in ("Invalid", "TypeInvalid", "Duplicate", "NotFound", "NotSupported") and self.value is not _OMIT:
            v = self.value
            if isinstance(v, str):
                shown = go_quote(v)
            elif v is None:
                shown = "null"
            else:
                shown = json.dumps(v, separators=(",", ":"))
            text = f"{prefix}: {shown}"
        else:
            text = prefix
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        # field.Error.Error() always prints "<path>: <body>", so a root-path error starts with ": ".
        return f"{self.field}: {self.body()}"

    @staticmethod
    def required(path: str, detail: str = "") -> FieldError:
        return FieldError("Required", path, detail=detail)

    @staticmethod
    def invalid(path: str, value: Any, detail: str = "") -> FieldError:
        return FieldError("Invalid", path, value, detail)

    @staticmethod
    def forbidden(path: str, detail: str = "") -> FieldError:
        return FieldError("Forbidden", path, detail=detail)

    @staticmethod
    def not_supported(path: str, value: Any, valid: list[str]) -> FieldError:
        return FieldError("NotSupported", path, value, "supported values: " + ", ".join(go_quote(v) for v in valid))


class ApiError(Exception):
    """An apiserver failure rendered as a metav1.Status."""

    def __init__(self, code: int, reason: str | None, message: str, details: dict | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message}
        if self.reason:
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body

    # --- constructors mirroring k8s.io/apimachinery/pkg/api/errors ---

    @classmethod
    def not_found(cls, group_resource: str, name: str) -> ApiError:
        res, _, group = group_resource.partition(".")
        return cls(404, "NotFound", f'{group_resource} "{name}" not found', _details(name, group, res))

    @classmethod
    def already_exists(cls, group_resource: str, name: str) -> ApiError:
        res, _, group = group_resource.partition(".")
        return cls(409, "AlreadyExists", f'{group_resource} "{name}" already exists', _details(name, group, res))

    @classmethod
    def conflict(cls, group_resource: str, name: str, err: str) -> ApiError:
        res, _, group = group_resource.partition(".")
        return cls(409, "Conflict", f'Operation cannot be fulfilled on {group_resource} "{name}": {err}',
                   _details(name, group, res))

    @classmethod
    def invalid(cls, group: str, kind: str, name: str, errs: list[FieldError]) -> ApiError:
        unique: list[str] = []
        for e in errs:
            s = str(e)
            if s not in unique:
                unique.append(s)
        agg = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
        qualified = f"{kind}.{group}" if group else kind
        details = _details(name, group, kind)
        details["causes"] = [{"reason": e.reason, "message": e.body(), **({"field": e.field} if e.field else {})}
                             for e in errs]
        return cls(422, "Invalid", f'{qualified} "{name}" is invalid: {agg}', details)

    @classmethod
    def forbidden(cls, group_resource: str, name: str, err: str) -> ApiError:
        res, _, group = group_resource.partition(".")
        return cls(403, "Forbidden", f'{group_resource} "{name}" is forbidden: {err}', _details(name, group, res))

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def method_not_supported(cls, group_resource: str, action: str) -> ApiError:
        res, _, group = group_resource.partition(".")
        d = {"group": group, "kind": res} if group else {"kind": res}
        return cls(405, "MethodNotAllowed", f"{action} is not supported on resources of kind \"{group_resource}\"", d)

    @classmethod
    def unsupported_media_type(cls, content_type: str) -> ApiError:
        return cls(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf',
                   None)

    @classmethod
    def gone(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)

    @classmethod
    def unauthorized(cls) -> ApiError:
        return cls(401, "Unauthorized", "Unauthorized")

    @classmethod
    def internal(cls, err: str) -> ApiError:
        return cls(500, "InternalError", f"Internal error occurred: {err}", {"causes": [{"message": err}]})

    @classmethod
    def admission_denied(cls, message: str) -> ApiError:
        """A webhook denial: HTTP 400 and deliberately no ``reason`` (kubectl prints ``Error from server:``)."""
        return cls(400, None, message)


def _details(name: str, group: str, kind: str) -> dict:
    d: dict[str, Any] = {"name": name}
    if group:
        d["group"] = group
    d["kind"] = kind
    return d
