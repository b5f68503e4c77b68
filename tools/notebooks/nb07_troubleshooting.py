"""07-troubleshooting: Exercises 15-16, reading ImagePullBackOff, the five common causes, registry probes."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "07-troubleshooting.ipynb"
TITLE = "Lab 03 · 07 Troubleshooting image pulls (Exercises 15-16)"


def cells():
    return [
        header("07 · Troubleshooting image pulls", "Part 7", [
            "read an `ImagePullBackOff` from the pod's status and events to the exact cause",
            "tell the seed's five common causes apart by their events",
            "test registry connectivity and credentials without an interactive pod",
        ], 25, "seed: Part 7, Exercises 15–16"),
        md("""
            ## Where a pull can fail

            When the kubelet starts a container whose image it must pull, it:

            1. reads the pod's pull secrets from the pod's namespace; a missing one produces the warning
               `FailedToRetrieveImagePullSecret` (*Unable to retrieve some image pull secrets (...); attempting to
               pull the image may not succeed.*), but the pull goes ahead;
            2. picks the credentials whose registry key matches the image (none: an anonymous pull);
            3. asks the container runtime to pull: name resolution, TLS, the registry's `401` challenge, the token
               or Basic login, the manifest (`404` when the tag does not exist) and the layers.

            A failure shows up as the event `Failed to pull image "...": <the runtime's error>` and the container
            status **ErrImagePull**. The kubelet then waits before the next attempt (10 s, doubling up to 5 min,
            per pod and image) and reports **ImagePullBackOff** while it waits: the two alternate in `kubectl get
            pods -w`. The runtime's error text is where the cause is: `401 Unauthorized`, `403 Forbidden`,
            `pull access denied ... insufficient_scope`, `not found`, `no such host`.

            This notebook uses `clock_speed` to shorten the back-off.
            """),
        parameters(),
        *setup(),
        code("""
            # Prerequisite from notebook 01: dockerhub-secret (re-created here if it is missing).
            if not checks.secret_exists(api, "dockerhub-secret", ns)[0]:
                secrets.create_secret(api, secrets.docker_registry_secret(
                    "dockerhub-secret", "https://index.docker.io/v1/", "your-username", "your-password",
                    "your-email@example.com", namespace=ns))
            print("dockerhub-secret is in place")
            """, "prerequisites"),
        md("""
            ## Exercise 15: debug ImagePullBackOff

            The seed's broken pod pulls a private image and names a secret that does not exist. (The seed's
            manifest has no namespace; we pass `-n`. We also add `imagePullPolicy: Always`: once this notebook
            has run, the image is cached on the node and an `IfNotPresent` pod would start without any pull, as
            notebook 02 showed.)
            """),
        predict("""
            A few seconds after `kubectl apply`, what does `kubectl get pod broken-pod` show, and which *warning*
            events does `kubectl describe` list?""", [
            "`Pending` and no events: the pod waits for the secret to appear",
            "`ErrImagePull` / `ImagePullBackOff`, with a warning about the missing secret and a failed pull",
            "`CreateContainerConfigError`: a missing secret stops the pod like a missing ConfigMap",
        ], "predict-broken-pod"),
        code(r'''
            # Exercise 15 as in the seed (deleted first so the cell can be re-run).
            kubectl("delete", "pod", "broken-pod", "-n", ns, "--ignore-not-found", "--wait=true", show=False)
            sh(rf"""
            cat > broken-pod.yaml <<EOF
            apiVersion: v1
            kind: Pod
            metadata:
              name: broken-pod
            spec:
              containers:
              - name: app
                image: docker.io/private/image:v1.0
                imagePullPolicy: Always   # added: after a first run the image is cached on the node (notebook 02)
              imagePullSecrets:
              - name: wrong-secret
            EOF

            kubectl apply -f broken-pod.yaml -n {ns}
            """, cwd=work)
            pods.wait_for_pod(api, "broken-pod", ns, until="ImagePullBackOff", timeout=120)
            ''', "ex15-apply"),
        md("### The seed's debugging steps"),
        code(r'''
            # 1. pod status, 2. describe (its Events section), 3. does the secret exist?
            kubectl("get", "pod", "broken-pod", "-n", ns)
            sh(f"kubectl describe pod broken-pod -n {ns} | sed -n '/^Events:/,$p'")
            kubectl("get", "secret", "wrong-secret", "-n", ns)
            ''', "ex15-debug"),
        md("""
            4. The seed then prints `dockerhub-secret`'s content with `... -o jsonpath='{.data.\\\\.dockerconfigjson}'
               | base64 -d`: the doubled backslash prints nothing (notebook 01), and the corrected command prints the
               password on your screen. Look at it as a table instead, with the images it is meant for:
            """),
        code("""
            # 4. the secret that should have been used, as a table (password masked)
            secrets.dockerconfig_table(v1.read_namespaced_secret("dockerhub-secret", ns),
                                       images=["docker.io/private/image:v1.0"], reveal=reveal)
            """, "ex15-secret"),
        md("""
            5. The seed's last step is `docker pull docker.io/private/image:v1.0` on your machine: it proves that the
               *credentials* work, but not that the *node* uses them. Here the pod's own view answers both
               questions: which secrets the pod has, which credentials the kubelet tried, and why none matched.
            """),
        code("""
            # The labhelpers equivalent of steps 1-5: the kubelet's view, then a diagnosis with the fix.
            display(pods.pull_explain(api, "broken-pod", ns))
            pods.diagnose(api, "broken-pod", ns)
            """, "ex15-diagnose"),
        explain("Why it looks like this", """
            The API server does not check that pull secrets exist, so the pod is created. The kubelet cannot read
            `wrong-secret` (`FailedToRetrieveImagePullSecret`) and, because the pod lists its own pull secret, the
            default ServiceAccount's `dockerhub-secret` was **not** added at admission either. The pull is
            anonymous; Docker Hub's anonymous token does not cover a private repository: *pull access denied ...
            insufficient_scope*. So: *ErrImagePull*, then *ImagePullBackOff*. It is not a
            `CreateContainerConfigError`: that is for missing ConfigMaps and Secrets used by the *container*
            (env, volumes), not for pull secrets.
            """),
        code("""
            # The fix: imagePullSecrets cannot be changed on a pod, so delete it and create it with the right secret.
            import json

            broken = json.loads(kubectl("get", "pod", "broken-pod", "-n", ns, "-o", "json", show=False).stdout)
            kubectl("delete", "pod", "broken-pod", "-n", ns, "--wait=true")
            fixed = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "broken-pod", "namespace": ns},
                     "spec": {"containers": [{"name": c["name"], "image": c["image"], "imagePullPolicy": "Always"}
                                             for c in broken["spec"]["containers"]],
                              "imagePullSecrets": [{"name": "dockerhub-secret"}]}}
            kubectl("apply", "-f", "-", input=json.dumps(fixed))
            pods.wait_for_pod(api, "broken-pod", ns, timeout=90)
            """, "ex15-fix"),
        md("""
            ## Drill: the five common issues

            The seed lists five common causes. The next cell creates one pod per cause, all pulling the same
            private image `docker.io/private/image:v1.0` with `imagePullPolicy: Always`:

            | pod | what is wrong |
            |---|---|
            | `issue-missing` | names a secret that does not exist |
            | `issue-registry` | its secret was created with `--docker-server=https://hub.docker.com` |
            | `issue-password` | its secret holds an old (rotated or expired) password |
            | `issue-format` | its secret was created with `kubectl create secret generic --from-file=.dockerconfigjson=...` but without `--type` |
            | `issue-namespace` | its secret exists, but only in `registry-lab-other` |
            """),
        predict("""
            Which of the five pods show the warning `FailedToRetrieveImagePullSecret`? For which ones does the
            registry see *no* credentials at all, and for which one does it see wrong ones?""",
            slug="predict-five-issues"),
        code(r'''
            # Observe: five pods, five causes.
            import base64

            other = f"{ns}-other"
            ensure_namespace(other)
            good = ("your-username", "your-password")


            def registry_secret(name, server, user, password, namespace=ns):
                secrets.create_secret(api, secrets.docker_registry_secret(name, server, user, password, namespace=namespace),
                                      replace=True, quiet=True)


            registry_secret("issue-registry-secret", "https://hub.docker.com", *good)
            registry_secret("issue-password-secret", "https://index.docker.io/v1/", "your-username", "an-old-password")
            registry_secret("issue-namespace-secret", "https://index.docker.io/v1/", *good, namespace=other)
            config = work / "issue-config.json"
            config.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {
                "auth": base64.b64encode(":".join(good).encode()).decode()}}}))
            kubectl("delete", "secret", "issue-format-secret", "-n", ns, "--ignore-not-found", show=False)
            kubectl("create", "secret", "generic", "issue-format-secret", f"--from-file=.dockerconfigjson={config}", "-n", ns)

            cases = {"issue-missing": "no-such-secret", "issue-registry": "issue-registry-secret",
                     "issue-password": "issue-password-secret", "issue-format": "issue-format-secret",
                     "issue-namespace": "issue-namespace-secret"}
            kubectl("delete", "pod", *cases, "-n", ns, "--ignore-not-found", "--wait=true", show=False)
            for pod, secret in cases.items():
                kubectl("apply", "-f", "-", show=False, input=json.dumps({
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": ns},
                    "spec": {"imagePullSecrets": [{"name": secret}],
                             "containers": [{"name": "app", "image": "docker.io/private/image:v1.0",
                                             "imagePullPolicy": "Always"}]}}))
            for pod in cases:
                pods.wait_for_pod(api, pod, ns, until=pull_failing, timeout=90, progress=False)


            def summary(pod):
                events = pods.pod_events_table(api, pod, ns)
                failed = events[events["MESSAGE"].str.startswith("Failed to pull image")]["MESSAGE"]
                d = pods.diagnose(api, pod, ns)
                return {"pod": pod, "secret": cases[pod], "STATUS": d.status,
                        "FailedToRetrieveImagePullSecret": "yes" if (events["REASON"] == "FailedToRetrieveImagePullSecret").any() else "",
                        "runtime error": failed.iloc[-1].rsplit('": ', 1)[-1] if len(failed) else "",
                        "diagnosis": "; ".join(d.issues)}


            pd.DataFrame([summary(p) for p in cases]).set_index("pod")
            ''', "observe-five-issues"),
        explain("Why: the events tell them apart", """
            - **Missing secret** and **secret in another namespace** look the same to the kubelet: it cannot read a
              secret of that name in the pod's namespace, warns `FailedToRetrieveImagePullSecret` and pulls
              anonymously (`insufficient_scope`). `diagnose` tells them apart by looking for the name in other
              namespaces.
            - **Wrong registry URL**: the secret is read, but its key `hub.docker.com` is not Docker Hub's registry
              (`docker.io`, `index.docker.io`, `https://index.docker.io/v1/` are); no entry matches, so the pull is
              anonymous, without any warning. Only comparing the key with the image's registry reveals it.
            - **Wrong secret format**: without `--type`, the secret is `Opaque`; the kubelet only reads
              `kubernetes.io/dockerconfigjson` (and the legacy `kubernetes.io/dockercfg`) secrets, so again an
              anonymous pull, without a warning.
            - **Wrong or expired password**: the only case where credentials are sent; the token service refuses
              them (`401 Unauthorized`). ECR tokens (notebook 04) fail like this after 12 hours, with a `403`.
            """),
        code("""
            # Explore any pod's pulls interactively: pick a pod, read its diagnosis, credential path and events.
            from labhelpers import widgets

            widgets.pull_explorer(api, ns, pod="issue-registry")
            """, "pull-explorer"),
        md("""
            ## Exercise 16: verify registry connectivity

            The seed starts an interactive debug pod:

            ```bash
            kubectl run registry-debug --image=curlimages/curl:latest --rm -it --restart=Never -- sh
            ```

            That needs a terminal: `-it` attaches your keyboard to the container's shell, and `--rm` deletes the pod
            when you leave it. A notebook (and any script or CI job) has no terminal: kubectl prints *Unable to use a
            TTY - input is not a terminal or the right kind of file* and attaches without one; the shell reads the
            end of its input at once and exits, and `--rm` deletes the pod:
            """),
        code("""
            # The seed's command as written, from a notebook: no terminal, so the shell gets no input and exits.
            kubectl("delete", "pod", "registry-debug", "-n", ns, "--ignore-not-found", "--wait=true", show=False)
            kubectl("run", "registry-debug", "--image=curlimages/curl:latest", "--rm", "-it", "--restart=Never",
                    "-n", ns, "--", "sh", input="")
            """, "ex16-it"),
        md("""
            **Run it as written in a terminal.** In JupyterLab, open *File → New → Terminal* (kubectl there already
            talks to the sandbox) and type the seed's command; at the shell prompt, try the seed's two curls and
            leave with `exit`:

            ```bash
            kubectl run registry-debug --image=curlimages/curl:latest --rm -it --restart=Never -- sh
            curl -v https://index.docker.io/v2/
            curl -u username:password https://index.docker.io/v2/
            exit
            ```

            In the sandbox, a container of `curlimages/curl` (or `busybox`) runs its command as a process on the lab
            machine (an emulation: there is no container isolation), and curl in it reaches the lab registries by
            their public names, such as `index.docker.io`, over HTTPS, as a pod would reach the real ones.

            Without `-it`, `--rm` is refused outright:
            """),
        code("""
            # --rm needs an attached session: kubectl refuses it without -it.
            kubectl("run", "registry-debug", "--image=curlimages/curl:latest", "--rm", "--restart=Never", "-n", ns,
                    "--", "curl", "-sv", "https://index.docker.io/v2/")
            """, "ex16-rm"),
        md("""
            The non-interactive version, for notebooks and scripts: run the command as the pod's command, wait for
            it to finish, read its logs, delete the pod. The test runs from the pod's network, on a real cluster
            and in the sandbox alike.
            """),
        code(r'''
            # The non-interactive debug pod: kubectl run ... --restart=Never, wait, logs, delete.
            kubectl("delete", "pod", "registry-debug", "-n", ns, "--ignore-not-found", "--wait=true", show=False)
            kubectl("run", "registry-debug", "--image=curlimages/curl:latest", "--restart=Never", "-n", ns,
                    "--", "curl", "-sv", "https://index.docker.io/v2/")
            kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/registry-debug", "-n", ns, "--timeout=60s")
            kubectl("logs", "registry-debug", "-n", ns)
            kubectl("delete", "pod", "registry-debug", "-n", ns, "--wait=false")
            ''', "ex16-pod"),
        md("""
            The log holds curl's `-v` trace (it writes it to stderr, and the container log keeps both streams): the
            name resolved, TLS was set up with a certificate for `index.docker.io`, and the registry answered
            `401 Unauthorized` with `WWW-Authenticate: Bearer realm="https://auth.docker.io/token",...`. For a
            connectivity test that is success: any HTTP answer proves that DNS, the network path and TLS work, and
            the challenge says how to authenticate. curl exits 0 on a 401 (add `-f` to make HTTP errors fail the
            pod). `labhelpers.probe_registry` makes the same request and then follows the challenge, step by step:
            """),
        code("""
            # The seed's first curl: curl -v https://index.docker.io/v2/ (no credentials), step by step.
            labhelpers.probe_registry("https://index.docker.io/v2/", sandbox_dir=sandbox_dir)
            """, "ex16-probe"),
        md("""
            ### Drill: does `curl -u` test your password?

            The seed's second curl is `curl -u username:password https://index.docker.io/v2/`. Try it with the right
            password and with a wrong one.
            """),
        predict("What status does that `curl -u` request get, with the right and with a wrong password?", [
            "200 with the right password, 401 with a wrong one",
            "401 with both",
            "200 with both: `/v2/` needs no authentication",
        ], "predict-curl-u"),
        code("""
            # Observe: the request curl makes, and what a runtime does next, for the right and a wrong password.
            rows = []
            for label, password in (("right password", "your-password"), ("wrong password", "not-the-password")):
                probe = labhelpers.probe_registry("https://index.docker.io/v2/", "your-username", password,
                                                  sandbox_dir=sandbox_dir)
                steps = probe.set_index("step")
                rows.append({"case": label,
                             "curl -u (GET /v2/)": steps.loc["request", "status"],
                             "token request with the password": steps.loc["token", "status"] if "token" in steps.index else "",
                             "result": steps.loc["result", "detail"]})
            pd.DataFrame(rows).set_index("case")
            """, "observe-curl-u"),
        explain("Why", """
            Docker Hub uses *token* authentication: its registry ignores Basic credentials and always answers
            `401` with `WWW-Authenticate: Bearer realm="https://auth.docker.io/token",...`. curl stops there, so
            `curl -u` gets 401 **whether or not the password is right**. A runtime (and `probe_registry`) follows
            the challenge: it sends the password to the token service, which accepts it (a token for
            `your-username`) or refuses it (401, *incorrect username or password*). To test Docker Hub credentials
            with curl, ask the token service: `curl -u USER:PASS "https://auth.docker.io/token?service=registry.docker.io&scope=repository:USER/REPO:pull"`.
            A registry with Basic authentication, such as `myregistry.com` here, does answer 200 or 401 directly:
            """),
        code("""
            # A Basic-auth registry answers the password question directly.
            labhelpers.probe_registry("https://myregistry.com/v2/", "user3", "pass3", sandbox_dir=sandbox_dir)
            """, "basic-probe"),
        md("## Self-check"),
        code("""
            # Self-check: the fixed broken-pod runs, and you can name each drill pod's cause.
            part7 = checks.Checks("Self-check: Part 7")
            part7.add(lambda: checks.pod_ready(api, "broken-pod", ns), "broken-pod is fixed and running",
                      "broken-pod is not running", "re-create it with imagePullSecrets: [{name: dockerhub-secret}]")
            expected = {"issue-missing": "Secret doesn't exist", "issue-registry": "Wrong registry URL",
                        "issue-password": "Wrong or expired credentials", "issue-format": "Wrong secret format",
                        "issue-namespace": "Secret in different namespace"}
            for pod, issue in expected.items():
                part7.add(lambda pod=pod, issue=issue: (issue in pods.diagnose(api, pod, ns).issues,
                                                        "; ".join(pods.diagnose(api, pod, ns).issues)),
                          f"{pod}: {issue}", f"{pod} does not show '{issue}'", "re-run the five-issues drill")
            _ = part7.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **`kubectl debug`** is the modern way to troubleshoot from inside the cluster: `kubectl debug
              node/NODE -it --image=curlimages/curl` runs a pod in the node's network namespace (the path the kubelet's
              pulls take), and `kubectl debug POD -it --image=...` adds an ephemeral container to a running pod. Both
              still need a terminal; in scripts, use the `--restart=Never` + `logs` pattern above.
            - **Rate limits are a sixth common issue.** `429 Too Many Requests` / `toomanyrequests` in the pull error
              is Docker Hub's pull rate limit, which is stricter for anonymous pulls than for authenticated ones:
              give nodes credentials even for public images, or pull through a mirror.
            - **Cached images skip every check above**: with `IfNotPresent`, an image already on the node starts
              without a pull (notebook 02); the kubelet's *ensure secret pulled images* feature (KEP-2535, alpha in
              1.33, beta in 1.35) re-checks credentials for such images.

            Next: **08-verification**.
            """),
    ]
