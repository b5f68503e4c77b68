"""The offline Kyverno CLI (``kyverno test``/``kyverno apply``) against the upstream peer tests."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
import yaml

from labhelpers.sandbox.admission.kyverno import cli
from labhelpers.sandbox.admission.kyverno.engine import PolicyResponse
from labhelpers.sandbox.admission.kyverno.results import RuleResult, RuleStatus


def _shared() -> Path:
    env = os.environ.get("LAB_SHARED")
    return Path(env) if env else (Path(__file__).resolve().parents[2].parent / "shared").resolve()


PEER = _shared() / "conformance" / "kyverno-peer-tests"
TEST_FILES = sorted(PEER.rglob("kyverno-test.yaml"))
NEEDS_REGISTRY = "verifies real signatures of ghcr.io/kyverno/test-verify-image (network + the verifyImages hook)"


def _needs_image_verification(path: Path) -> bool:
    docs = cli.load_documents([path.parent / p for p in (yaml.safe_load(path.read_text()).get("policies") or [])])
    return any(r.get("verifyImages") for d in docs for r in (d.get("spec") or {}).get("rules") or [])


def _params() -> list:
    out = []
    for f in TEST_FILES:
        marks = [pytest.mark.skip(reason=NEEDS_REGISTRY)] if _needs_image_verification(f) else []
        out.append(pytest.param(f, id=str(f.relative_to(PEER).parent), marks=marks))
    return out


def test_peer_tests_are_found() -> None:
    assert len(TEST_FILES) >= 8


@pytest.mark.parametrize("path", _params())
def test_peer_kyverno_test(path: Path) -> None:
    report = cli.test(path)
    assert report.rows, "no test rows"
    failures = [r for r in report.rows if not r.passed]
    assert not failures, failures
    # every expectation was checked against a real rule response (none were vacuously "Excluded")
    assert all(r.reason == "Ok" for r in report.rows), [r for r in report.rows if r.reason != "Ok"]
    expected = sum(len(t.get("resources") or [t.get("resource")]) for t in yaml.safe_load(path.read_text())["results"])
    assert len(report.rows) >= expected
    assert report.output.rstrip().endswith(f"Test Summary: {len(report.rows)} tests passed and 0 tests failed")


def test_verify_signature_without_hook_fails_loudly() -> None:
    path = PEER / "kyverno-kyverno/test/cli/test/images/verify-signature/kyverno-test.yaml"
    report = cli.test(path)
    assert report.failed == 4
    assert all(r.got == "skip" and r.message == cli.NO_VERIFIER for r in report.rows)


def test_verify_images_hook_results_are_used() -> None:
    path = PEER / "kyverno-kyverno/test/cli/test/images/verify-signature/kyverno-test.yaml"
    seen = []

    def hook(req, targets):  # a fake verifier: "signed" images pass, everything else fails
        seen.append((req.operation, req.dry_run, [t.key for t in targets]))
        image = json.dumps(req.obj)
        status = RuleStatus.PASS if ":signed" in image and ":signed-" not in image else RuleStatus.FAIL
        return [PolicyResponse(t.policy, [RuleResult(r["name"], status, "fake") for r in t.rules]) for t in targets]

    report = cli.test(path, verify_images=hook)
    assert report.failed == 0, report.rows
    assert ("CREATE", True, ["check-image"]) in seen


def test_wrong_expectation_is_reported(tmp_path: Path) -> None:
    path = PEER / "kyverno-policies/best-practices/require-labels/.kyverno-test/kyverno-test.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["results"][0]["result"] = "pass"  # badpod01/badpod02 really fail
    spec["policies"] = [str(path.parent / p) for p in spec["policies"]]
    spec["resources"] = [str(path.parent / p) for p in spec["resources"]]
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump(spec))
    report = cli.test(tmp_path)
    bad = [r for r in report.rows if not r.passed]
    assert [(r.resource, r.reason) for r in bad] == [("Pod/badpod01", "Want pass, got fail"),
                                                     ("Pod/badpod02", "Want pass, got fail")]
    assert report.summary == "Test Summary: 2 tests passed and 2 tests failed"


def test_missing_resource_is_not_found(tmp_path: Path) -> None:
    base = PEER / "kyverno-policies/best-practices/require-labels"
    (tmp_path / "kyverno-test.yaml").write_text(yaml.safe_dump({
        "apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test", "metadata": {"name": "t"},
        "policies": [str(base / "require-labels.yaml")], "resources": [str(base / ".kyverno-test/resource.yaml")],
        "results": [{"policy": "require-labels", "rule": "check-for-labels", "kind": "Pod", "resources": ["nope"],
                     "result": "pass"}]}))
    report = cli.test(tmp_path)
    assert [(r.result, r.reason) for r in report.rows] == [("Fail", "Not found")]


def test_apply_results_and_output() -> None:
    base = PEER / "kyverno-policies/best-practices/restrict-image-registries"
    results = cli.apply([base / "restrict-image-registries.yaml"], [base / ".kyverno-test/resource.yaml"])
    by_name = {r["resource"]: r for r in results}
    assert by_name["Pod/badpod01"]["result"] == "fail"
    assert by_name["Pod/badpod01"]["message"] == ("validation error: Unknown image registry. rule validate-registries "
                                                  "failed at path /spec/containers/0/image/")
    assert by_name["Pod/goodpod03"] == {"policy": "restrict-image-registries", "rule": "validate-registries",
                                        "resource": "Pod/goodpod03", "kind": "Pod", "result": "pass",
                                        "message": "validation rule 'validate-registries' passed."}
    text = cli.format_apply(results, 1, 7)
    assert text.startswith("Applying 1 policy rule(s) to 7 resource(s)...\n")
    assert "policy restrict-image-registries -> resource Pod/badpod04 failed:\n1. validate-registries: " in text
    assert text.rstrip().endswith("pass: 3, fail: 4, warn: 0, error: 0, skip: 0")


def test_add_cli_parses_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser(prog="labctl")
    sub = p.add_subparsers(dest="cmd", required=True)
    cli.add_cli(sub)
    base = PEER / "kyverno-policies/best-practices/require-labels"
    args = p.parse_args(["policy", "apply", str(base / "require-labels.yaml"), "--resource",
                         str(base / ".kyverno-test/resource.yaml"), "-o", "json"])
    assert args.func(args) == 0
    assert [r["result"] for r in json.loads(capsys.readouterr().out)] == ["fail", "fail", "pass", "pass"]
    args = p.parse_args(["policy", "test", str(base)])
    assert args.func(args) == 0
    assert "Test Summary: 4 tests passed and 0 tests failed" in capsys.readouterr().out


def test_no_tests_found(tmp_path: Path) -> None:
    report = cli.test(tmp_path)
    assert report.files == [] and report.output == "No test yamls available\n"
