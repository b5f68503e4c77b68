"""06-admission-control: Exercises 12-14, Kyverno registry and signature policies, Audit vs Enforce, and VAP."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "06-admission-control.ipynb"
TITLE = "Lab 03 · 06 Admission control for registries (Exercises 12-14)"

# The seed's Exercise 13 heredoc, verbatim apart from the single-backslash fix the course applies everywhere.
EXERCISE_13 = r'''
            # Exercise 13 as in the seed: write the policy with a heredoc and apply it.
            sh(r"""
            cat > allowed-registries-policy.yaml <<EOF
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: restrict-registries
            spec:
              validationFailureAction: Enforce
              background: true
              rules:
              - name: validate-registry
                match:
                  any:
                  - resources:
                      kinds:
                      - Pod
                validate:
                  message: "Images must come from approved registries: docker.io/youruser, gcr.io/yourproject, or myregistry.com"
                  pattern:
                    spec:
                      containers:
                      - image: "docker.io/youruser/* | gcr.io/yourproject/* | myregistry.com/*"
            EOF

            kubectl apply -f allowed-registries-policy.yaml
            """, cwd=work)
            '''

# The seed's Exercise 14 heredoc, verbatim: `$(cat cosign.pub | tail -n +2 | head -n -1)` indents only its first line.
EXERCISE_14_SEED = r'''
            # Observe: Exercise 14's heredoc exactly as in the seed, then kubectl apply.
            sh(r"""
            cat > require-signatures-policy.yaml <<EOF
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: verify-image-signatures
            spec:
              validationFailureAction: Enforce
              background: false
              webhookTimeoutSeconds: 30
              rules:
              - name: verify-signature
                match:
                  any:
                  - resources:
                      kinds:
                      - Pod
                verifyImages:
                - imageReferences:
                  - "docker.io/youruser/*"
                  attestors:
                  - count: 1
                    entries:
                    - keys:
                        publicKeys: |-
                          -----BEGIN PUBLIC KEY-----
                          $(cat cosign.pub | tail -n +2 | head -n -1)
                          -----END PUBLIC KEY-----
            EOF
            echo "--- lines 22-27 of the file (cat -A marks each line end with \$):"
            sed -n '22,27p' require-signatures-policy.yaml | cat -A
            kubectl apply -f require-signatures-policy.yaml
            """, cwd=work)
            '''

# The fix: every line of cosign.pub (BEGIN and END included) indented to the block scalar's column.
EXERCISE_14_FIXED = r'''
            # Fix 1: indent every line of the key (sed adds the 14 spaces), so the whole PEM block is inside publicKeys.
            sh(r"""
            cat > require-signatures-policy.yaml <<EOF
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: verify-image-signatures
            spec:
              validationFailureAction: Enforce
              background: false
              webhookTimeoutSeconds: 30
              rules:
              - name: verify-signature
                match:
                  any:
                  - resources:
                      kinds:
                      - Pod
                verifyImages:
                - imageReferences:
                  - "docker.io/youruser/*"
                  attestors:
                  - count: 1
                    entries:
                    - keys:
                        publicKeys: |-
            $(sed 's/^/              /' cosign.pub)
            EOF
            sed -n '22,27p' require-signatures-policy.yaml
            kubectl apply -f require-signatures-policy.yaml
            """, cwd=work)
            '''


def cells():
    return [
        header("06 · Admission control for registries", "Part 6", [
            "install Kyverno without internet access (Exercise 12), and say which release the lab emulates and why the "
            "seed's v1.11.0 URL is stale",
            "restrict registries with a Kyverno `ClusterPolicy` (Exercise 13), read its verdicts per rule as a table, "
            "and close the seed policy's init-container gap",
            "tell Audit from Enforce by what `kubectl` prints and what lands in a PolicyReport",
            "require cosign signatures with `verifyImages` (Exercise 14): fix the seed's broken public-key heredoc, "
            "explain the digest Kyverno pins, and give Kyverno its own registry credentials",
            "write the same registry rule as a native `ValidatingAdmissionPolicy` and compare the denials",
        ], 40, "seed: Part 6, Exercises 12–14"),
        md("""
            ## Admission control in a few paragraphs

            Every create or update reaches the API server's **admission chain** before it is stored: *mutating*
            admission (which may change the object), schema validation, then *validating* admission. Any step may deny
            the request; the client gets the error and **nothing is stored**. Admission controllers come in two kinds:
            built into the API server (among them **ValidatingAdmissionPolicy**, rules written in CEL, GA since
            Kubernetes 1.30) and **webhooks**, HTTPS services the API server calls. Kyverno is the latter: it registers
            `mutate.kyverno.svc-fail` and `validate.kyverno.svc-fail` and evaluates *policies* that are themselves
            Kubernetes objects (`ClusterPolicy`, `Policy`).

            A Kyverno rule gives each request a result: `pass`, `fail`, `warn`, `error` or `skip`. The policy's
            **failure action** decides what a `fail` does: **Enforce** denies the request, **Audit** (the default)
            admits it and records the failure in a **PolicyReport**. Two consequences:

            - Admission judges **requests**, not running pods. A pod created before a policy keeps running; Kyverno's
              *background scan* reports it, and never deletes anything.
            - Admission sees the **image string** in the request, not what the node will pull later. A signature check
              that let the tag through could be undone by a re-push of the tag one second later; that is why Kyverno
              pins the verified digest into the pod (Exercise 14).

            **What the sandbox emulates:** Kyverno's admission controller (webhooks, `ClusterPolicy`/`Policy`, `validate`
            patterns, `verifyImages` with cosign keys, PolicyReports) and its CEL `ValidatingPolicy`, with Kyverno's
            messages character for character, and the API server's native ValidatingAdmissionPolicy. Deviations: of
            Kyverno's newer CEL policy kinds only `ValidatingPolicy` is served, and without the libraries that reach out
            (`resource`, `http`, `globalContext`); `ImageValidatingPolicy` and the others are not (`labctl policy apply`
            evaluates a `ValidatingPolicy` offline, like the Kyverno CLI); there is no transparency log, so signatures
            verify as with `rekor: {ignoreTlog: true}`; keyless attestors are not supported.
            """),
        parameters(
            ("keep_policies", "False", "True keeps this notebook's Enforce policies at the end (they refuse images "
             "that notebooks 07-09 use)"),
            ("interactive", "True", "False shows the policy tester as a plain table (headless runs: an Output widget "
             "can stall papermill, jupyter/nbclient#312)"),
        ),
        *setup(),
        code(r'''
            # Admission helpers: labctl on PATH, re-runnable kubectl run, dry-run verdicts, policy reports as tables.
            import base64
            import json
            import shutil
            import sys

            import yaml

            from labhelpers._display import LabError
            from labhelpers.kyverno import KYVERNO_VERSION
            from labhelpers.widgets import policy_table, policy_tester

            os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]  # labctl


            def require_sandbox(what):
                """Stop with a clear message where a step needs the sandbox's signed images and keys."""
                if sandbox is None:
                    raise LabError(f"{what} uses the lab sandbox's signed images and cosign key",
                                   'set backend = "sandbox", or use an image you signed and its cosign.pub')


            def run_pod(name, image, *extra):
                """kubectl run, after deleting an earlier pod of that name (kubectl run never replaces one)."""
                kubectl("delete", "pod", name, "-n", ns, "--ignore-not-found", "--wait=true", show=False)
                return kubectl("run", name, f"--image={image}", "-n", ns, *extra)


            def admits(image):
                """(admitted, why) for a pod running IMAGE: kubectl run --dry-run=server (nothing is created)."""
                r = kubectl("run", "policy-test", f"--image={image}", "-n", ns, "--dry-run=server", "-o",
                            "jsonpath={.spec.containers[0].image}", show=False)
                if r.ok:
                    pinned = r.stdout.strip()
                    return True, "admitted" + (f"; the pod's image becomes {pinned}" if pinned != image else "")
                return False, r.stderr.strip()


            def policy_reports(pod=None):
                """kubectl get policyreport -n NS, one row per result (optionally for one pod)."""
                out = kubectl("get", "policyreport", "-n", ns, "-o", "json", show=False)
                items = json.loads(out.stdout or "{}").get("items", []) if out.ok else []
                rows = [{"resource": f"{it['scope']['kind']}/{it['scope']['name']}", "policy": r.get("policy"),
                         "rule": r.get("rule"), "result": r.get("result"), "message": r.get("message")}
                        for it in items for r in it.get("results", []) if pod in (None, it["scope"]["name"])]
                return pd.DataFrame(rows, columns=["resource", "policy", "rule", "result", "message"])


            def wait_for_report(pod, policy, timeout=30):
                """Reports are written asynchronously: poll until POD has a result from POLICY."""
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    table = policy_reports(pod)
                    if (table["policy"] == policy).any():
                        return table
                    time.sleep(0.5)
                return policy_reports(pod)


            def verdicts(policy_file, pods_spec):
                """labctl policy apply (the Kyverno CLI's kyverno apply, offline): one row per test pod and rule."""
                docs = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}
                        for name, spec in pods_spec.items()]
                (work / "verdict-pods.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
                out = sh(f"labctl policy apply {policy_file} --resource verdict-pods.yaml -o json", cwd=work, show=False)
                images = {name: ", ".join(c["image"] for key in ("initContainers", "containers")
                                          for c in spec.get(key, [])) for name, spec in pods_spec.items()}
                rows = [{"pod": r["resource"].rsplit("/", 1)[-1], "images": images[r["resource"].rsplit("/", 1)[-1]],
                         "policy": r["policy"], "rule": r["rule"], "result": r["result"], "message": r["message"]}
                        for r in json.loads(out.stdout or "[]")]
                return pd.DataFrame(rows, columns=["pod", "images", "policy", "rule", "result", "message"]).set_index("pod")


            def container(image, name="app"):
                return {"name": name, "image": image}


            print(f"Kyverno release the sandbox emulates: {KYVERNO_VERSION}")
            ''', "helpers", hidden=True),
        md("""
            ## Exercise 12: install Kyverno

            First, what the API server knows before the install. On a fresh cluster `ClusterPolicy` is an unknown kind
            and the `kyverno` namespace does not exist. (Re-running this notebook? Then Kyverno is already installed and
            both commands succeed: installing Kyverno cannot be undone in the sandbox, as deleting CRDs is a separate
            step on a real cluster.)
            """),
        code(r'''
            # Before the install: is ClusterPolicy a known kind, is there a kyverno Deployment?
            kubectl("get", "clusterpolicy")
            kubectl("get", "deployment", "-n", "kyverno", "kyverno")
            ''', "ex12-before"),
        md("""
            The seed installs a release manifest straight from GitHub:

            ```bash
            kubectl create -f https://github.com/kyverno/kyverno/releases/download/v1.11.0/install.yaml
            ```

            Two problems:

            1. **The lab has no internet access**, so kubectl cannot download the file. Note what kubectl blames: *Unable
               to connect to the server*. "The server" is github.com here, not your cluster.
            2. **v1.11.0 is old** (late 2023). The sandbox emulates **Kyverno v1.15.2**, and Kyverno has moved on since
               (v1.19 at the time of writing): messages changed (an unsigned image reads *no signatures found* since
               1.12, *no matching signatures* in 1.11), `validationFailureAction` became a per-rule `failureAction`
               (1.13), and new CEL policy kinds arrived (1.14). On a real cluster, use a current release, with Helm
               (`helm install kyverno kyverno/kyverno -n kyverno --create-namespace`) or the release manifest with
               `kubectl create -f` (as the seed does) or `kubectl apply --server-side`: a
               plain `kubectl apply -f` fails on Kyverno's CRDs, which are too large for the
               `last-applied-configuration` annotation.
            """, "ex12-seed-bugs"),
        code(r'''
            # The seed's command: no internet here, so kubectl cannot fetch the manifest.
            kubectl("create", "-f", "https://github.com/kyverno/kyverno/releases/download/v1.11.0/install.yaml",
                    timeout=30)
            ''', "ex12-seed-url"),
        md("""
            Instead: `labctl install kyverno`. On the sandbox it switches on the built-in Kyverno-compatible admission
            controller and creates what `install.yaml` would leave behind (the `kyverno` namespace, its ConfigMap, the
            admission-controller Deployment and its Pod, running `ghcr.io/kyverno/kyverno:v1.15.2`). Against a real
            cluster it downloads the release manifest and applies it server-side. `labhelpers.install_kyverno(api)` is
            the same from Python; both are idempotent.
            """),
        code(r'''
            # Exercise 12, the lab's way: labctl install kyverno, then the labhelpers equivalent (already installed).
            sh("labctl install kyverno")
            labhelpers.install_kyverno(api)
            ''', "ex12-install"),
        code(r'''
            # The seed's wait, then what got installed.
            kubectl("wait", "--for=condition=ready", "pod", "-l", "app.kubernetes.io/name=kyverno", "-n", "kyverno",
                    "--timeout=300s", timeout=320)
            kubectl("get", "deployment", "-n", "kyverno", "kyverno")
            pods.pods_table(api, "kyverno")
            ''', "ex12-wait"),
        md("""
            ## Exercise 13: restrict allowed registries

            The seed's policy, as written. (As in every notebook, the seed's `\\\\` line continuations are single
            backslashes here; this heredoc has none.) `kubectl apply` creates or updates, so the cell can be re-run.
            """),
        code(EXERCISE_13, "ex13-policy"),
        code(r'''
            # The policy as kubectl lists it: ADMISSION and BACKGROUND true, READY once Kyverno has accepted it.
            kubectl("get", "clusterpolicy", "restrict-registries")
            ''', "ex13-get"),
        md("""
            The seed's two tests. `run_pod` deletes an earlier pod of the same name first (`kubectl run` refuses to
            replace one), so the cell can be re-run.
            """),
        code(r'''
            # The seed's tests: an allowed registry, then a disallowed one.
            run_pod("allowed-app", "docker.io/youruser/app:v1.0")
            run_pod("disallowed-app", "docker.io/nginx:latest")
            ''', "ex13-tests"),
        md("""
            Read the denial from the outside in:

            - `Error from server:` kubectl's prefix; there is no `(Reason)` because a webhook denial carries none.
            - `admission webhook "validate.kyverno.svc-fail" denied the request:` the API server names the webhook
              (`-fail`: the policy's `failurePolicy` is `Fail`, so Kyverno being down would also block pods).
            - `resource Pod/registry-lab/disallowed-app was blocked due to the following policies`, then YAML: policy,
              rule, and the rule's message with the path that failed, `/spec/containers/0/image/`. Long messages are
              folded at 80 columns, which is why the text wraps in odd places.

            ### Verdicts per rule, as a table

            `labctl policy apply` applies policies to resource files offline, like the Kyverno CLI's `kyverno apply`. The
            test pods below include two that the seed's policy gets wrong.
            """),
        code(r'''
            # Offline verdicts: the seed's policy against six test pods (labctl policy apply ... -o json, as a table).
            test_pods = {
                "youruser-app": {"containers": [container("docker.io/youruser/app:v1.0")]},
                "short-name": {"containers": [container("youruser/app:v1.0")]},
                "nginx": {"containers": [container("nginx:1.25")]},
                "gcr-app": {"containers": [container("gcr.io/yourproject/app:v1.0")]},
                "two-registries": {"containers": [container("myregistry.com/app3:v1.0"),
                                                  container("ghcr.io/youruser/app2:v1.0", "sidecar")]},
                "init-sneak": {"initContainers": [container("docker.io/evil/miner:latest", "setup")],
                               "containers": [container("docker.io/youruser/app:v1.0")]},
            }
            verdicts("allowed-registries-policy.yaml", test_pods)
            ''', "ex13-verdicts"),
        md("""
            Two surprises:

            - **`short-name` is denied**, although `youruser/app:v1.0` *is* `docker.io/youruser/app:v1.0`: a `validate`
              pattern compares the image **string** as written. Write full names in pods (or match both forms).
            - **`init-sneak` passes** with an init container from `docker.io/evil/miner`: the seed's pattern only looks
              at `spec.containers`. Init containers (and ephemeral containers, added by `kubectl debug`) run the same
              way and must be covered. Kyverno's own *restrict-image-registries* sample uses conditional anchors:
              `=(initContainers)` and `=(ephemeralContainers)` mean "if present, every element must match".

            The fixed policy, built from the seed's file with Python (no hand-edited YAML), checked offline, then
            applied:
            """),
        code(r'''
            # The fix: the same rule for initContainers and ephemeralContainers (when present).
            policy = yaml.safe_load((work / "allowed-registries-policy.yaml").read_text())
            pattern = policy["spec"]["rules"][0]["validate"]["pattern"]
            allowed = pattern["spec"]["containers"][0]["image"]
            pattern["spec"].update({"=(initContainers)": [{"image": allowed}], "=(ephemeralContainers)": [{"image": allowed}]})
            (work / "allowed-registries-policy-fixed.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
            display(verdicts("allowed-registries-policy-fixed.yaml", test_pods))
            kubectl("apply", "-f", "allowed-registries-policy-fixed.yaml", cwd=work)
            ''', "ex13-fix"),
        md("""
            Try images yourself: the tester asks the API server with `kubectl run --dry-run=server` (admission runs in
            full, nothing is stored). In JupyterLab it is a form; with `interactive = False`, or outside Jupyter, it shows
            the table for the listed images.
            """),
        code(r'''
            # Interactive: type an image, see whether the cluster admits it and why (a plain table when not interactive).
            tester_images = ["docker.io/youruser/app:v1.0", "youruser/app:v1.0", "nginx:1.25", "myregistry.com/app3:v1.0"]
            policy_tester(admits, images=tester_images) if interactive else policy_table(admits, tester_images)
            ''', "ex13-tester"),
        md("""
            ## Drill: Audit vs Enforce

            The seed's takeaways say *test policies in audit mode before enforce mode*, but the seed never shows Audit.
            The next cell switches the same policy to `validationFailureAction: Audit` and sets `emitWarning: true`.
            """),
        predict("""
            With the policy in Audit mode, you run `kubectl run audit-app --image=docker.io/nginx:latest`. What does
            kubectl print?""", [
            "the same denial as in Enforce mode",
            "`pod/audit-app created`, and a `Warning:` line with the rule's message",
            "`pod/audit-app created` and nothing else; the violation shows only in a PolicyReport",
        ], "predict-audit"),
        code(r'''
            # Observe: the policy in Audit mode (with emitWarning), a disallowed image, and the PolicyReport.
            audit = yaml.safe_load((work / "allowed-registries-policy-fixed.yaml").read_text())
            audit["spec"]["validationFailureAction"] = "Audit"
            audit["spec"]["emitWarning"] = True
            (work / "audit-registries-policy.yaml").write_text(yaml.safe_dump(audit, sort_keys=False))
            kubectl("apply", "-f", "audit-registries-policy.yaml", cwd=work)
            run_pod("audit-app", "docker.io/nginx:latest")
            wait_for_report("audit-app", "restrict-registries")
            ''', "observe-audit"),
        explain("Why", """
            In **Audit** mode a failing rule does not block: the pod is created. Kyverno sends the failure back as an
            API **warning** when the policy sets `emitWarning: true` (a policy field since Kyverno 1.13); kubectl prints
            it as `Warning: policy restrict-registries.validate-registry: validation error: ...`. Without `emitWarning`,
            nothing at all is printed (the third answer).

            Either way the result is written, asynchronously, to a **PolicyReport** (`wgpolicyk8s.io/v1alpha2`): one report
            per resource, named after the resource's UID, with a result per rule. An **Enforce** denial leaves no report
            for the pod, since nothing was stored.
            """),
        md("""
            Back to Enforce. `audit-app` keeps running: admission judges requests, and the background scan (the policy
            has `background: true`) keeps reporting it as `fail`. This is what *audit first* buys you: a list of what
            would break, before anything breaks.
            """),
        code(r'''
            # Enforce again; the reports of the namespace's pods (allowed-app passes, audit-app still fails).
            kubectl("apply", "-f", "allowed-registries-policy-fixed.yaml", cwd=work)
            kubectl("get", "policyreport", "-n", ns)
            wait_for_report("allowed-app", "restrict-registries")
            policy_reports()
            ''', "enforce-again"),
        md("""
            ## Exercise 14: require signed images

            The seed assumes the `cosign.pub` you made in Lab 02 is in the current directory. In the sandbox, the lab's key
            pair signed `signed-app` (and `trusted-app`) when the sandbox started; `unsigned-app` is not signed. We copy the
            public key into the work directory (a public key is safe to show).
            """),
        code(r'''
            # The lab's cosign.pub (Lab 02's key pair) in the work directory, as the seed expects.
            require_sandbox("Exercise 14")
            info = sandbox.info()
            shutil.copy(info["cosign"]["public_key_path"], work / "cosign.pub")
            sh("cat cosign.pub", cwd=work)
            ''', "ex14-key"),
        predict("""
            The seed writes the key into the policy with `$(cat cosign.pub | tail -n +2 | head -n -1)` between the BEGIN and
            END lines of a `publicKeys: |-` block. What does `kubectl apply -f require-signatures-policy.yaml` say?""", [
            "`clusterpolicy.kyverno.io/verify-image-signatures created`",
            "Kyverno rejects the policy: the public key cannot be parsed",
            "kubectl cannot even parse the file as YAML",
        ], "predict-heredoc"),
        code(EXERCISE_14_SEED, "observe-heredoc"),
        explain("Why, and the fix", """
            The key's body is two lines of base64. `$(...)` keeps the newline between them, but only the **first** line
            follows the 14 spaces typed in the heredoc; the second starts at column 0 (`cat -A` shows it). A `|-` block
            scalar ends at the first line indented less than its content, so YAML then meets a plain line at the top level
            and kubectl stops with `error converting YAML to JSON: yaml: line N: could not find expected ':'`. Nothing reaches
            the cluster.

            Fixes: indent **every** line of the file, e.g. `$(sed 's/^/              /' cosign.pub)` in place of all three
            lines (BEGIN and END come from the file itself), or build the policy as data with Python and `yaml.safe_dump`,
            which writes the multi-line string correctly. Both follow.
            """),
        code(EXERCISE_14_FIXED, "ex14-fix-heredoc"),
        code(r'''
            # Fix 2: the same policy as data. yaml.safe_dump writes the multi-line key correctly; kubectl finds nothing to change.
            signature_policy = {
                "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "verify-image-signatures"},
                "spec": {"validationFailureAction": "Enforce", "background": False, "webhookTimeoutSeconds": 30, "rules": [{
                    "name": "verify-signature",
                    "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                    "verifyImages": [{
                        "imageReferences": ["docker.io/youruser/*"],
                        "attestors": [{"count": 1, "entries": [
                            {"keys": {"publicKeys": (work / "cosign.pub").read_text().strip()}}]}],
                    }],
                }]},
            }
            same = signature_policy == yaml.safe_load((work / "require-signatures-policy.yaml").read_text())
            print("same policy as the fixed heredoc:", same)
            kubectl("apply", "-f", "-", input=yaml.safe_dump(signature_policy, sort_keys=False))
            ''', "ex14-fix-python"),
        md("""
            One more difference from a real cluster: the lab's signatures were made without a transparency log (as
            `cosign sign --tlog-upload=false` does), and Kyverno by default also checks the signature's entry in Rekor,
            the public log, which needs internet access. For such signatures a real policy needs `rekor: {ignoreTlog: true}`
            (and `ctlog: {ignoreSCT: true}`) next to `publicKeys`; the sandbox has no log and verifies as if they were set.

            The seed's tests:
            """),
        code(r'''
            # The seed's tests: a signed image, then an unsigned one.
            run_pod("signed-app", "docker.io/youruser/signed-app:v1.0")
            run_pod("unsigned-app", "docker.io/youruser/unsigned-app:v1.0")
            ''', "ex14-tests"),
        code(r'''
            # What the signed pod really runs: Kyverno rewrote the image to the verified digest (mutateDigest).
            pods.wait_for_pod(api, "signed-app", ns, timeout=60)
            signed_pod = v1.read_namespaced_pod("signed-app", ns)
            signed_digest = next(s["digest"] for s in info["cosign"]["signed_images"]
                                 if s["image"] == "docker.io/youruser/signed-app:v1.0")
            pd.DataFrame([
                {"what": "kubectl run --image", "value": "docker.io/youruser/signed-app:v1.0"},
                {"what": "the pod's spec.containers[0].image", "value": signed_pod.spec.containers[0].image},
                {"what": "the digest the lab key signed", "value": signed_digest},
                {"what": "annotation kyverno.io/verify-images",
                 "value": (signed_pod.metadata.annotations or {}).get("kyverno.io/verify-images", "")},
            ]).set_index("what")
            ''', "ex14-digest"),
        md("""
            The seed says the signed pod "should succeed", and it does, but not with the image you typed:

            - **The image is pinned to its digest** (`mutateDigest: true`, the default): the mutating webhook verifies the
              signature and rewrites `:v1.0` to `:v1.0@sha256:…`, so a re-push of the tag after admission cannot change what
              runs. The annotation records the verdict per image.
            - **The live object differs from what you applied.** For `kubectl run` that is harmless; for Deployments managed
              from Git (Argo CD, Flux) the pinned image in the pod template shows as drift unless you write digests in Git
              yourself, which is the better practice anyway.
            - **`verifyDigest: true`** (also the default) makes the validating webhook refuse a matching image without a
              digest: with `mutateDigest: false` the same `kubectl run` would be denied with `missing digest for
              docker.io/youruser/signed-app:v1.0`.
            - Exercise 13's `allowed-app` (`docker.io/youruser/app:v1.0`) is **unsigned**: created today, it would now be
              refused. Policies add up, and the earlier pod keeps running only because admission never looks back.

            The unsigned pod's denial comes from the **mutating** webhook (`mutate.kyverno.svc-fail`): Kyverno verifies images
            there, before it validates. The verdicts for a few images, asked of the API server:
            """),
        code(r'''
            # Verdicts of both policies together (kubectl run --dry-run=server per image).
            policy_table(admits, ["docker.io/youruser/signed-app:v1.0", "docker.io/youruser/trusted-app:v1.0",
                                  "docker.io/youruser/unsigned-app:v1.0", "docker.io/youruser/app:v1.0",
                                  "myregistry.com/app3:v1.0"])
            ''', "ex14-verdicts"),
        md("""
            `myregistry.com/app3` matches no `imageReferences` of the signature rule, so that rule does not apply to it, and
            the registry rule admits it: a signature policy protects only the images it names.

            ## Drill: a pod that pulls fine, but Kyverno cannot read the registry

            A signed image in a **private** repository: `docker.io/youruser/private-app:v1.1`, pushed and signed with the lab
            key by the next cell, and a pull secret `regcred` that lets the kubelet pull it. The cell first puts Exercise 14's
            policy back as it was and removes what the fix below adds, so that it can be re-run.
            """),
        code(r'''
            # Drill setup: push private-app:v1.1 (private repository), sign it with the lab key, create the pull secret.
            from labhelpers.sandbox.registries import Credentials, SyncRegistryClient, oci

            require_sandbox("The credentials drill")
            hub = next(r for r in info["registries"] if r["host"] == "docker.io")
            hub_password = next(u["password"] for u in hub["users"] if u["username"] == "your-username")
            PRIVATE = "docker.io/youruser/private-app:v1.1"
            private_digest = SyncRegistryClient(hub["url"], Credentials("your-username", hub_password)).push_image(
                "youruser/private-app", "v1.1", oci.build_image(PRIVATE))
            # cosign sign needs the registry login (docker login writes config.json) and the lab's private key.
            docker_config = work / "docker-home-06" / ".docker"
            docker_config.mkdir(parents=True, exist_ok=True)
            os.environ["DOCKER_CONFIG"] = str(docker_config)
            (docker_config / "config.json").write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {
                "auth": base64.b64encode(f"your-username:{hub_password}".encode()).decode()}}}))
            shutil.copy(info["cosign"]["private_key_path"], work / "cosign.key")
            (work / "cosign.key").chmod(0o600)
            os.environ["COSIGN_PASSWORD"] = info["cosign"]["password"]  # the key's password, never printed
            sh(f"labctl sign sign --key cosign.key -y docker.io/youruser/private-app@{private_digest}", cwd=work)
            # Reset: Exercise 14's policy without credentials, no secret in the kyverno namespace; the pull secret.
            kubectl("apply", "-f", "require-signatures-policy.yaml", cwd=work)
            kubectl("delete", "secret", "regcred", "-n", "kyverno", "--ignore-not-found")
            kubectl("delete", "secret", "regcred", "-n", ns, "--ignore-not-found")
            kubectl("create", "secret", "docker-registry", "regcred", "--docker-server=https://index.docker.io/v1/",
                    "--docker-username=your-username", f"--docker-password={hub_password}", "-n", ns)
            private_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "private-app", "namespace": ns},
                           "spec": {"imagePullSecrets": [{"name": "regcred"}],
                                    "containers": [{"name": "app", "image": PRIVATE}]}}
            _ = (work / "private-pod.yaml").write_text(yaml.safe_dump(private_pod, sort_keys=False))
            ''', "drill-creds-setup"),
        predict("""
            `private-pod.yaml` runs the **signed** image `docker.io/youruser/private-app:v1.1` with `imagePullSecrets:
            [regcred]`; the kubelet could pull it. What does `kubectl apply -f private-pod.yaml` say?""", [
            "`pod/private-app created`: the image is signed",
            "denied: Kyverno cannot read the image from the registry",
            "`pod/private-app created`, then the pod fails with ImagePullBackOff",
        ], "predict-creds"),
        code(r'''
            # Observe: a pod whose image the kubelet could pull, checked by Kyverno.
            kubectl("delete", "pod", "private-app", "-n", ns, "--ignore-not-found", "--wait=true", show=False)
            kubectl("apply", "-f", "private-pod.yaml", cwd=work)
            ''', "observe-creds"),
        explain("Why", """
            Kyverno checks signatures **itself**, from its own pod, with **its own** registry credentials: the Secrets named
            by its `--imagePullSecrets` flag (in the `kyverno` namespace), the rule's `imageRegistryCredentials.secrets`,
            and the cloud credential helpers. It never uses the pod's `imagePullSecrets` (which belong to the kubelet) nor
            the node's. Anonymous, it gets Docker Hub's 401, and the message is go-containerregistry's: `GET
            https://index.docker.io/v2/youruser/private-app/manifests/v1.1: UNAUTHORIZED: authentication required;
            [map[Action:pull Class: Name:youruser/private-app Type:repository]]`.

            The fix: a registry Secret in the `kyverno` namespace, named in the rule's `imageRegistryCredentials` (or in the
            Deployment's `--imagePullSecrets` flag, for every policy at once). Give Kyverno read-only credentials: it needs
            to pull manifests and signatures, never to push.
            """),
        code(r'''
            # The fix: a read-only registry secret in the kyverno namespace, named in the rule's imageRegistryCredentials.
            kubectl("create", "secret", "docker-registry", "regcred", "--docker-server=https://index.docker.io/v1/",
                    "--docker-username=your-username", f"--docker-password={hub_password}", "-n", "kyverno")
            with_creds = json.loads(json.dumps(signature_policy))
            with_creds["spec"]["rules"][0]["verifyImages"][0]["imageRegistryCredentials"] = {"secrets": ["regcred"]}
            kubectl("apply", "-f", "-", input=yaml.safe_dump(with_creds, sort_keys=False))
            kubectl("apply", "-f", "private-pod.yaml", cwd=work)
            pods.wait_for_pod(api, "private-app", ns, timeout=60)
            ''', "fix-creds"),
        md("""
            ## What changed since the seed: ValidatingAdmissionPolicy and Kyverno's CEL policies

            **ValidatingAdmissionPolicy** (VAP, `admissionregistration.k8s.io/v1`, GA in Kubernetes 1.30) runs inside the
            API server: no webhook, no extra pods, no network hop. Rules are CEL expressions; a policy does nothing until a
            **binding** says where it applies and what a failure does (`Deny`, `Warn`, `Audit`). CEL has no glob, so
            `docker.io/youruser/*` becomes `startsWith('docker.io/youruser/')`, and like a `validate` pattern it compares the
            raw string. It cannot verify signatures (CEL cannot call a registry), so signatures stay with Kyverno (or the
            Sigstore policy-controller).

            The registry rule as a VAP, bound to the lab namespace only, with every kind of container covered:
            """),
        code(r'''
            # The same registry restriction as a ValidatingAdmissionPolicy and its binding (quoted heredoc: no expansion).
            sh(r"""
            cat > restrict-registries-vap.yaml <<'EOF'
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicy
            metadata:
              name: restrict-registries
            spec:
              failurePolicy: Fail
              matchConstraints:
                resourceRules:
                - apiGroups: [""]
                  apiVersions: ["v1"]
                  operations: ["CREATE", "UPDATE"]
                  resources: ["pods", "pods/ephemeralcontainers"]
              variables:
              - name: allContainers
                expression: >-
                  object.spec.containers
                  + object.spec.?initContainers.orValue([])
                  + object.spec.?ephemeralContainers.orValue([])
              validations:
              - expression: >-
                  variables.allContainers.all(c,
                    c.image.startsWith('docker.io/youruser/') ||
                    c.image.startsWith('gcr.io/yourproject/') ||
                    c.image.startsWith('myregistry.com/'))
                message: "Images must come from approved registries"
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicyBinding
            metadata:
              name: restrict-registries-binding
            spec:
              policyName: restrict-registries
              validationActions: [Deny]
              matchResources:
                namespaceSelector:
                  matchLabels:
                    kubernetes.io/metadata.name: NAMESPACE
            EOF
            kubectl apply -f restrict-registries-vap.yaml
            """.replace("NAMESPACE", ns), cwd=work)
            ''', "vap-apply"),
        code(r'''
            # The VAP's denial: it runs before the webhooks, so its message is the one kubectl shows now.
            run_pod("bad-pod", "nginx:1.25")
            ''', "vap-deny"),
        md("""
            Compare the two denials. The VAP's reads `The pods "bad-pod" is invalid: : ValidatingAdmissionPolicy
            'restrict-registries' with binding 'restrict-registries-binding' denied request: Images must come from approved
            registries`. The default `reason` of a validation is `Invalid` (HTTP 422), and kubectl prints an *invalid*
            error as `The <resource> "<name>" is invalid: <field>: <message>`; the field is empty, hence the double colon.
            Set `reason: Forbidden` on the validation to get `Error from server (Forbidden): pods "bad-pod" is forbidden:
            ...` instead.

            The same policy offline, against the test pods: CEL covers the init container.
            """),
        code(r'''
            # The VAP's verdicts offline (labctl policy apply understands ValidatingAdmissionPolicy, as the Kyverno CLI does).
            verdicts("restrict-registries-vap.yaml", test_pods)
            ''', "vap-verdicts"),
        md("""
            **Kyverno's own CEL policy types.** Kyverno 1.14 (April 2025) added `ValidatingPolicy` and
            `ImageValidatingPolicy`, CEL-based and shaped like a VAP (`matchConstraints`, `variables`, `validations`) plus
            Kyverno's extras (background scans, reports, exceptions, generated VAPs); 1.15 added `MutatingPolicy`,
            `GeneratingPolicy` and `DeletingPolicy`; they are stable as `policies.kyverno.io/v1` since 1.17 (kyverno.io/docs,
            *Policy Types*). Of these the sandbox's Kyverno serves `ValidatingPolicy` (the others are not served), and
            `labctl policy apply` evaluates it offline too. The same rule, in the `v1alpha1` version that Kyverno 1.15
            serves, first offline:
            """, "kyverno-s-own-cel-policy"),
        code(r'''
            # restrict-registries as a Kyverno ValidatingPolicy: the VAP's text, another kind, the binding's action inside.
            vap_text = (work / "restrict-registries-vap.yaml").read_text().split("\n---\n")[0]
            vpol_text = vap_text.replace(
                "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n",
                "apiVersion: policies.kyverno.io/v1alpha1\nkind: ValidatingPolicy\n").replace(
                "spec:\n", "spec:\n  validationActions: [Deny]     # a VAP's binding says this\n", 1)
            (work / "restrict-registries-vpol.yaml").write_text(vpol_text + "\n")
            print(vpol_text)
            verdicts("restrict-registries-vpol.yaml", test_pods)
            ''', "vpol-verdicts"),
        md("""
            Then in the cluster. `kubectl apply` goes through Kyverno's policy webhook (`validate-policy.kyverno.svc`),
            which compiles every expression: a typo in the CEL is refused there with cel-go's error, not at the first
            pod. No binding: the policy applies as soon as it is stored, with its own `validationActions`.
            """, "vpol-in-the-cluster"),
        code(r'''
            # The ValidatingPolicy in the cluster: apply it, list it, and read the status Kyverno gives it.
            kubectl("apply", "-f", "restrict-registries-vpol.yaml", cwd=work)
            kubectl("get", "validatingpolicy", "restrict-registries")
            vpol_status = json.loads(kubectl("get", "vpol", "restrict-registries", "-o", "json", show=False).stdout)
            pd.DataFrame(vpol_status["status"]["conditionStatus"]["conditions"],
                         columns=["type", "status", "reason", "message"]).set_index("type")
            ''', "vpol-apply"),
        md("""
            `READY` is `false`, and the conditions say why: the webhook is configured, but Kyverno's reports controller
            (bound to the built-in `view` role) may not read `pods/ephemeralcontainers`, a subresource the rule names, so
            the policy is *not ready for reporting*. Admission does not care: the webhook enforces it all the same.

            Three policies now hold the same rule, and a disallowed pod would be refused three times. The VAP runs inside
            the API server before any webhook, so its message would win; the two Kyverno webhooks are called in parallel,
            and the API server reports whichever denial arrives first. To see the `ValidatingPolicy`'s own answer, the
            next cell removes the VAP's binding (its section is done) and puts the `ClusterPolicy` in Audit with
            `emitWarning` for the test (the drill's `audit-registries-policy.yaml`); the cell after it restores Enforce.
            """, "three-policies-one-rule"),
        code(r'''
            # Deny: a disallowed image is refused by Kyverno's CEL webhook, an allowed (signed) one admitted.
            kubectl("delete", "validatingadmissionpolicybinding", "restrict-registries-binding", "--ignore-not-found")
            kubectl("apply", "-f", "audit-registries-policy.yaml", cwd=work)
            run_pod("vpol-denied", "nginx:1.25")
            run_pod("vpol-allowed", "docker.io/youruser/signed-app:v1.0")
            ''', "vpol-deny"),
        md("""
            Read it from the outside in: the `Warning:` line is the `ClusterPolicy`, now in Audit, still reporting its
            failure; the error is the `ValidatingPolicy`: `admission webhook "vpol.validate.kyverno.svc-fail"` (Kyverno's
            webhook for CEL policies, `-fail` for `failurePolicy: Fail`) `denied the request: Policy restrict-registries
            failed: ` and the validation's `message`. Compare the VAP's `ValidatingAdmissionPolicy '...' with binding
            '...' denied request:` and the `ClusterPolicy`'s YAML block. With `validationActions: [Warn]` the same text
            comes back as a warning and the pod is created; with `[Audit]` only the PolicyReport says `fail` (its
            results carry `source: KyvernoValidatingPolicy`).

            The policy has served its purpose: the next cell deletes it and its test pod, and puts the `ClusterPolicy`
            back in Enforce, so that the self-check and later notebooks meet only this notebook's Kyverno policies.
            """, "vpol-read-the-denial"),
        code(r'''
            # Put things back: delete the ValidatingPolicy and its test pod, the ClusterPolicy in Enforce again.
            kubectl("delete", "pod", "vpol-allowed", "-n", ns, "--ignore-not-found", "--wait=true")
            kubectl("delete", "validatingpolicy", "restrict-registries", "--ignore-not-found")
            kubectl("apply", "-f", "allowed-registries-policy-fixed.yaml", cwd=work)
            ''', "vpol-cleanup"),
        md("""
            And Exercise 14 as an `ImageValidatingPolicy` (for reading: not evaluated here). The image check is a CEL
            function over the attestors, so "signed by key A **or** by key B" and similar rules are plain expressions:

            ```yaml
            apiVersion: policies.kyverno.io/v1alpha1
            kind: ImageValidatingPolicy
            metadata:
              name: verify-image-signatures
            spec:
              validationActions: [Deny]
              matchConstraints:
                resourceRules:
                - apiGroups: [""]
                  apiVersions: [v1]
                  operations: [CREATE, UPDATE]
                  resources: [pods]
              matchImageReferences:
              - glob: "docker.io/youruser/*"
              attestors:
              - name: labKey
                cosign:
                  key:
                    data: |-
                      -----BEGIN PUBLIC KEY-----
                      ...
                      -----END PUBLIC KEY-----
              validations:
              - expression: >-
                  images.containers.map(image, verifyImageSignatures(image, [attestors.labKey])).all(n, n > 0)
                message: "images from docker.io/youruser must be signed with the lab key"
            ```

            ## Self-check
            """),
        code(r'''
            # Self-check: Kyverno runs, the registry policy enforces, unsigned images are refused, signed ones are pinned.
            def kyverno_ready():
                dep = kubectl("get", "deployment", "kyverno", "-n", "kyverno", "-o", "json", show=False)
                if not dep.ok:
                    return False, dep.stderr.strip()
                status = json.loads(dep.stdout).get("status", {})
                return status.get("readyReplicas", 0) >= 1, f"{status.get('readyReplicas', 0)} ready replica(s)"


            def policy_enforced(name):
                out = kubectl("get", "clusterpolicy", name, "-o", "json", show=False)
                if not out.ok:
                    return False, out.stderr.strip()
                spec = json.loads(out.stdout)["spec"]
                return spec.get("validationFailureAction") == "Enforce", f"validationFailureAction: {spec.get('validationFailureAction')}"


            def denied(image):
                ok, why = admits(image)
                return not ok, why.strip().splitlines()[-1].strip() if why else why


            def pinned(image):
                ok, why = admits(image)
                return ok and "@sha256:" in why, why


            def report_passes(pod, policy):
                table = wait_for_report(pod, policy, timeout=15)
                rows = table[table["policy"] == policy]
                return bool(len(rows)) and (rows["result"] == "pass").all(), ", ".join(rows["result"]) or "no result yet"


            part6 = checks.Checks("Self-check: Part 6")
            part6.add(kyverno_ready, "Kyverno is installed and ready", "Kyverno is not installed or not ready",
                      "run Exercise 12: labctl install kyverno, then kubectl wait ... -n kyverno")
            part6.add(lambda: policy_enforced("restrict-registries"), "restrict-registries is in Enforce mode",
                      "restrict-registries is missing or still in Audit mode",
                      "kubectl apply -f allowed-registries-policy-fixed.yaml (the Audit drill's last cell)")
            part6.add(lambda: denied("docker.io/nginx:latest"), "docker.io/nginx:latest is refused",
                      "docker.io/nginx:latest is admitted", "re-run Exercise 13 (and its fix)")
            part6.add(lambda: denied("docker.io/youruser/unsigned-app:v1.0"), "unsigned-app is refused",
                      "unsigned-app is admitted", "apply Exercise 14's fixed policy (indent every key line)")
            part6.add(lambda: pinned("docker.io/youruser/signed-app:v1.0"), "signed-app is admitted, pinned to its digest",
                      "signed-app is not admitted with a digest",
                      "check verify-image-signatures: the key must be the lab's cosign.pub, mutateDigest left at its default")
            part6.add(lambda: report_passes("allowed-app", "restrict-registries"),
                      "allowed-app's PolicyReport says pass", "allowed-app has no passing PolicyReport result",
                      "re-run Exercise 13's tests; reports are written a few seconds after admission")
            part6.add(lambda: checks.pod_ready(api, "private-app", ns), "private-app (private, signed) is running",
                      "private-app is not running", "re-run the credentials drill and its fix")
            _ = part6.run()
            ''', "self-check"),
        md("""
            ## Tidy up

            The seed leaves both Enforce policies in place, cluster-wide. Part 7 then fails for the wrong reason:
            Exercise 15's `broken-pod` (`docker.io/private/image`) and Exercise 16's `curlimages/curl` are refused at
            admission, before any pull could go wrong. The next cell deletes this notebook's policies and the registry
            secret given to Kyverno (set `keep_policies = True` to keep them). Kyverno itself stays installed: the
            verification script (notebook 08) checks for it.
            """),
        code(r'''
            # Tidy up: remove this notebook's policies and Kyverno's registry secret (Kyverno stays installed).
            if keep_policies:
                print("keep_policies = True: the policies stay; notebooks 07-09 will meet them")
            else:
                kubectl("delete", "clusterpolicy", "restrict-registries", "verify-image-signatures", "--ignore-not-found")
                kubectl("delete", "validatingpolicy", "restrict-registries", "--ignore-not-found")
                kubectl("delete", "validatingadmissionpolicybinding", "restrict-registries-binding", "--ignore-not-found")
                kubectl("delete", "validatingadmissionpolicy", "restrict-registries", "--ignore-not-found")
                kubectl("delete", "secret", "regcred", "-n", "kyverno", "--ignore-not-found")
            ''', "tidy-up"),
        md("""
            ## What changed since the seed was written

            - **Kyverno 1.11 → 1.15 (the lab) → 1.19 (upstream, at the time of writing).** Install a current release with
              Helm or its manifest (`kubectl create -f` or `kubectl apply --server-side`), never a hard-coded old URL.
            - **Failure actions moved into the rules** (1.13): `spec.validationFailureAction` is deprecated in favour of
              `validate.failureAction` per rule (and `verifyImages[].failureAction`); `spec.emitWarning` sends Audit
              failures back to the client as warnings. `mutateDigest: true` is not allowed with Audit.
            - **CEL everywhere**: the native ValidatingAdmissionPolicy (GA in Kubernetes 1.30) for rules that need no
              external data, and Kyverno's `ValidatingPolicy`/`ImageValidatingPolicy` (1.14, stable in 1.17). Kyverno can
              also generate VAPs from its CEL policies.
            - **Signatures moved on too**: cosign v3 stores Sigstore bundles as OCI referrers (Kyverno `type:
              SigstoreBundle`, or sign with `--new-bundle-format=false` for the `.sig` layout used here), keyless signing
              checks an identity instead of a key, and Notation signatures are verified with `type: Notary` (Notary
              Project v2; Kyverno has no verifier for Docker Content Trust's Notary v1, see notebook 05).

            Next: **07-troubleshooting** (Exercises 15–16).
            """),
    ]
