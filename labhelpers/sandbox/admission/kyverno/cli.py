"""Offline policy tools mirroring the Kyverno CLI: ``kyverno apply`` and ``kyverno test``.

``labctl policy apply POLICY.yaml --resource RES.yaml [-o json]`` applies policies to resources without a
cluster; ``labctl policy test DIR`` runs every ``kyverno-test.yaml`` (``cli.kyverno.io/v1alpha1`` Test) below
DIR and prints ``Test Summary: N tests passed and M tests failed``. Resources are evaluated as a CREATE
request. ClusterPolicy/Policy, ValidatingAdmissionPolicy and ValidatingPolicy documents are understood;
verifyImages rules need the image-verification hook (:mod:`.hooks`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import celpolicies, engine, policies
from .hooks import VerifyImagesHook, verify_images_targets
from .results import RuleResult, RuleStatus

NO_VERIFIER = "verifyImages rules need an image verifier, and none is configured"
TEST_FILE = "kyverno-test.yaml"


# --- loading --------------------------------------------------------------------------------------------


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file()))
        else:
            out.append(p)
    return out


def load_documents(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every YAML document (``List`` kinds expanded) from files or directories."""
    docs: list[dict[str, Any]] = []
    for f in _files(paths):
        for doc in yaml.safe_load_all(f.read_text()):
            if not isinstance(doc, dict):
                continue
            if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
                docs.extend(d for d in doc["items"] if isinstance(d, dict))
            else:
                docs.append(doc)
    return docs


def is_supported_policy(doc: Mapping[str, Any]) -> bool:
    return policies.is_policy(doc) or celpolicies.is_vap(doc) or celpolicies.is_vpol(doc)


# --- evaluation -----------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """One policy applied to one resource."""

    policy: dict[str, Any]
    resource: dict[str, Any]
    response: engine.PolicyResponse

    @property
    def policy_name(self) -> str:
        meta = self.policy.get("metadata") or {}
        return policies.policy_key(self.policy) if policies.is_policy(self.policy) else meta.get("name", "")


def _request(resource: Mapping[str, Any]) -> engine.Request:
    return engine.Request("CREATE", dict(resource), dry_run=True)


def _verify(policy: dict[str, Any], resource: dict[str, Any], hook: VerifyImagesHook | None) -> list[RuleResult]:
    req = _request(resource)
    targets = verify_images_targets([policy], req)
    if not targets:
        return []
    if hook is None:
        return [RuleResult(r["name"], RuleStatus.SKIP, NO_VERIFIER) for t in targets for r in t.rules]
    from ...apiserver import resources as res
    from ...apiserver.objects import AdmissionRequest

    rt = res.by_kind(resource.get("apiVersion", ""), resource.get("kind", "")) or res.ResourceType(
        *((resource.get("apiVersion", "").rpartition("/")[0], resource.get("apiVersion", "").rpartition("/")[2])),
        resource.get("kind", ""), str(resource.get("kind", "")).lower() + "s")
    meta = resource.get("metadata") or {}
    areq = AdmissionRequest("CREATE", rt, meta.get("namespace", ""), meta.get("name", ""), resource, None, True)
    out: list[RuleResult] = []
    for resp in hook(areq, targets) or []:
        out.extend(resp.results)
    return out


def evaluate(docs_policies: Iterable[Mapping[str, Any]], resources: Iterable[Mapping[str, Any]],
             verify_images: VerifyImagesHook | None = None) -> list[Evaluation]:
    """Every policy applied to every resource, in input order."""
    out = []
    resources = [dict(r) for r in resources]
    for pol in docs_policies:
        pol = dict(pol)
        for resource in resources:
            req = _request(resource)
            if policies.is_policy(pol):
                resp = engine.evaluate(pol, req)
                resp.results.extend(_verify(pol, resource, verify_images))
            else:
                resp = celpolicies.evaluate(pol, req)
            out.append(Evaluation(pol, resource, resp))
    return out


def _resource_label(resource: Mapping[str, Any]) -> str:
    meta = resource.get("metadata") or {}
    ns = meta.get("namespace", "")
    kind_name = f"{resource.get('kind', '')}/{meta.get('name', '')}"
    return f"{ns}/{kind_name}" if ns else kind_name


