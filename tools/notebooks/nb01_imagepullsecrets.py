"""01-imagepullsecrets: Exercises 1-3, creating pull secrets three ways and reading them back safely."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "01-imagepullsecrets.ipynb"
TITLE = "Lab 03 · 01 ImagePullSecrets basics (Exercises 1-3)"


def cells():
    return [
        header("01 · ImagePullSecrets basics", "Part 1", [
            "create a registry secret with `kubectl create secret docker-registry`, from a Docker `config.json`, "
            "and from a YAML manifest",
            "read a pull secret back without printing its password, and say which images it is used for",
            "recognise the seed's three traps: `\\\\` line continuations, the `\\\\.` jsonpath, and `base64` line "
            "wrapping",
        ], 20, "seed: Part 1, Exercises 1–3"),
        md("""
            ## What a pull secret is

            A *pull secret* is an ordinary Secret of type `kubernetes.io/dockerconfigjson`. Its only key,
            `.dockerconfigjson`, holds the same JSON that `docker login` writes to `~/.docker/config.json`:

            ```json
            {"auths": {"https://index.docker.io/v1/": {"username": "...", "password": "...",
                                                     "email": "...", "auth": "base64(username:password)"}}}
            ```

            The kubelet reads it **when it pulls an image** for a pod that names it in `imagePullSecrets` (directly
            or through its ServiceAccount, see notebook 02). It looks up the image's registry (`docker.io`,
            `myregistry.com`, ...) among the `auths` keys, tries the matching credentials in order, and falls back to
            an anonymous pull when nothing matches. The key `https://index.docker.io/v1/` is Docker Hub's historical
            name; the kubelet treats it, `index.docker.io` and `docker.io` as the same registry.

            Two consequences worth remembering:

            - Secret data is **base64-encoded, not encrypted**: anyone who may `get` secrets in the namespace can
              read the password. Restrict that with RBAC, and enable encryption at rest on real clusters.
            - Secrets are **namespaced**: a pod can only use pull secrets from its own namespace.
            """),
        parameters(),
        *setup(),
        md("""
            ## Exercise 1: create an ImagePullSecret from credentials

            The seed's command, for Docker Hub. The sandbox's Docker Hub has the demo account `your-username` /
            `your-password`, so the secret really works (notebook 02 pulls with it).

            > **Seed bug: `\\\\` at the end of each line.** The seed's markdown escapes every line continuation as
            > `\\\\`. Pasted into bash, `\\\\` is a literal backslash *argument* followed by a newline, so the
            > command ends after its first line and every following `--flag=...` line runs as a command of its own.
            > Below, the commands use a single `\\` (we use Python raw strings so that you read exactly what bash
            > gets). The drill after this exercise runs the broken form for real.

            The first line deletes the secret if it exists, so the cell can be re-run (`kubectl create` never
            overwrites).
            """),
        code(r'''
            # Exercise 1 as in the seed (with single-backslash continuations and -n so the cell stands alone).
            sh(rf"""
            kubectl delete secret dockerhub-secret -n {ns} --ignore-not-found
            kubectl create secret docker-registry dockerhub-secret \
              --docker-server=https://index.docker.io/v1/ \
              --docker-username=your-username \
              --docker-password=your-password \
              --docker-email=your-email@example.com \
              -n {ns}
            """)
            ''', "ex1-kubectl"),
        md("""
            The same secret with the lab helpers. `docker_registry_secret` builds byte for byte what kubectl sends,
            so creating it again reports `unchanged`; `dockerconfig_table` shows what the kubelet will make of it,
            for the images you name.
            """),
        code("""
            # The labhelpers equivalent: build the same Secret, send it (unchanged), and explain it as a table.
            dockerhub = secrets.docker_registry_secret(
                "dockerhub-secret", server="https://index.docker.io/v1/", username="your-username",
                password="your-password", email="your-email@example.com", namespace=ns)
            secrets.create_secret(api, dockerhub, replace=True)
            secrets.dockerconfig_table(dockerhub, images=["docker.io/yourusername/private-app:v1.0", "nginx",
                                                          "myregistry.com/app3:v1.0"], reveal=reveal)
            """, "ex1-labhelpers"),
        md("""
            **Try it yourself.** The form below builds a secret the same way and previews it as a table while you
            type (the password is never shown); *Create secret* sends it. Try a server key such as `docker.io`,
            `hub.docker.com` or `https://index.docker.io/v1/` and watch the `matches` column.
            """, "builder-intro"),
        code("""
            # An interactive secret builder (in JupyterLab; a headless run just shows it).
            from labhelpers import widgets

            widgets.secret_builder(api, name="my-regcred", username="your-username", namespace=ns,
                                   images=["docker.io/yourusername/private-app:v1.0", "myregistry.com/app3:v1.0"])
            """, "builder"),
        md("""
            `matches` lists which images would use the entry: `nginx` is short for `docker.io/library/nginx:latest`,
            so Docker Hub's entry covers it; `myregistry.com/app3` is another registry, so this secret does nothing
            for it.

            ### Verify the secret

            The seed's two commands. `describe` shows the size of each data key, never the values.
            """),
        code("""
            # The seed's verification commands.
            kubectl("get", "secret", "dockerhub-secret", "-n", ns)
            kubectl("describe", "secret", "dockerhub-secret", "-n", ns)
            """, "ex1-verify"),
        code("""
            # The same facts from the API, as a table: name, type, data keys and their sizes.
            import base64


            def secrets_overview(names):
                rows = []
                for name in names:
                    try:
                        s = v1.read_namespaced_secret(name, ns)
                    except client.ApiException as e:
                        rows.append({"secret": name, "type": f"❌ {e.reason}", "data": ""})
                        continue
                    sizes = {k: len(base64.b64decode(v)) for k, v in (s.data or {}).items()}
                    rows.append({"secret": name, "type": s.type,
                                 "data": ", ".join(f"{k}: {n} bytes" for k, n in sizes.items())})
                return pd.DataFrame(rows, columns=["secret", "type", "data"]).set_index("secret")


            secrets_overview(["dockerhub-secret"])
            """, "ex1-overview"),
        md("""
            ### View the secret's data

            The seed pipes the data through `base64 -d | jq .` to read it. Predict first what the seed's command
            prints *as written in the seed*.
            """),
        predict("""
            The seed writes `kubectl get secret dockerhub-secret -o jsonpath='{.data.\\\\.dockerconfigjson}'`
            (two backslashes). What does that print?""", [
            "the base64 of the config, as intended",
            "an error about an invalid jsonpath",
            "nothing at all, and kubectl exits with status 0",
        ], "predict-jsonpath"),
        code("""
            # Observe: the seed's jsonpath with its doubled backslash.
            seed_jsonpath = kubectl("get", "secret", "dockerhub-secret", "-n", ns, "-o",
                                    r"jsonpath={.data.\\\\.dockerconfigjson}")
            print(f"exit status {seed_jsonpath.returncode}, {len(seed_jsonpath.stdout)} characters of output")
            """, "observe-jsonpath"),
        explain("Why it prints nothing", """
            In a jsonpath, `\\.` escapes the dot so that `.dockerconfigjson` is read as one key name. With `\\\\.`
            the path asks for a key named `\\` followed by a key `dockerconfigjson`; neither exists, and kubectl's
            jsonpath prints an empty result for a missing key without an error. `base64 -d` then decodes nothing
            and `jq` has no input: the seed's command silently shows nothing. The fix is a single backslash inside
            single quotes: `'{.data.\\.dockerconfigjson}'`.
            """),
        md("""
            The corrected command prints the JSON, password included, in clear: exactly why this is risky in a
            shared terminal or a saved notebook. The shell helper masks the password and `auth` fields here (pass
            `reveal=True` to `sh` to see them on your own machine).
            """),
        code(r'''
            # The corrected seed command: one backslash; the helper masks "password" and "auth" in what it shows.
            sh(rf"""kubectl get secret dockerhub-secret -n {ns} -o jsonpath='{{.data.\.dockerconfigjson}}' | base64 -d | jq .""",
               reveal=reveal)
            ''', "ex1-decode-kubectl"),
        code("""
            # The labhelpers way: read the secret from the API and show it as a table, password masked.
            stored = v1.read_namespaced_secret("dockerhub-secret", ns)
            secrets.dockerconfig_table(stored, reveal=reveal)
            """, "ex1-decode-table"),
        md("""
            ### Drill: the seed's `\\\\` continuations

            The seed's Exercise 1 command as it appears in the seed's markdown, with `\\\\` at the end of each line,
            for a secret named `drill-secret`.
            """),
        predict("What happens when bash runs it?", [
            "the secret is created: bash ignores the extra backslash",
            "kubectl fails with a usage error, and bash then tries to run each `--docker-...` line as a command",
            "kubectl waits for more input",
        ], "predict-backslashes"),
        code(r'''
            # Observe: the seed's double backslashes, run as bash would see them after a copy and paste.
            sh(rf"""
            kubectl create secret docker-registry drill-secret \\
              --docker-server=https://index.docker.io/v1/ \\
              --docker-username=your-username \\
              --docker-password=your-password \\
              -n {ns}
            """)
            kubectl("get", "secret", "drill-secret", "-n", ns, "--ignore-not-found")
            ''', "observe-backslashes"),
        explain("Why", """
            `\\\\` followed by a newline is an escaped backslash (an argument `\\`) and then a plain newline, which ends
            the command. kubectl receives two names, `drill-secret` and `\\`, and refuses with *exactly one NAME is
            required, got 2*. bash then runs `--docker-server=...` and the other lines as commands: *command not
            found*. Worse, on a terminal those lines end up in your shell history, password included. No secret is
            created.
            """),
        md("""
            ## Exercise 2: create a secret from a Docker config

            The seed runs `docker login`, then stores `~/.docker/config.json` as a secret. There is no Docker here,
            so we do what `docker login myregistry.com` does: check the credentials against the registry (`GET /v2/`
            with them must answer 200), then write the `auths` entry to a `config.json`. We use a `config.json`
            inside the lab's work directory, not your real `~/.docker`.
            """),
        code("""
            # docker login myregistry.com, step 1: the registry must accept the credentials (200 on /v2/).
            labhelpers.probe_registry("https://myregistry.com/v2/", "username", "password", sandbox_dir=sandbox_dir)
            """, "ex2-login-probe"),
        code("""
            # docker login myregistry.com, step 2: write the auths entry as Docker does (password stays in the file).
            import base64
            import json

            docker_config = work / "docker-home" / ".docker" / "config.json"
            docker_config.parent.mkdir(parents=True, exist_ok=True)
            docker_config.write_text(json.dumps(
                {"auths": {"myregistry.com": {"auth": base64.b64encode(b"username:password").decode()}}}, indent="\\t"))
            docker_config.chmod(0o600)
            secrets.dockerconfig_table(json.loads(docker_config.read_text()), images=["myregistry.com/app3:v1.0"],
                                       reveal=reveal)
            """, "ex2-login-file"),
        code(r'''
            # The seed's command (with our config.json path instead of $HOME/.docker/config.json).
            sh(rf"""
            kubectl delete secret docker-config-secret -n {ns} --ignore-not-found
            kubectl create secret generic docker-config-secret \
              --from-file=.dockerconfigjson={docker_config} \
              --type=kubernetes.io/dockerconfigjson \
              -n {ns}
            """)
            ''', "ex2-kubectl"),
        code("""
            # The labhelpers equivalent: the file's bytes as they are (unchanged), then the table.
            from_file = secrets.secret_from_docker_config("docker-config-secret", docker_config, namespace=ns)
            secrets.create_secret(api, from_file, replace=True)
            secrets.dockerconfig_table(v1.read_namespaced_secret("docker-config-secret", ns),
                                       images=["myregistry.com/app3:v1.0"], reveal=reveal)
            """, "ex2-labhelpers"),
        md("""
            ### Drill: a `config.json` that holds no password

            On a laptop with Docker Desktop (or a credential helper: `osxkeychain`, `wincred`, `pass`), `docker
            login` keeps the password in the operating system's keychain. `config.json` then only says *where* the
            credentials are:

            ```json
            {"auths": {"myregistry.com": {}}, "credsStore": "desktop"}
            ```
            """),
        predict("""
            You run the seed's `kubectl create secret generic ... --from-file=.dockerconfigjson=config.json` on such
            a file, and a pod pulls `myregistry.com/app3:v1.0` with that secret.""", [
            "the API server rejects the secret",
            "the secret is created and the pull works: the kubelet asks the credential store",
            "the secret is created, but the pull fails: 401 Unauthorized",
        ], "predict-credsstore"),
        code(r'''
            # Observe: a config.json written by docker login with a credential store, made into a pull secret.
            store_config = work / "docker-home-desktop" / ".docker" / "config.json"
            store_config.parent.mkdir(parents=True, exist_ok=True)
            store_config.write_text('{"auths": {"myregistry.com": {}}, "credsStore": "desktop"}\n')
            sh(rf"""
            kubectl delete secret credstore-secret -n {ns} --ignore-not-found
            kubectl create secret generic credstore-secret \
              --from-file=.dockerconfigjson={store_config} \
              --type=kubernetes.io/dockerconfigjson -n {ns}
            """)
            secrets.dockerconfig_table(v1.read_namespaced_secret("credstore-secret", ns),
                                       images=["myregistry.com/app3:v1.0"])
            ''', "observe-credsstore"),
        code("""
            # ... and a pod that pulls with it (imagePullPolicy Always: the node must ask the registry).
            kubectl("delete", "pod", "credstore-pod", "-n", ns, "--ignore-not-found", "--wait=true")
            kubectl("run", "credstore-pod", "-n", ns, "--image=myregistry.com/app3:v1.0", "--restart=Never",
                    "--image-pull-policy=Always",
                    '--overrides={"spec": {"imagePullSecrets": [{"name": "credstore-secret"}]}}')
            pods.wait_for_pod(api, "credstore-pod", ns, until=pull_failing, timeout=60)
            pods.pod_events_table(api, "credstore-pod", ns)
            """, "observe-credsstore-pod"),
        explain("Why", """
            The API server only checks that `.dockerconfigjson` is JSON, so the secret is accepted. The kubelet
            never runs credential helpers and ignores `credsStore`; the entry for `myregistry.com` is empty, so the
            pull goes out without credentials and the registry answers **401 Unauthorized**: *ErrImagePull*, then
            *ImagePullBackOff*. Check a `config.json` before turning it into a secret (`dockerconfig_table` flags
            empty entries), or create the secret from the credentials themselves (Exercise 1).
            """),
        md("""
            One more thing the API server *does* check: the key name. `--from-file=config.json=...` (the file's
            name as the key) with `--type=kubernetes.io/dockerconfigjson` is refused:
            """),
        code(r'''
            # The key must be .dockerconfigjson: the API server refuses any other name for this type.
            kubectl("create", "secret", "generic", "wrong-key-secret", f"--from-file=config.json={docker_config}",
                    "--type=kubernetes.io/dockerconfigjson", "-n", ns)
            ''', "wrong-key"),
        md("""
            ## Exercise 3: create a secret from YAML

            The seed encodes the credentials with `base64`, builds the JSON, encodes it again and writes a manifest
            with a heredoc. The heredoc is deliberately *unquoted* (`<<EOF`): bash must expand `$(...)` and
            `${AUTH}` while writing the file. (Notebook 04 shows a heredoc where that same expansion is a bug.)
            """),
        code(r'''
            # Exercise 3 as in the seed, run in the work directory; the file itself is not printed (it holds the password).
            sh(r"""
            # Encode credentials
            AUTH=$(echo -n 'username:password' | base64)

            cat > registry-secret.yaml <<EOF
            apiVersion: v1
            kind: Secret
            metadata:
              name: manual-registry-secret
              namespace: NAMESPACE
            type: kubernetes.io/dockerconfigjson
            data:
              .dockerconfigjson: $(echo -n "{\"auths\":{\"myregistry.com\":{\"auth\":\"${AUTH}\"}}}" | base64 -w0)
            EOF

            kubectl apply -f registry-secret.yaml
            """.replace("NAMESPACE", ns), cwd=work)
            ''', "ex3-kubectl"),
        code("""
            # The labhelpers equivalent: the same manifest text, parsed and sent (unchanged), then explained.
            manifest = secrets.registry_secret_manifest("manual-registry-secret", {"myregistry.com": ("username", "password")},
                                                        namespace=ns)
            print("same bytes as the heredoc wrote:", manifest == (work / "registry-secret.yaml").read_text())
            secrets.create_secret(api, secrets.secret_from_yaml(manifest), replace=True)
            secrets.dockerconfig_table(v1.read_namespaced_secret("manual-registry-secret", ns),
                                       images=["myregistry.com/app3:v1.0"], reveal=reveal)
            """, "ex3-labhelpers"),
        md("""
            ### Drill: `base64` wraps long lines

            The seed encodes `AUTH` with plain `base64`, which (GNU coreutils) inserts a newline every 76
            characters. `username:password` is short. Registry passwords often are not: an ECR token is about
            2,000 characters and a Google service-account key is a whole JSON file.
            """),
        predict("""
            Same heredoc, but the password is 80 characters long (still `-w0` on the outer `base64`, as in the
            seed). What does `kubectl apply` say?""", [
            "`secret/long-secret created`, and the pull works",
            "`secret/long-secret created`, but pulls fail with 401",
            "the API server rejects the secret",
        ], "predict-wrap"),
        code(r'''
            # Observe: the seed's recipe with an 80-character password (a throwaway value, not a real credential).
            sh(r"""
            LONG=$(printf 'x%.0s' $(seq 80))
            AUTH=$(echo -n "username:$LONG" | base64)
            cat > long-secret.yaml <<EOF
            apiVersion: v1
            kind: Secret
            metadata:
              name: long-secret
              namespace: NAMESPACE
            type: kubernetes.io/dockerconfigjson
            data:
              .dockerconfigjson: $(echo -n "{\"auths\":{\"myregistry.com\":{\"auth\":\"${AUTH}\"}}}" | base64 -w0)
            EOF
            echo "AUTH has $(echo "$AUTH" | wc -l) lines"
            kubectl apply -f long-secret.yaml
            """.replace("NAMESPACE", ns), cwd=work)
            ''', "observe-wrap"),
        explain("Why, and the fix", """
            `base64` wrapped `AUTH` over two lines, so the JSON string contains a raw newline, which JSON forbids.
            The API server validates `.dockerconfigjson` and refuses: *invalid character '\\n' in string literal*
            (it redacts the value in the message). Use `base64 -w0` for **every** encoding (on macOS, `base64`
            does not wrap), or let kubectl do the encoding: `kubectl create secret docker-registry ...
            --dry-run=client -o yaml > registry-secret.yaml` writes the same manifest safely. A third option is
            `stringData`, where you write the JSON in clear and the API server encodes it.
            """),
        md("## Self-check"),
        code("""
            # Self-check: the three secrets of Exercises 1-3 exist and would be used for their registries.
            def secret_covers(name, image):
                table = secrets.dockerconfig_table(v1.read_namespaced_secret(name, ns), images=[image])
                problems = secrets.secret_problems(v1.read_namespaced_secret(name, ns))
                used = any(image in str(m) for m in table["matches"])
                detail = "; ".join(problems) or ("" if used else f"no entry matches {image}")
                return used and not problems, detail or f"used for {image}"


            part1 = checks.Checks("Self-check: Part 1")
            part1.add(lambda: secret_covers("dockerhub-secret", "docker.io/yourusername/private-app:v1.0"),
                      "dockerhub-secret covers Docker Hub", "dockerhub-secret is missing or does not cover docker.io",
                      "re-run Exercise 1: kubectl create secret docker-registry dockerhub-secret "
                      "--docker-server=https://index.docker.io/v1/ ...")
            part1.add(lambda: secret_covers("docker-config-secret", "myregistry.com/app3:v1.0"),
                      "docker-config-secret covers myregistry.com", "docker-config-secret is missing or holds no "
                      "credentials for myregistry.com", "re-run Exercise 2 (config.json with an auth entry)")
            part1.add(lambda: secret_covers("manual-registry-secret", "myregistry.com/app3:v1.0"),
                      "manual-registry-secret covers myregistry.com", "manual-registry-secret is missing or broken",
                      "re-run Exercise 3; encode with base64 -w0")
            _ = part1.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **Credential stores are the default** on Docker Desktop and most laptops: `config.json` often holds
              no password, so Exercise 2's recipe produces a secret that cannot authenticate (see the drill).
            - **kubectl can write the manifest for you**: `kubectl create secret docker-registry ... --dry-run=client
              -o yaml` replaces Exercise 3's hand-made encoding, and `stringData` avoids base64 altogether.
            - **Prefer short-lived credentials**: cloud registries now favour tokens and node identities over
              long-lived passwords in secrets (notebook 04).

            Next: **02-using-pull-secrets** (Exercises 4–6).
            """),
    ]
