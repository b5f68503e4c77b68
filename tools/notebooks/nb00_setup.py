"""00-setup: connect to the lab cluster, check the environment, create the lab namespace."""

from __future__ import annotations

from .common import SETUP, code, explain, header, md, parameters, predict

FILENAME = "00-setup.ipynb"
TITLE = "Lab 03 · 00 Setup: the lab cluster and your tools"


def cells():
    return [
        header("00 · Setup: the lab cluster and your tools", "Setup", [
            "start the embedded lab sandbox, or connect to a real cluster through `KUBECONFIG`",
            "check your environment with the *doctor* and fix what it reports",
            "create the `registry-lab` namespace and make it kubectl's default, as the seed lab does",
            "find the lab's registries, demo accounts and images",
        ], 10, "seed: *Prerequisites* and the start of Exercise 1"),
        md("""
            ## The lab cluster

            The seed lab assumes a running cluster, Docker or Podman, and accounts on Docker Hub, GHCR, ECR, GCR
            and ACR. This course brings all of that along: the **sandbox** is a Kubernetes-API-compatible server
            that the unmodified `kubectl` and the official `kubernetes` Python client talk to, with a *kubelet*
            that really pulls images, over HTTP, from real registries (CNCF Distribution, the same code as Docker
            Hub's registry) that answer under the real names: `docker.io`, `ghcr.io`, `myregistry.com`,
            `123456789012.dkr.ecr.us-east-1.amazonaws.com`, `gcr.io`, `us-central1-docker.pkg.dev` and
            `myregistry.azurecr.io`. Pull secrets, ServiceAccounts, events, back-off and error messages behave and
            read as on a real node.

            What the sandbox does **not** do: containers do not execute their commands (a started container just
            "runs"; a Job's container exits 0 after two seconds), there is no `kubectl exec`, `attach` or `logs`,
            and RBAC is not enforced (you are cluster-admin). The notebooks say so where it matters.

            The `clock_speed` parameter runs the sandbox's clock N times faster: back-offs (10 s, doubling up to
            5 min) and token expiry (ECR: 12 hours) become short enough to watch.

            You can also run every notebook against a real cluster (kind, minikube, a cloud cluster) with
            `backend = "kubeconfig"`: the commands are the same, but the demo registries and accounts only exist in
            the sandbox, so pulls of the lab's images will fail there unless you substitute your own.
            """),
        parameters(),
        md("""
            ## The doctor

            The doctor checks everything the lab needs and says what is missing and how to fix it: first the tools
            on this machine (before anything is started), then, once connected, the cluster and the registries.
            Re-run a doctor cell after fixing something.
            """),
        code('''
            # Doctor, part 1: the tools on this machine (nothing is started yet); every ❌ says how to fix it.
            import importlib.util
            import json
            import shutil
            import subprocess
            import sys

            import pandas as pd

            from labhelpers import checks
            from labhelpers.sandbox.registries.distribution import registry_binary
            from labhelpers.tools import kubectl as kubectl_tool


            def python_ok():
                return sys.version_info >= (3, 11), sys.version.split()[0]


            def kubectl_ok():
                path = kubectl_tool.which()
                if not path:
                    return False, "no kubectl next to Python or on PATH"
                out = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True, text=True)
                return out.returncode == 0, f"{json.loads(out.stdout)['clientVersion']['gitVersion']} at {path}"


            def registry_binary_ok():
                path = registry_binary()
                return bool(path), path or "docker-registry (CNCF Distribution) is not installed"


            def module_ok(name):
                return lambda: (importlib.util.find_spec(name) is not None, name)


            def tool_ok(name):
                return lambda: (shutil.which(name) is not None, shutil.which(name) or f"{name} not on PATH")


            def doctor_table(collection):
                """The results with their details (versions, paths) and, for problems, how to fix them."""
                collection.run(quiet=True)
                return pd.DataFrame([{"check": r.message, "status": r.glyph, "detail": r.detail,
                                      "how to fix": "" if r.ok else r.hint} for r in collection.results]).set_index("check")


            tools = checks.Checks("Lab doctor: tools")
            tools.add(python_ok, "Python 3.11+", "Python is older than 3.11", "use the project venv: make lab")
            tools.add(kubectl_ok, "kubectl installed", "kubectl missing",
                      "labctl tools install-kubectl --version 1.33 (or make setup)")
            tools.add(registry_binary_ok, "docker-registry binary present (the sandbox's registries)",
                      "docker-registry binary missing", "as root: apt-get install docker-registry",
                      level="error" if backend == "sandbox" else "warning")
            tools.add(module_ok("boto3"), "boto3 installed (Exercise 8: ECR)", "boto3 missing",
                      "pip install boto3 in the lab venv (make setup)")
            tools.add(module_ok("ipywidgets"), "ipywidgets installed (interactive helpers)", "ipywidgets missing",
                      "pip install ipywidgets (make setup)", level="warning")
            tools.add(tool_ok("jq"), "jq installed (the seed's scripts use it)", "jq missing: the notebooks "
                      "show a Python equivalent instead", "apt-get install jq", level="warning")
            tools.add(tool_ok("aws"), "AWS CLI installed (Exercise 8 runs it too)", "AWS CLI missing: Exercise 8 "
                      "uses boto3, the same API", "optional: pip install awscli", level="warning")
            doctor_table(tools)
            ''', "doctor-tools"),
        md("""
            Now connect: with `backend = "sandbox"` the next cell starts the sandbox (about a second) if it is not
            running, at the requested `clock_speed`.
            """),
        code(SETUP, "setup"),  # shown here (collapsed in the other notebooks): this is how every notebook connects
        code('''
            # Doctor, part 2: the cluster, kubectl's version skew, the sandbox and its registries.
            def cluster_ok():
                out = kubectl("version", "-o", "json", show=False)
                versions = json.loads(out.stdout or "{}")
                if "serverVersion" not in versions:
                    return False, (out.stderr.strip().splitlines() or ["no answer"])[-1]
                server, mine = versions["serverVersion"], versions["clientVersion"]
                skew = abs(int(mine["minor"].rstrip("+")) - int(server["minor"].rstrip("+")))
                return skew <= 1, (f"server {server['gitVersion']}, kubectl {mine['gitVersion']} "
                                   "(supported skew: one minor version)")


            def sandbox_ok():
                st = sandbox.info()
                return st["running"], f"{st.get('api_url')} (pid {st.get('pid')}), clock speed {st.get('clock_speed')}"


            def registries_ok():
                answered, silent = [], []
                for reg in sandbox.info().get("registries", []):
                    probe = labhelpers.probe_registry(f"https://{reg['host']}/v2/", sandbox_dir=sandbox_dir, timeout=5)
                    (answered if probe.attrs["status"] in (200, 401) else silent).append(reg["host"])
                if silent:
                    return False, "no answer from " + ", ".join(silent)
                return bool(answered), f"{len(answered)} registries answer: " + ", ".join(answered)


            cluster = checks.Checks("Lab doctor: cluster")
            cluster.add(cluster_ok, "cluster answers; kubectl version matches", "cluster unreachable or kubectl too far "
                        "from the server version", "start the sandbox (labctl sandbox up) or check KUBECONFIG; "
                        "install a matching kubectl with labctl tools install-kubectl --version 1.N")
            if backend == "sandbox":
                cluster.add(sandbox_ok, "sandbox running", "sandbox not running",
                            "labctl sandbox up (its log: ~/.local/state/labhelpers/sandbox/sandbox.log)")
                cluster.add(registries_ok, "lab registries answer", "lab registries do not answer",
                            "restart the sandbox: labctl sandbox down && labctl sandbox up")
            else:
                cluster.add(lambda: (False, f"backend {backend!r}: the demo registries and accounts exist only in the "
                                            "sandbox"), "", "not the lab sandbox: pulls of the lab's demo images will fail",
                            "use backend = 'sandbox', or substitute your own registry, images and credentials",
                            level="warning")
            doctor_table(cluster)
            ''', "doctor-cluster"),
        md("""
            ## Exercise 1, first steps: the lab namespace

            The seed creates a namespace and makes it kubectl's default for the current context. We run the same
            two commands; the first cell only creates the namespace when it is missing, so it can be re-run.
            With a real cluster, `set-context` changes *your* kubeconfig: `09-cleanup` sets it back.

            Every later notebook still passes `-n registry-lab` explicitly, so each one also works on its own.
            """),
        code("""
            # The seed's commands: kubectl create namespace + kubectl config set-context --current --namespace=...
            if kubectl("get", "namespace", ns, show=False).ok:
                print(f"namespace {ns} already exists: nothing to create (this cell was run before)")
            else:
                kubectl("create", "namespace", ns)
            kubectl("config", "set-context", "--current", f"--namespace={ns}")
            kubectl("get", "namespace", ns)
            """, "namespace-kubectl"),
        code("""
            # The same with the Python client: the namespace, and the default namespace of the current context.
            from kubernetes import config as kubeconfig

            ensure_namespace(ns)
            _, context = kubeconfig.list_kube_config_contexts(os.environ.get("KUBECONFIG"))  # the file kubectl uses
            obj = v1.read_namespace(ns)
            pd.DataFrame([{"namespace": obj.metadata.name, "status": obj.status.phase,
                           "created": obj.metadata.creation_timestamp,
                           "context": context["name"],
                           "context default namespace": context["context"].get("namespace", "default")}]).set_index("namespace")
            """, "namespace-python"),
        predict("""
            `kubectl create namespace registry-lab` has run once. What happens if you run the seed's command a
            second time, as written?""", [
            "nothing: kubectl create is idempotent",
            "an error: the namespace already exists",
            "kubectl replaces the namespace (and everything in it)",
        ], "predict-create-twice"),
        code("""
            # Observe: the seed's create, run again on purpose (kubectl create never overwrites).
            kubectl("create", "namespace", ns)
            """, "observe-create-twice"),
        explain("Why: create vs apply", """
            `kubectl create` sends a POST; the API server answers **409 AlreadyExists** for an existing name and
            kubectl prints `Error from server (AlreadyExists): namespaces "registry-lab" already exists`. Nothing
            is changed. That is why these notebooks guard `create` commands (check first, or delete with
            `--ignore-not-found` before creating) or use `kubectl apply`, which creates or updates: every cell can
            be re-run.
            """),
        md("""
            ## A tour of the lab's registries

            `labctl sandbox info -o json` describes the sandbox. Below are its registries, the kind of
            authentication each one uses, and the demo accounts the exercises use (passwords stay masked).
            """),
        code("""
            # The lab registries: where each public name is served, how it authenticates, its demo users and images.
            if backend != "sandbox":
                print("backend is not the sandbox: the demo registries are not available on this cluster")
                registries = []
            else:
                registries = sandbox.info().get("registries", [])
            pd.DataFrame([{
                "registry": r["host"],
                "auth": r.get("auth"),
                "what it imitates": r.get("description", ""),
                "demo users": ", ".join(sorted({u["username"] for u in r.get("users", [])})),
                "images": len(r.get("images", [])),
            } for r in registries], columns=["registry", "auth", "what it imitates", "demo users", "images"]
            ).set_index("registry")
            """, "registries"),
        code("""
            # Exercise 16's first curl, without a pod: GET https://index.docker.io/v2/ with no credentials.
            labhelpers.probe_registry("https://index.docker.io/v2/", sandbox_dir=sandbox_dir)
            """, "probe"),
        md("""
            The probe shows the handshake every container runtime performs: `GET /v2/` answers **401** with a
            `WWW-Authenticate` challenge; Docker Hub asks for a *Bearer* token from `auth.docker.io`, which hands out
            anonymous tokens good for public repositories only. `07-troubleshooting` comes back to this.

            ## Self-check
            """),
        code("""
            # Self-check: you may work in the namespace, it exists, and kubectl uses it by default.
            from kubernetes import config as kubeconfig


            def context_namespace():
                _, current = kubeconfig.list_kube_config_contexts(os.environ.get("KUBECONFIG"))
                name = current["context"].get("namespace", "default")
                return name == ns, f"default namespace: {name}"


            self_check = checks.Checks("Self-check: setup")
            self_check.add(lambda: kubectl("auth", "can-i", "create", "secrets", "-n", ns, show=False).stdout.strip()
                           == "yes", f"you may create secrets in {ns}", f"you may not create secrets in {ns}",
                           "re-run the setup cell; on a real cluster ask for edit rights in the namespace")
            self_check.add(lambda: (v1.read_namespace(ns).status.phase == "Active", v1.read_namespace(ns).status.phase),
                           f"namespace {ns} exists", f"namespace {ns} is missing", f"kubectl create namespace {ns}")
            self_check.add(context_namespace, f"kubectl uses {ns} by default", f"kubectl's default namespace is not {ns}",
                           f"kubectl config set-context --current --namespace={ns}")
            _ = self_check.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **No Docker or Podman needed.** The seed's `docker login` / `docker pull` steps are replaced by
              the lab helpers (`labhelpers.probe_registry`, the secret builders) and by the sandbox kubelet's real
              pulls; the commands are still shown.
            - **kubectl version skew.** kubectl supports one minor version either side of the API server; the
              pinned kubectl here is 1.33 (`labctl tools install-kubectl --version 1.3N` for others).

            Next: **01-imagepullsecrets** (Exercises 1–3).
            """),
    ]
