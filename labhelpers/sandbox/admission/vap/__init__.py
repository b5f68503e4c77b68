"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) for the sandbox API server.

Modules, bottom-up:

* :mod:`.cel_syntax`, :mod:`.cel_ast` – cel-go's lexer/parser messages and the parsed tree.
* :mod:`.cel_types`, :mod:`.cel_decls`, :mod:`.cel_check` – the admission CEL declarations and type checker.
* :mod:`.cel_values`, :mod:`.cel_ops`, :mod:`.cel_lib`, :mod:`.cel_eval` – evaluation on celpy: values,
  operators with cel-go semantics, the Kubernetes libraries, the celpy evaluator subclass.
* :mod:`.cel` – ``compile_expression`` / ``Program.evaluate``, the environment options of each field.
* :mod:`.policy` – the two kinds: defaults, validation (422 texts), compilation.
* :mod:`.admit` – matching, validation actions and the denial Status.
* :mod:`.printers` – ``kubectl get`` columns.

``install(registry)`` registers the kinds and the plug-ins: defaulting with the mutators, then object
validation of policies/bindings and the admission plug-in at the front of the validators (kube-apiserver runs
ValidatingAdmissionPolicy before validating webhooks such as Kyverno).
"""

from __future__ import annotations

from ...apiserver import resources, validation
from ...apiserver.objects import AdmissionRequest, Registry
from .admit import Plugin, lab_authorize
from .cel_values import Authorize
from .policy import BINDING, POLICY, default_binding, default_policy, validate_binding, validate_policy

__all__ = ["BINDING", "POLICY", "Plugin", "install", "lab_authorize"]


def _is(req: AdmissionRequest, rt: resources.ResourceType) -> bool:
    return req.rt.group == rt.group and req.rt.kind == rt.kind


def defaulter(req: AdmissionRequest) -> None:
    """Scheme defaults plus what the registry strategies set: generation and the policy's status."""
    if req.obj is None or req.subresource or not (_is(req, POLICY) or _is(req, BINDING)):
        return
    meta = req.obj.setdefault("metadata", {})
    if req.operation == "CREATE":
        meta["generation"] = 1
    if _is(req, POLICY):
        default_policy(req.obj)
        status = req.obj.setdefault("status", {}) if req.operation == "CREATE" else req.obj.get("status")
        if isinstance(status, dict):
            status["observedGeneration"] = meta.get("generation", 1)
            status.setdefault("typeChecking", {})
    else:
        default_binding(req.obj)


def spec_validator(req: AdmissionRequest) -> None:
    """ValidateValidatingAdmissionPolicy / ...Binding (create and update), as a 422 Invalid."""
    if req.obj is None or req.subresource or req.operation not in ("CREATE", "UPDATE"):
        return
    if _is(req, POLICY):
        validation.raise_if_invalid(req.rt, req.obj, validate_policy(req.obj))
    elif _is(req, BINDING):
        validation.raise_if_invalid(req.rt, req.obj, validate_binding(req.obj))


def install(registry: Registry, *, authorize: Authorize = lab_authorize) -> Plugin:
    """Serve both kinds and enforce bound policies on every write through ``registry``."""
    from ...apiserver import tables
    from .printers import PRINTERS

    resources.register(POLICY)
    resources.register(BINDING)
    for (group, kind), (columns, row) in PRINTERS.items():
        tables.register_printer(group, kind, columns, row)
    plugin = Plugin(registry, authorize)
    registry.mutators.append(defaulter)
    registry.validators[:0] = [spec_validator, plugin]
    return plugin
