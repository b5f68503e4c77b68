"""08-verification: the seed's verification script, its bugs, a corrected script and the Python checks."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "08-verification.ipynb"
TITLE = "Lab 03 · 08 Verification"
# This notebook verifies what 01-07 built; `labctl regress` gives every notebook a fresh cluster, so it asks for the
# prepare step (labhelpers.course.prepare_lab) when it runs this one on its own.
METADATA = {"labhelpers": {"regress": {"parameters": {"prepare": True}}}}

SEED_SCRIPT = r'''
cat > test-registry-security.sh <<'EOF'

#!/bin/bash

echo "=== Registry Security Lab Verification ==="

# Test 1: ImagePullSecret exists

echo "Test 1: Check ImagePullSecret"
kubectl get secret dockerhub-secret -n registry-lab &>/dev/null
echo $?  == 0 ]] && echo "✅ ImagePullSecret exists" || echo "❌ ImagePullSecret missing"

# Test 2: ServiceAccount has imagePullSecrets

echo ""
echo "Test 2: Check ServiceAccount"
kubectl get sa registry-sa -n registry-lab -o jsonpath='{.imagePullSecrets}' | grep -q "dockerhub-secret"
if [ $? -eq 0 ]; then
  echo "✅ ServiceAccount configured"
else
  echo "❌ ServiceAccount not configured"
fi

# Test 3: Multi-registry secret

echo ""
echo "Test 3: Check multi-registry secret"
kubectl get secret multi-registry-secret -n registry-lab &>/dev/null
if [ $? -eq 0 ]; then
  NUM_REGISTRIES=$(kubectl get secret multi-registry-secret -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d | jq '.auths | length')
  echo "✅ Multi-registry secret exists with $NUM_REGISTRIES registries"
else
  echo "❌ Multi-registry secret missing"
fi

# Test 4: Kyverno installed

echo ""
echo "Test 4: Check Kyverno"
kubectl get deployment -n kyverno kyverno &>/dev/null
if [ $? -eq 0 ]; then
  echo "✅ Kyverno installed"
else
  echo "⚠️  Kyverno not installed"
fi

echo ""
echo "=== Tests Complete ==="
EOF

chmod +x test-registry-security.sh
'''

FIXED_SCRIPT = r'''
cat > verify-registry-security.sh <<'EOF'
#!/usr/bin/env bash
# Lab 03 verification: exits with the number of failed checks (0 = all passed).
set -u
NS="${1:-registry-lab}"
failed=0
pass() { echo "✅ $1"; }
fail() { echo "❌ $1"; failed=$((failed + 1)); }

echo "=== Registry Security Lab Verification (namespace $NS) ==="

echo "Test 1: Check ImagePullSecret"
if kubectl get secret dockerhub-secret -n "$NS" >/dev/null 2>&1; then
  pass "ImagePullSecret exists"
else
  fail "ImagePullSecret missing"
fi

echo "Test 2: Check ServiceAccount"
if kubectl get sa registry-sa -n "$NS" -o jsonpath='{.imagePullSecrets[*].name}' 2>/dev/null \
    | tr ' ' '\n' | grep -qx dockerhub-secret; then
  pass "ServiceAccount configured"
else
  fail "ServiceAccount not configured"
fi

echo "Test 3: Check multi-registry secret"
if config=$(kubectl get secret multi-registry-secret -n "$NS" -o jsonpath='{.data.\.dockerconfigjson}' 2>/dev/null) \
    && [ -n "$config" ]; then
  count=$(printf '%s' "$config" | base64 -d | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["auths"]))')
  if [ "$count" -ge 3 ]; then pass "Multi-registry secret exists with $count registries"
  else fail "Multi-registry secret has only $count registries"; fi
else
  fail "Multi-registry secret missing"
fi

echo "Test 4: Check Kyverno"
if kubectl get deployment -n kyverno kyverno >/dev/null 2>&1; then
  echo "✅ Kyverno installed"
else
  echo "⚠️  Kyverno not installed (optional: notebook 06)"
fi

echo "=== $failed check(s) failed ==="
exit "$failed"
EOF
chmod +x verify-registry-security.sh
'''


def cells():
    return [
        header("08 · Verification", "Verification", [
            "run the seed's verification script and find out why it cannot fail",
            "write a verification script that reports failures with its exit status",
            "verify the whole lab from Python with `labhelpers.checks`",
        ], 10, "seed: *Verification Script*"),
        md("""
            ## A check that cannot fail is not a check

            A verification script is only useful if it says ❌ when something is missing, and if a machine (CI, a
            grader) can tell from its exit status. The seed's script has four problems; we run it as written first,
            then fix it.
            """),
        parameters(("prepare", "False", "True: first do the exercises of 01-07 whose result is missing "
                                        "(to run this notebook on its own)")),
        *setup(),
        md("""
            This notebook checks what notebooks 01–07 built in the lab namespace. If you skipped some of them (or
            want to see the checks pass first), set `prepare = True` in the parameters cell: the next cell then does
            the exercises whose result is missing, with the seed's demo values, and says what it created.
            `labctl regress`, which runs every notebook on a fresh cluster, runs this one that way.
            """),
        code("""
            # Optional: build what notebooks 01-07 leave behind (only what is missing; prepare = True to run it).
            if prepare:
                from labhelpers import course

                display(course.prepare_lab(api, ns))
            else:
                print("prepare = False: verifying the lab as notebooks 01-07 left it")
            """, "prepare"),
        md("""
            ## The seed's script

            The next cell writes the script exactly as the seed does (including the blank line before
            `#!/bin/bash`) and runs it against `registry-lab`, where notebooks 01–03 created everything it checks.
            """),
        code("# Write the seed's script as it is, and run it (./script, from bash, as the seed does).\n"
             'seed_script = r"""' + SEED_SCRIPT + '"""\n'
             "sh(seed_script, cwd=work)\n"
             'seed_run = sh("./test-registry-security.sh", cwd=work)', "seed-run"),
        predict("""
            Now point the same script at a namespace that holds **nothing** (`registry-lab-empty`). What does
            Test 1 print?""", [
            "❌ ImagePullSecret missing",
            "✅ ImagePullSecret exists",
            "an error from bash about `]]`",
        ], "predict-test1"),
        code("""
            # Observe: the seed's script against an empty namespace.
            empty = f"{ns}-empty"
            ensure_namespace(empty)
            script = (work / "test-registry-security.sh").read_text().replace("-n registry-lab", f"-n {empty}")
            (work / "test-registry-security-empty.sh").write_text(script)
            (work / "test-registry-security-empty.sh").chmod(0o755)
            empty_run = sh("./test-registry-security-empty.sh", cwd=work)
            print("exit status:", empty_run.returncode)
            """, "observe-test1"),
        explain("Why: the four bugs", """
            1. **Test 1 cannot fail.** `echo $?  == 0 ]] && ...` lost its `[[`: it *prints* `0 == 0 ]]` (or
               `1 == 0 ]]`), and `echo` always succeeds, so `&&` always prints ✅. The fix is `if kubectl get ...;
               then`, which tests the command itself.
            2. **The shebang is not on the first line.** The heredoc starts with an empty line, so `#!/bin/bash` is
               line 2 and the file has no interpreter line. bash runs such a file itself when you type
               `./test-registry-security.sh` (that is why it worked above), but anything else that executes it
               (CI runners, `subprocess`, cron, `exec`) gets *Exec format error* (see the next cell), and `sh
               test-registry-security.sh` runs it with a POSIX shell where `&>/dev/null` means "run in the
               background, then redirect nothing".
            3. **Test 3 never counts.** `'{.data.\\\\.dockerconfigjson}'` selects nothing (notebook 01), so
               `base64 -d` and `jq` get empty input and the line reads *exists with  registries*. The command also
               lacks `-n registry-lab`, so it only works if the context's default namespace is right.
            4. **The exit status is always 0**, so a CI job or a grader running the script cannot tell success
               from failure.
            """),
        code("""
            # Bug 2, observed: executing the file directly (what CI runners, cron or subprocess do).
            import subprocess

            try:
                subprocess.run([str(work / "test-registry-security.sh")], capture_output=True, check=False)
                print("ran (the file has an interpreter line)")
            except OSError as e:
                print(f"OSError: {e.strerror} (errno {e.errno}): no #! on the first line")
            print("first two lines:", (work / "test-registry-security.sh").read_text().splitlines()[:2])
            """, "observe-shebang"),
        md("""
            ## A corrected script

            `#!` on the first line, the namespace as a parameter, `if command; then` instead of testing `$?`, the
            jsonpath with a single backslash, no `jq` dependency, and the number of failed checks as the exit
            status.
            """),
        code("# The corrected script, run against registry-lab and against the empty namespace.\n"
             'fixed_script = r"""' + FIXED_SCRIPT + '"""\n'
             "sh(fixed_script, cwd=work)\n"
             'good_run = sh(f"./verify-registry-security.sh {ns}", cwd=work)\n'
             'empty_fixed = sh(f"./verify-registry-security.sh {empty}", cwd=work)\n'
             'pd.DataFrame([{"namespace": ns, "exit status": good_run.returncode},\n'
             '              {"namespace": empty, "exit status": empty_fixed.returncode}]).set_index("namespace")',
             "fixed-run"),
        md("""
            ## The same verification in Python

            `labhelpers.checks.lab03_checks` is the seed's script as Python checks: each line says what is wrong
            and how to fix it. Below it, a check of every part of the course.
            """),
        code("""
            # The seed's four tests as Python checks, against the lab namespace and against the empty one.
            _ = checks.lab03_checks(api, ns).run()
            print()
            _ = checks.lab03_checks(api, empty).run()
            """, "python-checks"),
        code("""
            # The whole course: one check per exercise, as a table.
            def pod_running(selector):
                table = pods.pods_table(api, ns, selector=selector)
                return (table["STATUS"] == "Running").any(), ", ".join(f"{r.NAME} {r.STATUS}" for r in table.itertuples())


            course = checks.Checks("Lab 03 course verification")
            course.add(lambda: checks.secret_exists(api, "dockerhub-secret", ns), "Ex 1: dockerhub-secret",
                       "Ex 1: dockerhub-secret missing", "notebook 01, Exercise 1")
            course.add(lambda: checks.secret_exists(api, "docker-config-secret", ns), "Ex 2: docker-config-secret",
                       "Ex 2: docker-config-secret missing", "notebook 01, Exercise 2")
            course.add(lambda: checks.secret_exists(api, "manual-registry-secret", ns), "Ex 3: manual-registry-secret",
                       "Ex 3: manual-registry-secret missing", "notebook 01, Exercise 3")
            course.add(lambda: pod_running("app=private-app"), "Ex 4: private-app runs", "Ex 4: private-app not running",
                       "notebook 02, Exercise 4")
            course.add(lambda: checks.serviceaccount_has_pull_secret(api, "registry-sa", "dockerhub-secret", ns),
                       "Ex 5: registry-sa carries the secret", "Ex 5: registry-sa lacks the secret", "notebook 02, Exercise 5")
            course.add(lambda: checks.serviceaccount_has_pull_secret(api, "default", "dockerhub-secret", ns),
                       "Ex 6: default ServiceAccount patched", "Ex 6: default ServiceAccount not patched",
                       "notebook 02, Exercise 6")
            course.add(lambda: checks.secret_registry_count(api, "multi-registry-secret", ns, 3),
                       "Ex 7: multi-registry-secret", "Ex 7: multi-registry-secret incomplete", "notebook 03")
            for n, secret in ((8, "ecr-secret"), (9, "gcr-secret"), (9, "gar-secret"), (10, "acr-secret"),
                              (10, "acr-sp-secret")):
                course.add(lambda secret=secret: checks.secret_exists(api, secret, ns), f"Ex {n}: {secret}",
                           f"Ex {n}: {secret} missing", f"notebook 04, Exercise {n}")
            course.add(lambda: checks.pod_ready(api, "broken-pod", ns), "Ex 15: broken-pod fixed",
                       "Ex 15: broken-pod not fixed", "notebook 07, Exercise 15")
            course.run(quiet=True)
            course.table()
            """, "course-checks"),
        md("## Self-check"),
        code("""
            # Self-check: a verification that can fail, and a lab that passes it.
            verify = checks.Checks("Self-check: verification")
            verify.add(lambda: (good_run.returncode == 0, f"exit status {good_run.returncode}"),
                       f"the corrected script passes on {ns}", f"the corrected script fails on {ns}",
                       "read its ❌ lines: they name the exercise to redo")
            verify.add(lambda: (empty_fixed.returncode > 0, f"exit status {empty_fixed.returncode}"),
                       f"the corrected script fails on the empty namespace {empty}",
                       "the corrected script does not fail on an empty namespace",
                       "each test must use `if command; then` and count failures into the exit status")
            verify.add(lambda: (course.ok, f"{sum(r.ok for r in course.results)}/{len(course.results)} checks"),
                       "every exercise verified", "some exercises are not done", "see the table above")
            _ = verify.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **Test 4 (Kyverno)**: the seed installs Kyverno 1.11 from a release manifest; Kyverno has since moved
              on (and added new policy types). Notebook 06 covers admission policies.
            - **Scripts in CI**: runners execute scripts directly and read the exit status; write `#!/usr/bin/env
              bash` on the first line, and consider `set -euo pipefail` for scripts that should stop at the first
              error (a checker like this one deliberately keeps going and counts failures instead).

            Next: **09-cleanup**.
            """),
    ]
