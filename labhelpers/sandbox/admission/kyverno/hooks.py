"""The ``verifyImages`` hook: how image signature verification plugs into the Kyverno layer.

The engine in this package evaluates ``validate`` rules only. Rules with ``verifyImages`` are handed to a
callable supplied at install time (``plugin.install(registry, verify_images=hook)``, ``cli.test(...,
verify_images=hook)``)::

    def hook(req: AdmissionRequest, targets: list[VerifyImagesPolicy]) -> Iterable[PolicyResponse] | None

* It runs in the **mutating** phase (Kyverno verifies images in its ``mutate.kyverno.svc-*`` webhook), once per
  request, only when at least one admission-enabled policy has a verifyImages rule that matches the request.
  ``targets`` lists those policies with their matching rules (autogen applied: a Deployment sees
  ``autogen-<rule>`` with the images under ``spec.template``).
* It may mutate ``req.obj`` in place (``mutateDigest``: ``image: docker.io/x:1@sha256:...``), and may append
  to ``req.warnings``.
* It returns one :class:`~.engine.PolicyResponse` per policy with the rule results (``pass``/``fail``/
  ``skip``/``error`` and Kyverno's messages such as ``failed to verify image ...``). The Kyverno layer then
  blocks when a rule whose effective failure action is Enforce failed (or errored under failurePolicy Fail),
  with ``admission webhook "mutate.kyverno.svc-fail" denied the request: ...``, and records the results in
  policy reports. A hook may instead raise ``ApiError.admission_denied(...)`` itself.
* Offline (``cli.test``/``cli.apply``) the same hook is called with a synthetic request (``dry_run=True``,
  ``operation="CREATE"``); it must not raise there, only return results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...apiserver.objects import AdmissionRequest
from . import autogen, policies
from .engine import PolicyResponse, Request
from .match import managed_pod_resource, matches


@dataclass
class VerifyImagesPolicy:
    """One policy with the verifyImages rules that apply to the request."""

    policy: dict[str, Any]
    rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return policies.policy_key(self.policy)

    @property
    def failure_policy(self) -> str:
        """``Fail`` or ``Ignore``: which ``mutate.kyverno.svc-*`` webhook answers for this policy."""
        return policies.failure_policy(self.policy)

    def failure_action(self, rule: Mapping[str, Any], namespace: str = "",
                       namespace_labels: Mapping[str, str] | None = None) -> str:
        """``Enforce`` or ``Audit`` for one of :attr:`rules`."""
        return policies.rule_failure_action(self.policy, rule, namespace, namespace_labels)


VerifyImagesHook = Callable[[AdmissionRequest, list[VerifyImagesPolicy]], Iterable[PolicyResponse] | None]


def verify_images_targets(candidates: Iterable[Mapping[str, Any]], req: Request) -> list[VerifyImagesPolicy]:
    """The policies among ``candidates`` whose verifyImages rules match ``req``."""
    out = []
    subject = req.subject
    for policy in candidates:
        if managed_pod_resource(policy, subject):
            continue
        rules = [r for r in autogen.compute_rules(policy) if r.get("verifyImages")
                 and matches(r, subject, operation=req.operation, subresource=req.subresource,
                             namespace_labels=req.namespace_labels, info=req.info,
                             policy_namespace=policies.policy_namespace(policy)) is None]
        if rules:
            out.append(VerifyImagesPolicy(dict(policy), rules))
    return out
