"""02-using-pull-secrets: Exercises 4-6, pull secrets in pod specs and on ServiceAccounts."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "02-using-pull-secrets.ipynb"
TITLE = "Lab 03 · 02 Using ImagePullSecrets (Exercises 4-6)"


def cells():
    return [
        header("02 · Using ImagePullSecrets", "Part 2", [
            "reference a pull secret from a Deployment's pod template and watch the kubelet pull with it",
            "attach pull secrets to a ServiceAccount, including the namespace's `default` one",
            "explain *when* a ServiceAccount's pull secrets reach a pod, and why a secret in another namespace "
            "never does",
            "recognise the image-cache shortcut: an image already on the node runs without any credentials",
        ], 20, "seed: Part 2, Exercises 4–6"),
        md("""
            ## How a pod gets its pull secrets

            1. **In the pod spec**: `spec.imagePullSecrets: [{name: dockerhub-secret}]` (Exercise 4). For a
               Deployment it sits in the pod *template*, and every pod the ReplicaSet creates carries it.
            2. **From the ServiceAccount**: when a pod is *created*, the API server's `ServiceAccount` admission
               plugin copies the ServiceAccount's `imagePullSecrets` into the pod, **only if the pod has none of its
               own** (Exercises 5 and 6). It happens once, at creation: pods are not updated later.
            3. **On the node**: the kubelet reads the named secrets from the pod's own namespace at every pull, picks
               the entries that match the image's registry, and tries them in order. A missing secret only produces
               a warning event; the pull then goes out anonymously.

            And one shortcut with security consequences: with `imagePullPolicy: IfNotPresent` (the default for any
            tag except `:latest`), an image that is **already on the node** is used without contacting the
            registry, so without checking any credentials.
            """),
        parameters(),
        *setup(),
        code("""
            # Prerequisite from notebook 01: dockerhub-secret (re-created here if it is missing).
            if checks.secret_exists(api, "dockerhub-secret", ns)[0]:
                print("dockerhub-secret exists")
            else:
                secrets.create_secret(api, secrets.docker_registry_secret(
                    "dockerhub-secret", "https://index.docker.io/v1/", "your-username", "your-password",
                    "your-email@example.com", namespace=ns))
            """, "prerequisites"),
        md("""
            ## Exercise 4: use the secret in a pod spec

            The seed's Deployment pulls `docker.io/yourusername/private-app:v1.0`, a private repository of the demo
            account. The heredoc is unquoted, which is harmless here: there is nothing to expand.
            """),
        code(r'''
            # Exercise 4 as in the seed: write the manifest and apply it (apply is safe to re-run).
            sh(r"""
            cat > private-image-deployment.yaml <<EOF
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: private-app
              namespace: NAMESPACE
            spec:
              replicas: 1
              selector:
                matchLabels:
                  app: private-app
              template:
                metadata:
                  labels:
                    app: private-app
                spec:
                  containers:
                  - name: app
                    image: docker.io/yourusername/private-app:v1.0
                    ports:
                    - containerPort: 8080
                  imagePullSecrets:
                  - name: dockerhub-secret
            EOF

            kubectl apply -f private-image-deployment.yaml
            """.replace("NAMESPACE", ns), cwd=work)
            pods.wait_for_pod(api, namespace=ns, selector="app=private-app", timeout=90)
            ''', "ex4-apply"),
        code(r'''
            # The seed's checks: kubectl get pods, and describe (we keep describe's Events section).
            kubectl("get", "pods", "-l", "app=private-app", "-n", ns)
            sh(f"kubectl describe pod -l app=private-app -n {ns} | sed -n '/^Events:/,$p'")
            ''', "ex4-kubectl"),
        code("""
            # The labhelpers equivalent: the pod table, its events, and which credentials the kubelet used.
            pod_name = pods.pods_table(api, ns, selector="app=private-app")["NAME"].iloc[-1]
            display(pods.pods_table(api, ns, selector="app=private-app"))
            display(pods.pod_events_table(api, pod_name, ns))
            pods.pull_explain(api, pod_name, ns)
            """, "ex4-labhelpers"),
        md("""
            ## Exercise 5: attach the secret to a ServiceAccount

            A ServiceAccount can carry `imagePullSecrets`; every pod created with that ServiceAccount *and no
            pull secrets of its own* gets them.
            """),
        code(r'''
            # Exercise 5 as in the seed: the ServiceAccount, then a pod that uses it (no imagePullSecrets of its own).
            sh(r"""
            cat > serviceaccount-with-secret.yaml <<EOF
            apiVersion: v1
            kind: ServiceAccount
            metadata:
              name: registry-sa
              namespace: NAMESPACE
            imagePullSecrets:
            - name: dockerhub-secret
            EOF

            kubectl apply -f serviceaccount-with-secret.yaml

            cat > pod-with-sa.yaml <<EOF
            apiVersion: v1
            kind: Pod
            metadata:
              name: app-with-sa
              namespace: NAMESPACE
            spec:
              serviceAccountName: registry-sa
              containers:
              - name: app
                image: docker.io/yourusername/private-app:v1.0
            EOF

            kubectl apply -f pod-with-sa.yaml
            """.replace("NAMESPACE", ns), cwd=work)
            pods.wait_for_pod(api, "app-with-sa", ns, timeout=90)
            ''', "ex5-apply"),
        code("""
            # Where did the pod's pull secret come from? The stored pod spec, and pull_explain's answer.
            kubectl("get", "pod", "app-with-sa", "-n", ns, "-o", "jsonpath={.spec.imagePullSecrets}")
            pods.pull_explain(api, "app-with-sa", ns)
            """, "ex5-explain"),
        md("""
            The pod manifest never mentioned `dockerhub-secret`, yet the stored pod has it: the ServiceAccount
            admission plugin wrote it in when the pod was created.

            ## Exercise 6: patch the default ServiceAccount

            Pods that name no ServiceAccount use `default`. Patching it gives every *new* pod in the namespace the
            secret. Before running the seed's patch, we create a pod **before** the patch, to see what "new" means.
            Both pods use `imagePullPolicy: Always`, so the node must ask the registry each time (the image is
            already cached on the node since Exercise 4; see the last drill).
            """),
        predict("""
            `before-patch` is created, then the default ServiceAccount is patched, then `after-patch` is created.
            Neither pod names a ServiceAccount or a pull secret. Which pods can pull the private image?""", [
            "both: the kubelet reads the ServiceAccount when it pulls",
            "only `after-patch`",
            "neither: pull secrets from a ServiceAccount need a restart of the kubelet",
        ], "predict-sa-patch"),
        code(r'''
            # Observe: a pod created before the seed's patch, the patch itself, and a pod created after it.
            import json

            def private_pod(name):
                return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                        "spec": {"containers": [{"name": "app", "image": "docker.io/yourusername/private-app:v1.0",
                                                 "imagePullPolicy": "Always"}]}}

            # start from a clean state so the cell can be re-run
            kubectl("delete", "pod", "before-patch", "after-patch", "-n", ns, "--ignore-not-found", "--wait=true")
            kubectl("patch", "serviceaccount", "default", "-n", ns, "--type=json",
                    "-p", '[{"op": "remove", "path": "/imagePullSecrets"}]', show=False)

            kubectl("apply", "-f", "-", input=json.dumps(private_pod("before-patch")))
            sh(rf"""
            kubectl patch serviceaccount default \
              -p '{{"imagePullSecrets": [{{"name": "dockerhub-secret"}}]}}' \
              -n {ns}
            """)
            kubectl("apply", "-f", "-", input=json.dumps(private_pod("after-patch")))
            pods.wait_for_pod(api, "after-patch", ns, timeout=90)
            pods.wait_for_pod(api, "before-patch", ns, until=pull_failing, timeout=90)
            pods.pods_table(api, ns)
            ''', "observe-sa-patch"),
        code("""
            # Why: the pull secrets each pod was created with, and the kubelet's view of before-patch.
            for name in ("before-patch", "after-patch"):
                kubectl("get", "pod", name, "-n", ns, "-o", "jsonpath={.spec.imagePullSecrets}")
            pods.diagnose(api, "before-patch", ns)
            """, "why-sa-patch"),
        explain("Why, and the fix", """
            The ServiceAccount admission plugin runs when a pod is **created** and copies the ServiceAccount's
            pull secrets into the pod's spec. `before-patch` was created while `default` had none, so its spec
            has none, and the kubelet pulls anonymously: `pull access denied` / 401, then *ImagePullBackOff*.
            Patching the ServiceAccount never touches existing pods, and a pod's `imagePullSecrets` cannot be edited.
            The fix is to **re-create** the pod (for a Deployment: `kubectl rollout restart deployment/NAME`).
            """),
        md("""
            Verify the patch, as the seed does with `grep -A 2`, and as a table of every ServiceAccount in the
            namespace.
            """),
        code("""
            # The seed's verification, then the ServiceAccounts and their pull secrets as a table.
            sh(f"kubectl get serviceaccount default -n {ns} -o yaml | grep -A 2 imagePullSecrets")
            pd.DataFrame([{"serviceaccount": sa.metadata.name,
                           "imagePullSecrets": ", ".join(r.name for r in sa.image_pull_secrets or []) or "(none)"}
                          for sa in v1.list_namespaced_service_account(ns).items]).set_index("serviceaccount")
            """, "ex6-verify"),
        md("""
            ## Drill: the secret lives in another namespace

            The seed's *Common issues* list includes "secret in different namespace". Here a team creates its pod
            in a second namespace, `registry-lab-other`, and names `dockerhub-secret`, which exists only in
            `registry-lab`.
            """),
        predict("""
            The pod in `registry-lab-other` uses `imagePullPolicy: Always` and `imagePullSecrets:
            [{name: dockerhub-secret}]`. What happens?""", [
            "the kubelet finds the secret in `registry-lab` and the pod runs",
            "the API server rejects the pod: its secret does not exist",
            "the pod is created, the kubelet warns that it cannot retrieve the secret, and the pull fails",
        ], "predict-other-namespace"),
        code("""
            # Observe: a pod in another namespace that names dockerhub-secret.
            other = f"{ns}-other"
            ensure_namespace(other)
            kubectl("delete", "pod", "private-elsewhere", "-n", other, "--ignore-not-found", "--wait=true")
            kubectl("run", "private-elsewhere", "-n", other, "--image=docker.io/yourusername/private-app:v1.0",
                    "--restart=Never", "--image-pull-policy=Always",
                    '--overrides={"spec": {"imagePullSecrets": [{"name": "dockerhub-secret"}]}}')
            pods.wait_for_pod(api, "private-elsewhere", other, until=pull_failing, timeout=90)
            pods.pod_events_table(api, "private-elsewhere", other)
            """, "observe-other-namespace"),
        code("""
            # The diagnosis names the namespace where the secret does exist.
            pods.diagnose(api, "private-elsewhere", other)
            """, "diagnose-other-namespace"),
        explain("Why, and the fix", """
            Secrets are namespaced, and the kubelet only looks in the pod's namespace. The API server does not check
            that pull secrets exist (they may be created later), so the pod is accepted; the kubelet reports
            `FailedToRetrieveImagePullSecret` and pulls anonymously, which the private repository refuses. Create
            the secret in the pod's namespace (there is no cross-namespace reference): re-run Exercise 1 with
            `-n registry-lab-other`, or copy it with `kubectl get secret dockerhub-secret -n registry-lab -o json`
            after removing `metadata.namespace`, `uid` and `resourceVersion`.
            """),
        md("""
            ## Drill: the image is already on the node

            The same pod in `registry-lab-other`, still with a secret that does not exist there, but now with the
            default pull policy for a tagged image, `IfNotPresent`. Exercise 4 already pulled this image onto the
            (only) node.
            """),
        predict("What happens now?", [
            "the same failure as before",
            "the pod runs",
        ], "predict-cache"),
        code("""
            # Observe: same image, same missing secret, imagePullPolicy IfNotPresent.
            kubectl("delete", "pod", "cached-elsewhere", "-n", other, "--ignore-not-found", "--wait=true")
            kubectl("run", "cached-elsewhere", "-n", other, "--image=docker.io/yourusername/private-app:v1.0",
                    "--restart=Never", "--image-pull-policy=IfNotPresent",
                    '--overrides={"spec": {"imagePullSecrets": [{"name": "dockerhub-secret"}]}}')
            pods.wait_for_pod(api, "cached-elsewhere", other, timeout=60)
            pods.pod_events_table(api, "cached-elsewhere", other)
            """, "observe-cache"),
        explain("Why this matters", """
            With `IfNotPresent` the kubelet finds the image on the node (*Container image ... already present on
            machine*) and never contacts the registry, so no credential is checked: any pod in any namespace that
            lands on that node can run a private image someone else pulled. Defences: the `AlwaysPullImages`
            admission plugin (forces `Always`, at the cost of a registry round-trip per container start), and the
            kubelet's *ensure secret pulled images* feature (KEP-2535: alpha in Kubernetes 1.33, beta in 1.35,
            `imagePullCredentialsVerificationPolicy`), which re-checks credentials for images that were pulled with
            a secret.
            """),
        md("## Self-check"),
        code("""
            # Self-check: Exercises 4-6 and the lesson of the drills.
            part2 = checks.Checks("Self-check: Part 2")
            part2.add(lambda: (any(r == "Running" for r in pods.pods_table(api, ns, selector="app=private-app")["STATUS"]),
                               "private-app pod running"),
                      "Exercise 4: private-app runs", "Exercise 4: no private-app pod is running",
                      "kubectl apply -f private-image-deployment.yaml; check dockerhub-secret (notebook 01)")
            part2.add(lambda: checks.serviceaccount_has_pull_secret(api, "registry-sa", "dockerhub-secret", ns),
                      "Exercise 5: registry-sa carries dockerhub-secret", "Exercise 5: registry-sa lacks dockerhub-secret",
                      "kubectl apply -f serviceaccount-with-secret.yaml")
            part2.add(lambda: checks.pod_ready(api, "app-with-sa", ns),
                      "Exercise 5: app-with-sa is ready", "Exercise 5: app-with-sa is not ready",
                      "delete and re-create the pod after fixing registry-sa")
            part2.add(lambda: checks.serviceaccount_has_pull_secret(api, "default", "dockerhub-secret", ns),
                      "Exercise 6: the default ServiceAccount carries dockerhub-secret",
                      "Exercise 6: the default ServiceAccount has no dockerhub-secret",
                      f"re-run the seed's patch: kubectl patch serviceaccount default -p ... -n {ns}")
            part2.add(lambda: checks.pod_ready(api, "after-patch", ns),
                      "a pod created after the patch pulls the private image",
                      "after-patch is not ready", "re-run the Exercise 6 drill")
            _ = part2.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **Ensure secret pulled images** (KEP-2535): since Kubernetes 1.33 the kubelet can re-check that a pod
              is entitled to an image already on the node (alpha in 1.33, beta in 1.35; configured with the
              kubelet's `imagePullCredentialsVerificationPolicy`). Until you can rely on it, use `AlwaysPullImages`
              on multi-tenant clusters.
            - **Kubelet credential providers** (stable since 1.26) let nodes fetch registry credentials themselves,
              and since 1.33 (alpha; beta in 1.34, KEP-4412) they can use the *pod's* ServiceAccount token, so
              per-workload registry access no longer needs long-lived secrets (notebook 04).

            Next: **03-multi-registry** (Exercise 7).
            """),
    ]