def apply(policy_paths: Iterable[str | Path], resource_paths: Iterable[str | Path],
          verify_images: VerifyImagesHook | None = None) -> list[dict[str, Any]]:
    """``kyverno apply``: one entry per rule response, in policy then resource order."""
    docs = load_documents(policy_paths)
    pols = [d for d in docs if is_supported_policy(d)]
    resources = [d for d in load_documents(resource_paths) if not is_supported_policy(d)]
    out = []
    for ev in evaluate(pols, resources, verify_images):
        for r in ev.response.results:
            out.append({"policy": ev.policy_name, "rule": r.name, "resource": _resource_label(ev.resource),
                        "kind": ev.resource.get("kind", ""), "result": r.status.value, "message": r.message})
    return out


def format_apply(results: list[dict[str, Any]], n_rules: int, n_resources: int) -> str:
    """The human output of ``kyverno apply``."""
    lines = [f"Applying {n_rules} policy rule(s) to {n_resources} resource(s)...", ""]
    failed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        if r["result"] == "fail":
            failed.setdefault((r["policy"], r["resource"]), []).append(r)
    for (pol, resource), items in failed.items():
        lines.append(f"policy {pol} -> resource {resource} failed:")
        for i, r in enumerate(items, 1):
            lines.append(f"{i}. {r['rule']}: {r['message']}")
        lines.append("")
    counts = {s.value: 0 for s in RuleStatus}
    for r in results:
        counts[r["result"]] += 1
    lines.append(f"pass: {counts['pass']}, fail: {counts['fail']}, warn: {counts['warn']}, "
                 f"error: {counts['error']}, skip: {counts['skip']} ")
    return "\n".join(lines) + "\n"


# --- kyverno test ---------------------------------------------------------------------------------------


@dataclass
class TestRow:
    id: int
    policy: str
    rule: str
    resource: str
    result: str  # Pass | Fail
    reason: str
    want: str = ""
    got: str = ""
    message: str = ""
    test_file: str = ""

    @property
    def passed(self) -> bool:
        return self.result == "Pass"


@dataclass
class TestReport:
    rows: list[TestRow] = field(default_factory=list)
    skipped: int = 0
    files: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.rows) - self.skipped

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.rows)

    @property
    def summary(self) -> str:
        return f"Test Summary: {self.passed + self.skipped} tests passed and {self.failed} tests failed"


def _names(test: Mapping[str, Any]) -> list[str]:
    if test.get("resources") is not None:
        return list(test["resources"])
    return [test["resource"]] if test.get("resource") else []


def _rule_names(rule: str) -> set[str]:
    return {rule, f"autogen-{rule}", f"autogen-cronjob-{rule}"}


def _select(evaluations: list[Evaluation], test: Mapping[str, Any], resource: str) -> list[Evaluation]:
    want_ns, _, want_name = resource.rpartition("/")
    out = []
    for ev in evaluations:
        meta = ev.resource.get("metadata") or {}
        if ev.policy_name != test.get("policy") and (ev.policy.get("metadata") or {}).get("name") != test.get("policy"):
            continue
        if test.get("kind") and ev.resource.get("kind") != test["kind"]:
            continue
        if meta.get("name") != want_name or (want_ns and meta.get("namespace", "") != want_ns):
            continue
        if test.get("namespace") and meta.get("namespace", "") != test["namespace"]:
            continue
        out.append(ev)
    return out


def _table(rows: list[TestRow]) -> str:
    headers = ["ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"]
    data = [[str(r.id), r.policy, r.rule, r.resource, r.result, r.reason] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(headers, *data, strict=False)]
    sep = "│" + "│".join("─" * (w + 2) for w in widths) + "│"

    def line(cells: list[str]) -> str:
        return "│" + "│".join(f" {c.ljust(w)} " for c, w in zip(cells, widths, strict=True)) + "│"

    return "\n".join([sep, line(headers), sep, *(line(d) for d in data), sep])


