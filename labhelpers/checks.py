"""Self-checks for notebooks: ✅/❌ lines that say what is wrong and how to fix it.

A check is a function that reads the cluster's real state and returns ``True``/``False`` (or ``(ok, detail)``);
an exception counts as a failure whose message becomes the detail, so a missing object never turns into a
traceback. Lines go to stdout only, which keeps graded notebook outputs clean.

    checks = Checks("Lab 03")
    checks.add(lambda: secret_exists(api, "dockerhub-secret", "registry-lab"),
               "ImagePullSecret exists", "ImagePullSecret missing",
               "kubectl create secret docker-registry dockerhub-secret ... -n registry-lab")
    checks.run()

:func:`lab03_checks` is the seed's verification script as such a collection.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from . import _kube
from ._display import FAIL, OK, WARN, LabTable, lab_table

__all__ = [
    "Check",
    "CheckResult",
    "Checks",
    "check",
    "deployment_exists",
    "lab03_checks",
    "pod_ready",
    "secret_exists",
    "secret_registry_count",
    "serviceaccount_has_pull_secret",
]

Outcome = bool | tuple[bool, str]


@dataclass
class CheckResult:
    """The outcome of one check; ``bool(result)`` is ``ok``."""

    ok: bool
    message: str
    detail: str = ""
    hint: str = ""
    level: str = "error"  # "error" -> ❌ when failing, "warning" -> ⚠️

    def __bool__(self) -> bool:
        return self.ok

    @property
    def glyph(self) -> str:
        return OK if self.ok else (WARN if self.level == "warning" else FAIL)

    @property
    def text(self) -> str:
        lines = [f"{self.glyph} {self.message}" + (f" ({self.detail})" if self.ok and self.detail else "")]
        if not self.ok:
            if self.detail:
                lines.append(f"   what is wrong: {self.detail}")
            if self.hint:
                lines.append(f"   how to fix: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


def _evaluate(condition_fn: Callable[[], Any]) -> tuple[bool, str]:
    try:
        outcome = condition_fn()
    except _kube.ApiException as e:
        return False, _kube.server_error_text(e)
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"
    if isinstance(outcome, tuple):
        ok, detail = outcome[0], outcome[1] if len(outcome) > 1 else ""
        return bool(ok), str(detail or "")
    return bool(outcome), ""


def check(condition_fn: Callable[[], Outcome], ok_message: str, fail_message: str, hint: str = "", *,
          level: str = "error", quiet: bool = False) -> CheckResult:
    """Run one check and print its ✅/❌ line (and, on failure, what is wrong and how to fix it) to stdout.

    Args:
        condition_fn: returns a bool or ``(bool, detail)``; an exception is a failure with its message as detail.
        ok_message: printed after ✅.
        fail_message: printed after ❌ (or ⚠️ for ``level="warning"``).
        hint: how to fix it.
        level: ``"error"`` or ``"warning"`` (a failing warning is shown with ⚠️).
        quiet: do not print.
    """
    ok, detail = _evaluate(condition_fn)
    result = CheckResult(ok, ok_message if ok else fail_message, detail, hint, level)
    if not quiet:
        print(result.text, flush=True)
    return result


@dataclass
class Check:
    condition_fn: Callable[[], Outcome]
    ok_message: str
    fail_message: str
    hint: str = ""
    level: str = "error"
    title: str = ""


@dataclass
class Checks:
    """An ordered collection of checks run together, like the seed's ``test-registry-security.sh``."""

    title: str = ""
    checks: list[Check] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)

    def add(self, condition_fn: Callable[[], Outcome], ok_message: str, fail_message: str, hint: str = "", *,
            level: str = "error", title: str = "") -> Checks:
        """Add a check (see :func:`check`); returns self so calls can be chained."""
        self.checks.append(Check(condition_fn, ok_message, fail_message, hint, level, title))
        return self

    def run(self, quiet: bool = False) -> list[CheckResult]:
        """Run every check in order, print the lines and a summary to stdout, return the results."""
        say = (lambda *_a: None) if quiet else (lambda text="": print(text, flush=True))
        if self.title:
            say(f"=== {self.title} ===")
        self.results = []
        for c in self.checks:
            if c.title:
                say(c.title)
            self.results.append(check(c.condition_fn, c.ok_message, c.fail_message, c.hint, level=c.level,
                                      quiet=quiet))
        failed = sum(1 for r in self.results if not r.ok and r.level == "error")
        warned = sum(1 for r in self.results if not r.ok and r.level == "warning")
        summary = f"{len(self.results) - failed - warned} passed, {failed} failed"
        say(summary + (f", {warned} warnings" if warned else ""))
        return self.results

    @property
    def ok(self) -> bool:
        return all(r.ok or r.level == "warning" for r in self.results)

    def table(self) -> LabTable:
        """The last run as a table (check, result, what is wrong, how to fix)."""
        rows = [[f"{r.glyph} {r.message}", "ok" if r.ok else r.level, "" if r.ok else r.detail,
                 "" if r.ok else r.hint] for r in self.results]
        return lab_table(rows, ["check", "result", "what is wrong", "how to fix"], caption=self.title)


