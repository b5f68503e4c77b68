"""03-multi-registry: Exercise 7, one secret for three registries, and how the kubelet picks credentials."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "03-multi-registry.ipynb"
TITLE = "Lab 03 · 03 Multiple registry authentication (Exercise 7)"


def cells():
    return [
        header("03 · Multiple registries in one secret", "Part 3", [
            "build a `config.json` with credentials for Docker Hub, GHCR and a self-hosted registry",
            "run a Deployment whose three containers come from three registries with one pull secret",
            "predict which credentials the kubelet tries for an image, and what one bad entry does to a pod",
        ], 15, "seed: Part 3, Exercise 7"),
        md("""
            ## One secret, many registries

            The `auths` object of a docker config can hold any number of registries. For each image, the kubelet
            collects the entries whose key matches the image's registry (and path, if the key has one), most
            specific first, from all of the pod's pull secrets, and tries them in order until one pull succeeds.
            Each container's image is matched on its own: a pod with three containers may use three different
            entries.

            The lab's three registries authenticate differently: Docker Hub and GHCR hand out *Bearer tokens*
            (the runtime trades the password for a token at `auth.docker.io` / `ghcr.io/token`), while
            `myregistry.com` is a self-hosted registry with *Basic* authentication. The secret looks the same for
            all three.
            """),
        parameters(),
        *setup(),
        md("""
            ## Exercise 7: a multi-registry secret

            The seed writes `docker-config.json` with an **unquoted** heredoc on purpose: bash must run the three
            `$(echo -n 'user:pass' | base64)` while writing the file. (Compare notebook 04's CronJob, where the
            same expansion is a bug.) The file holds passwords, so it is not printed.
            """),
        code(r'''
            # Exercise 7 as in the seed, then the secret (deleted first so the cell can be re-run).
            sh(rf"""
            cat > docker-config.json <<EOF
            {{
              "auths": {{
                "docker.io": {{
                  "auth": "$(echo -n 'user1:pass1' | base64)"
                }},
                "ghcr.io": {{
                  "auth": "$(echo -n 'user2:token2' | base64)"
                }},
                "myregistry.com": {{
                  "auth": "$(echo -n 'user3:pass3' | base64)"
                }}
              }}
            }}
            EOF

            kubectl delete secret multi-registry-secret -n {ns} --ignore-not-found
            kubectl create secret generic multi-registry-secret \
              --from-file=.dockerconfigjson=docker-config.json \
              --type=kubernetes.io/dockerconfigjson \
              -n {ns}
            """, cwd=work)
            ''', "ex7-secret"),
        code("""
            # The labhelpers view: which entry each of the Deployment's images will use.
            images = ["docker.io/youruser/app1:v1.0", "ghcr.io/youruser/app2:v1.0", "myregistry.com/app3:v1.0"]
            secrets.dockerconfig_table(v1.read_namespaced_secret("multi-registry-secret", ns), images=images,
                                       reveal=reveal)
            """, "ex7-table"),
        code("""
            # The same secret built in Python from the three logins (the file's bytes differ, the content does not).
            import base64
            import json

            logins = {"docker.io": ("user1", "pass1"), "ghcr.io": ("user2", "token2"), "myregistry.com": ("user3", "pass3")}
            config = {"auths": {host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
                                for host, (u, p) in logins.items()}}
            same = json.loads((work / "docker-config.json").read_text()) == config
            print("same content as docker-config.json:", same)
            secrets.dockerconfig_table(config, images=images, reveal=reveal)
            """, "ex7-python"),
        md("""
            ### Use it in a Deployment

            The seed's Deployment has no `namespace:` (it relies on the context's default namespace from
            `00-setup`); we pass `-n` so the cell works on its own.
            """),
        code(r'''
            # The seed's Deployment: three containers, three registries, one pull secret.
            sh(rf"""
            cat > multi-registry-deployment.yaml <<EOF
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: multi-registry-app
            spec:
              replicas: 1
              selector:
                matchLabels:
                  app: multi-app
              template:
                metadata:
                  labels:
                    app: multi-app
                spec:
                  containers:
                  - name: app1
                    image: docker.io/youruser/app1:v1.0
                  - name: app2
                    image: ghcr.io/youruser/app2:v1.0
                  - name: app3
                    image: myregistry.com/app3:v1.0
                  imagePullSecrets:
                  - name: multi-registry-secret
            EOF

            kubectl apply -f multi-registry-deployment.yaml -n {ns}
            """, cwd=work)
            pods.wait_for_pod(api, namespace=ns, selector="app=multi-app", timeout=90)
            kubectl("get", "pods", "-l", "app=multi-app", "-n", ns)
            ''', "ex7-deployment"),
        code("""
            # Which credentials each container's pull used.
            multi_pod = pods.pods_table(api, ns, selector="app=multi-app")["NAME"].iloc[-1]
            pods.pull_explain(api, multi_pod, ns)
            """, "ex7-explain"),
        md("""
            ## Drill: one wrong entry

            The GHCR token is rotated, but the secret still holds the old one. We build a copy of the secret with a
            wrong GHCR token, `multi-registry-stale`, and a pod that uses it (with `imagePullPolicy: Always`, since
            the images are now cached on the node).
            """),
        predict("What does `kubectl get pod` show for that pod?", [
            "`0/3`: one bad entry spoils the whole secret",
            "`2/3` and `ErrImagePull` / `ImagePullBackOff`: only the GHCR container fails",
            "`3/3 Running`: the kubelet falls back to an anonymous pull for GHCR",
        ], "predict-stale-entry"),
        code("""
            # Observe: the same three logins, but an outdated GHCR token.
            stale = dict(logins, **{"ghcr.io": ("user2", "token-rotated-away")})
            stale_config = {"auths": {host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
                                      for host, (u, p) in stale.items()}}
            secrets.create_secret(api, secrets.secret_from_docker_config("multi-registry-stale", stale_config,
                                                                         namespace=ns), replace=True)
            kubectl("delete", "pod", "multi-stale", "-n", ns, "--ignore-not-found", "--wait=true")
            kubectl("apply", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "multi-stale", "namespace": ns},
                "spec": {"imagePullSecrets": [{"name": "multi-registry-stale"}],
                         "containers": [{"name": f"app{i}", "image": image, "imagePullPolicy": "Always"}
                                        for i, image in enumerate(images, start=1)]}}))
            pods.wait_for_pod(api, "multi-stale", ns, until=pull_failing, timeout=90)
            time.sleep(1)  # let the other two containers start
            kubectl("get", "pod", "multi-stale", "-n", ns)
            """, "observe-stale-entry"),
        code("""
            # Per container: the credentials tried and the outcome.
            pods.pull_explain(api, "multi-stale", ns)
            """, "explain-stale-entry"),
        explain("Why", """
            Each container's image is pulled on its own. `app1` and `app3` pull with their (correct) entries and
            start; for `app2` the kubelet sends `user2` with the stale token, GHCR's token service refuses it, and
            there is no other matching entry to try, so the container waits in *ErrImagePull* /
            *ImagePullBackOff* while the pod shows `2/3`. The kubelet does not fall back to an anonymous pull
            after credentials were rejected. Fix: update the entry (re-create the secret) and the kubelet's next
            retry succeeds; no pod restart is needed because the kubelet reads the secret at every pull.
            """),
        code("""
            # The fix: correct the token in the secret; the kubelet's next retry (after its back-off) pulls.
            secrets.create_secret(api, secrets.secret_from_docker_config("multi-registry-stale", config, namespace=ns),
                                  replace=True)
            pods.wait_for_pod(api, "multi-stale", ns, timeout=180, fail_fast=False)
            kubectl("get", "pod", "multi-stale", "-n", ns)
            """, "fix-stale-entry"),
        md("## Self-check"),
        code("""
            # Self-check: the secret covers the three registries and the Deployment's pod runs all containers.
            def all_containers_ready():
                table = pods.pods_table(api, ns, selector="app=multi-app")
                running = table[table["STATUS"] == "Running"]
                return (not running.empty and (running["READY"] == "3/3").any(),
                        ", ".join(f"{r.NAME}: {r.READY} {r.STATUS}" for r in table.itertuples()))


            part3 = checks.Checks("Self-check: Part 3")
            part3.add(lambda: checks.secret_registry_count(api, "multi-registry-secret", ns, 3),
                      "multi-registry-secret holds 3 registries", "multi-registry-secret is missing or incomplete",
                      "re-run Exercise 7's first cell (docker-config.json, then kubectl create secret generic ...)")
            part3.add(all_containers_ready, "multi-registry-app runs 3/3 containers",
                      "multi-registry-app is not 3/3", "check each container with pods.pull_explain(api, POD, ns)")
            _ = part3.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **GitHub Container Registry** still only accepts a *personal access token (classic)* with
              `read:packages` as the password (docs.github.com, "Working with the Container registry"); GitHub
              recommends fine-grained tokens elsewhere, but GitHub Packages does not support them. Inside GitHub
              Actions, use the workflow's `GITHUB_TOKEN` instead.
            - **Docker Hub** enforces pull rate limits for anonymous and free accounts, which is one more reason to
              give every workload pull credentials (or a pull-through cache mirror), even for public images.

            Next: **04-cloud-registries** (Exercises 8–10).
            """),
    ]