def run_test_file(path: Path, verify_images: VerifyImagesHook | None = None, start_id: int = 1) -> TestReport:
    """One ``kyverno-test.yaml``: apply its policies to its resources and compare with ``results``."""
    spec = yaml.safe_load(path.read_text()) or {}
    base = path.parent
    docs = load_documents([base / p for p in spec.get("policies") or []])
    pols = [d for d in docs if is_supported_policy(d)]
    resources = [d for d in load_documents([base / p for p in spec.get("resources") or []])
                 if not is_supported_policy(d)]
    evaluations = evaluate(pols, resources, verify_images)
    report = TestReport(files=[str(path)])
    n = start_id
    for test in spec.get("results") or []:
        want = str(test.get("result", "")).lower()
        for resource in _names(test):
            found = _select(evaluations, test, resource)
            label = f"{test['namespace']}/{test.get('kind', '')}/{resource}" if test.get("namespace") else \
                f"{test.get('kind', '')}/{resource}"
            rows: list[TestRow] = []
            for ev in found:
                for r in ev.response.results:
                    if test.get("rule") and r.name not in _rule_names(test["rule"]):
                        continue
                    ok = r.status.value == want
                    rows.append(TestRow(n, test.get("policy", ""), test.get("rule", ""), label,
                                        "Pass" if ok else "Fail", "Ok" if ok else f"Want {want}, got {r.status.value}",
                                        want, r.status.value, r.message, str(path)))
                    if ok and want == "skip":
                        report.skipped += 1
                    n += 1
                if not rows:
                    rows.append(TestRow(n, test.get("policy", ""), test.get("rule", ""), label, "Pass", "Excluded",
                                        want, "", "Excluded", str(path)))
                    report.skipped += 1
                    n += 1
            if not found:
                rows.append(TestRow(n, test.get("policy", ""), test.get("rule", ""), label, "Fail", "Not found",
                                    want, "", "Not found", str(path)))
                n += 1
            report.rows.extend(rows)
    n_res = len(resources)
    report.output = "\n".join([
        f"Loading test  ( {path} ) ...",
        "  Loading values/variables ...",
        "  Loading policies ...",
        "  Loading resources ...",
        "  Loading exceptions ...",
        f"  Applying {len(pols)} {'policy' if len(pols) == 1 else 'policies'} to {n_res} "
        f"{'resource' if n_res == 1 else 'resources'} ...",
        "  Checking results ...",
        "",
        _table(report.rows),
        "",
    ])
    return report


def find_tests(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if d.is_file():
        return [d]
    return sorted(d.rglob(TEST_FILE))


def test(directory: str | Path, verify_images: VerifyImagesHook | None = None) -> TestReport:
    """``kyverno test DIR``: every ``kyverno-test.yaml`` below DIR, one combined report."""
    total = TestReport()
    outputs = []
    for f in find_tests(directory):
        r = run_test_file(f, verify_images)
        total.rows.extend(r.rows)
        total.skipped += r.skipped
        total.files.extend(r.files)
        outputs.append(r.output)
    if not total.files:
        total.output = "No test yamls available\n"
        return total
    outputs.append("")
    outputs.append(total.summary)
    total.output = "\n".join(outputs) + "\n"
    return total


# --- labctl wiring --------------------------------------------------------------------------------------


def _cmd_apply(args: argparse.Namespace) -> int:
    results = apply(args.policies, args.resource or [])
    if args.output == "json":
        print(json.dumps(results, indent=2))
        return 0
    pols = [d for d in load_documents(args.policies) if is_supported_policy(d)]
    n_rules = sum(len(policies.rules(p)) if policies.is_policy(p) else 1 for p in pols)
    n_res = len([d for d in load_documents(args.resource or []) if not is_supported_policy(d)])
    sys.stdout.write(format_apply(results, n_rules, n_res))
    return 1 if any(r["result"] in ("fail", "error") for r in results) and args.exit_code else 0


def _cmd_test(args: argparse.Namespace) -> int:
    report = test(args.dir)
    sys.stdout.write(report.output)
    if not report.files:
        return 0
    if report.failed:
        print(f"Error: {report.failed} tests failed", file=sys.stderr)
        return 1
    return 0


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``policy apply`` and ``policy test`` to an argparse subparsers object (``labctl policy ...``)."""
    p = subparsers.add_parser("policy", help="apply and test Kyverno policies offline (like the kyverno CLI)")
    ps = p.add_subparsers(dest="action", required=True)
    ap = ps.add_parser("apply", help="apply policies to resource files")
    ap.add_argument("policies", nargs="+", help="policy files or directories")
    ap.add_argument("-r", "--resource", action="append", help="resource file or directory (repeatable)")
    ap.add_argument("-o", "--output", choices=["text", "json"], default="text")
    ap.add_argument("--exit-code", action="store_true", help="exit 1 when a rule fails or errors")
    ap.set_defaults(func=_cmd_apply)
    tp = ps.add_parser("test", help="run kyverno-test.yaml files below a directory")
    tp.add_argument("dir", help="directory (or one kyverno-test.yaml)")
    tp.set_defaults(func=_cmd_test)
    return p