# --- ready-made conditions (each reads the cluster) -----------------------------------------------------------


def secret_exists(api: client.ApiClient, name: str, namespace: str) -> tuple[bool, str]:
    """The secret exists (detail says where else it exists when it is in another namespace)."""
    v1 = _kube.core(api)
    try:
        secret = _kube.raw(v1.read_namespaced_secret, name, namespace)
    except _kube.ApiException as e:
        if e.status != 404:
            raise
        try:
            found = _kube.raw(v1.list_secret_for_all_namespaces, field_selector=f"metadata.name={name}")
            where = sorted({s["metadata"]["namespace"] for s in found.get("items") or []})
        except _kube.ApiException:
            where = []
        if where:
            return False, f'secret "{name}" is not in {namespace} but in {", ".join(where)}'
        return False, f'secrets "{name}" not found in namespace {namespace}'
    return True, f"type {secret.get('type')}"


def serviceaccount_has_pull_secret(api: client.ApiClient, sa: str, secret: str, namespace: str) -> tuple[bool, str]:
    """The ServiceAccount lists ``secret`` under imagePullSecrets."""
    obj = _kube.raw(_kube.core(api).read_namespaced_service_account, sa, namespace)
    names = [r.get("name") for r in obj.get("imagePullSecrets") or []]
    if secret in names:
        return True, ""
    return False, f"serviceaccount {sa} has imagePullSecrets {names or '<none>'}"


def secret_registry_count(api: client.ApiClient, name: str, namespace: str, minimum: int = 1) -> tuple[bool, str]:
    """The dockerconfigjson secret has at least ``minimum`` registries under ``auths``."""
    obj = _kube.raw(_kube.core(api).read_namespaced_secret, name, namespace)
    raw = (obj.get("data") or {}).get(".dockerconfigjson")
    if not raw:
        return False, f"secret {name} has no .dockerconfigjson key (type {obj.get('type')})"
    auths = json.loads(base64.b64decode(raw)).get("auths") or {}
    registries = ", ".join(auths)
    if len(auths) >= minimum:
        return True, f"{len(auths)} registries: {registries}"
    return False, f"secret {name} has {len(auths)} registries ({registries or 'none'}), expected {minimum}"


def deployment_exists(api: client.ApiClient, name: str, namespace: str) -> tuple[bool, str]:
    _kube.raw(client.AppsV1Api(api).read_namespaced_deployment, name, namespace)
    return True, ""


def pod_ready(api: client.ApiClient, name: str, namespace: str) -> tuple[bool, str]:
    """The pod is Ready; otherwise the detail is the diagnosis' first line and issue."""
    pod = _kube.raw(_kube.core(api).read_namespaced_pod, name, namespace)
    conditions = (pod.get("status") or {}).get("conditions") or []
    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
        return True, ""
    from .pods import diagnose

    d = diagnose(api, name, namespace)
    return False, f"{d.status}; {'; '.join(d.issues) or 'not ready yet'}"


def lab03_checks(api: client.ApiClient, namespace: str = "registry-lab") -> Checks:
    """The seed's verification script (``test-registry-security.sh``) as :class:`Checks`; call ``.run()``."""
    checks = Checks("Registry Security Lab Verification")
    checks.add(lambda: secret_exists(api, "dockerhub-secret", namespace),
               "ImagePullSecret exists", "ImagePullSecret missing",
               f"kubectl create secret docker-registry dockerhub-secret --docker-server=https://index.docker.io/v1/ "
               f"--docker-username=your-username --docker-password=<password> -n {namespace} (Exercise 1)",
               title="Test 1: Check ImagePullSecret")
    checks.add(lambda: serviceaccount_has_pull_secret(api, "registry-sa", "dockerhub-secret", namespace),
               "ServiceAccount configured", "ServiceAccount not configured",
               "apply serviceaccount-with-secret.yaml (Exercise 5): registry-sa with imagePullSecrets: "
               "[{name: dockerhub-secret}]", title="Test 2: Check ServiceAccount")
    checks.add(lambda: secret_registry_count(api, "multi-registry-secret", namespace, 3),
               "Multi-registry secret exists", "Multi-registry secret missing",
               "create docker-config.json with docker.io, ghcr.io and myregistry.com and kubectl create secret "
               "generic multi-registry-secret --from-file=.dockerconfigjson=docker-config.json "
               f"--type=kubernetes.io/dockerconfigjson -n {namespace} (Exercise 7)",
               title="Test 3: Check multi-registry secret")
    checks.add(lambda: deployment_exists(api, "kyverno", "kyverno"), "Kyverno installed",
               "Kyverno not installed", "Exercise 12 installs Kyverno", level="warning",
               title="Test 4: Check Kyverno")
    return checks
