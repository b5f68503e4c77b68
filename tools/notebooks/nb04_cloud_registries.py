"""04-cloud-registries: Exercises 8-10, ECR, GCR/Artifact Registry and ACR credentials, and what replaced them."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "04-cloud-registries.ipynb"
TITLE = "Lab 03 · 04 Cloud registry integration (Exercises 8-10)"


def cells():
    return [
        header("04 · Cloud registries: ECR, GCR / Artifact Registry, ACR", "Part 4", [
            "create pull secrets from each cloud's credentials: ECR tokens, Google service-account keys, Azure "
            "admin users and service principals",
            "watch an ECR token expire (by fast-forwarding the sandbox's clock 12 hours) and refresh it",
            "fix the seed's ECR refresher CronJob: expansion at heredoc time, missing RBAC, and an image without "
            "kubectl",
            "explain what replaced pull secrets on cloud clusters: kubelet credential provider plugins and node "
            "or workload identities",
        ], 30, "seed: Part 4, Exercises 8–10"),
        md("""
            ## Cloud registries in one paragraph each

            - **Amazon ECR** has no long-lived registry password. `aws ecr get-login-password` (the
              `GetAuthorizationToken` API) returns a token that is valid for **12 hours**; the registry user is
              always `AWS`. A pull secret holding it stops working 12 hours later.
            - **Google**: Container Registry (`gcr.io`) has been shut down in favour of **Artifact Registry**
              (`LOCATION-docker.pkg.dev`, which also serves `gcr.io` names now). Both accept the user `_json_key`
              with a whole service-account key file as the password, or `oauth2accesstoken` with a one-hour token.
            - **Azure ACR** offers an *admin user* (the registry's name and one of two passwords: full push/pull
              rights, not recommended), *service principals* (an app ID and client secret, scoped by RBAC roles
              such as `AcrPull`), and short-lived tokens (`az acr login --expose-token`: user
              `00000000-0000-0000-0000-000000000000`, valid 3 hours).

            In the sandbox, the three clouds' registries answer under their real names, and the sandbox plays the
            clouds' APIs: an ECR endpoint for boto3 and the AWS CLI, and demo keys and passwords standing in for
            what `gcloud` and `az` would hand you.
            """),
        parameters(),
        *setup(),
        code('''
            # Cloud credentials: the sandbox's ECR endpoint and demo keys (on a real cluster: your own cloud setup).
            import base64
            import datetime as dt
            import json
            import shutil

            import boto3


            def demo_password(host, username, note=""):
                """What the cloud CLI would hand you for USER on HOST in the lab (never printed)."""
                for reg in (sandbox.info() if sandbox else {}).get("registries", []):
                    for user in reg.get("users", []) if reg["host"] == host else []:
                        if user["username"] == username and note in user.get("note", ""):
                            return user["password"]
                raise LookupError(f"no demo account {username} on {host}: set your own credentials on a real cluster")


            def ecr_client():
                """boto3's ECR client: the sandbox's endpoint, or your AWS configuration on a real cluster."""
                if not sandbox:
                    return boto3.client("ecr", region_name="us-east-1")
                aws = sandbox.info()["aws"]
                return boto3.client("ecr", endpoint_url=aws["ecr_endpoint_url"], region_name=aws["region"],
                                    aws_access_key_id=aws["access_key_id"],
                                    aws_secret_access_key=aws["secret_access_key"], verify=aws["ca_bundle"])


            if sandbox:  # for the AWS CLI, if installed: point it at the sandbox's ECR endpoint
                os.environ.update(sandbox.info()["aws"]["env"])
            AWS_ACCOUNT_ID, AWS_REGION = "123456789012", "us-east-1"
            ECR_URL = f"{AWS_ACCOUNT_ID}.dkr.ecr.{AWS_REGION}.amazonaws.com"
            print("ECR registry:", ECR_URL, "| AWS CLI:", shutil.which("aws") or "not installed (boto3 is used)")
            ''', "cloud-setup"),
        md("""
            ## Exercise 8: Amazon ECR

            The seed logs Docker in (`aws ecr get-login-password | docker login ...`) and then creates the secret
            with a second `get-login-password`. There is no Docker here, and the secret is what Kubernetes needs, so
            we run the `kubectl` part. With the AWS CLI installed, the seed's command runs as it is; the shell helper
            shows `$(aws ...)`, never the token.
            """),
        code(r'''
            # Exercise 8 as in the seed (the kubectl part), when the AWS CLI is installed.
            exercise8 = rf"""
            AWS_ACCOUNT_ID="123456789012"
            AWS_REGION="us-east-1"
            ECR_URL="${{AWS_ACCOUNT_ID}}.dkr.ecr.${{AWS_REGION}}.amazonaws.com"

            kubectl delete secret ecr-secret -n {ns} --ignore-not-found
            kubectl create secret docker-registry ecr-secret \
              --docker-server=${{ECR_URL}} \
              --docker-username=AWS \
              --docker-password=$(aws ecr get-login-password --region ${{AWS_REGION}}) \
              -n {ns}
            """
            if shutil.which("aws"):
                sh(exercise8, reveal=True)  # no password in the script or its output: the token stays inside $(...)
            else:
                print("AWS CLI not installed: the next cell does the same with boto3")
            ''', "ex8-cli"),
        code("""
            # The labhelpers equivalent: GetAuthorizationToken with boto3, then the same secret (replaced).
            token = ecr_client().get_authorization_token()["authorizationData"][0]
            user, _, ecr_password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
            print(f"token for user {user} at {token['proxyEndpoint']}, expires {token['expiresAt']:%Y-%m-%d %H:%M} UTC "
                  "(sandbox clock)")
            secrets.create_secret(api, secrets.docker_registry_secret("ecr-secret", ECR_URL, user, ecr_password,
                                                                      namespace=ns), replace=True)
            secrets.dockerconfig_table(v1.read_namespaced_secret("ecr-secret", ns),
                                       images=[f"{ECR_URL}/my-app:v1.0"], reveal=reveal)
            """, "ex8-boto3"),
        code("""
            # A pod that pulls from ECR with it.
            def pull_pod(name, image, secret, policy="Always"):
                kubectl("delete", "pod", name, "-n", ns, "--ignore-not-found", "--wait=true", show=False)
                return kubectl("apply", "-f", "-", input=json.dumps({
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                    "spec": {"imagePullSecrets": [{"name": secret}],
                             "containers": [{"name": "app", "image": image, "imagePullPolicy": policy}]}}))


            pull_pod("ecr-app", f"{ECR_URL}/my-app:v1.0", "ecr-secret")
            pods.wait_for_pod(api, "ecr-app", ns, timeout=90)
            pods.pull_explain(api, "ecr-app", ns)
            """, "ex8-pod"),
        md("""
            ### Drill: the token expires

            An ECR token lives 12 hours, and nobody waits 12 hours in a lesson. The next cell takes a fresh token,
            starts a pod with it, then **fast-forwards the sandbox's clock 12 hours**
            (`sandbox.advance_clock("12h")`; in a terminal, `labctl sandbox clock advance 12h`) and starts a second
            pod with the same secret.

            Only the sandbox can do this. It keeps its own time, and its ECR endpoint, registries, kubelet and
            controllers all read it, so token expiry, back-offs and CronJobs react at once. A real cluster runs on
            the real clock: there you would wait the 12 hours (and a node with a skewed clock breaks far more than
            tokens). The jump is for good: from now on the sandbox's clock is 12 hours ahead of your computer's for
            everything that expires or waits (every token it issues is valid for 12 hours of *sandbox* time), while
            object timestamps, and so the AGE columns of `kubectl get` and `kubectl describe`, stay on the real
            clock: the pods below are seconds old, not 12 hours.
            """),
        predict("What happens to the two pods?", [
            "both keep running: the kubelet refreshes ECR tokens itself",
            "the first keeps running, the second cannot pull",
            "both fail: running containers are stopped when their pull secret expires",
        ], "predict-ecr-expiry"),
        code("""
            # Observe: a token, a pod, fast-forward 12 hours, another pod.
            def fresh_ecr_secret():
                data = ecr_client().get_authorization_token()["authorizationData"][0]
                login, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
                secrets.create_secret(api, secrets.docker_registry_secret("ecr-secret", ECR_URL, login, password,
                                                                          namespace=ns), replace=True)
                return data["expiresAt"]


            if backend != "sandbox":
                print("skipped: only the sandbox's clock can be fast-forwarded")
            else:
                expires = fresh_ecr_secret()
                pull_pod("ecr-before-expiry", f"{ECR_URL}/my-app:v1.0", "ecr-secret")
                pods.wait_for_pod(api, "ecr-before-expiry", ns, timeout=60)
                print(f"sandbox time {sandbox.clock()['now']}: the token expires at {expires:%Y-%m-%d %H:%M} UTC")
                print(f"fast-forward 12 hours: sandbox time {sandbox.advance_clock('12h')['now']}")
                pull_pod("ecr-after-expiry", f"{ECR_URL}/my-app:v1.0", "ecr-secret")
                pods.wait_for_pod(api, "ecr-after-expiry", ns, until=pull_failing, timeout=60)
                table = pods.pods_table(api, ns)
                display(table[table["NAME"].str.startswith("ecr-")])
                display(pods.pod_events_table(api, "ecr-after-expiry", ns))
            """, "observe-ecr-expiry"),
        explain("Why", """
            The kubelet uses a pull secret only while pulling. `ecr-before-expiry` pulled while the token was
            valid, and a running container is never re-checked, so it keeps running. `ecr-after-expiry` needs a
            pull (`imagePullPolicy: Always`), the kubelet sends the expired token, and ECR refuses it with **403
            Forbidden** (real ECR adds *Your authorization token has expired*): *ErrImagePull*, then
            *ImagePullBackOff*. The same happens to any pod that lands on a
            node without the image (a reschedule, a scale-up) once 12 hours have passed. The secret must be
            refreshed before the token expires: the seed's CronJob idea, done right below, or no secret at all (the
            kubelet credential provider, at the end of this notebook).
            """),
        md("""
            The fix is a fresh token in the same secret. The kubelet reads the secret again on its next retry, which
            comes at most 5 minutes after the last failure (the image pull back-off doubles from 10 s up to 5 min);
            the next cell fast-forwards the sandbox to it instead of waiting.
            """),
        code("""
            # The fix: a fresh token (12 hours from sandbox time) in the same secret; the kubelet's next retry pulls.
            if backend == "sandbox":
                fresh_ecr_secret()
                print(f"fast-forward 5 minutes, to the kubelet's next retry: {sandbox.advance_clock('5m')['now']}")
                pods.wait_for_pod(api, "ecr-after-expiry", ns, timeout=120, fail_fast=False)
                table = pods.pods_table(api, ns)
                display(table[table["NAME"].str.startswith("ecr-")])
            """, "fix-ecr-expiry"),
        md("""
            ### The seed's refresher CronJob, and what is wrong with it

            The seed proposes a CronJob that re-creates `ecr-secret` every 8 hours. Predict what ends up in the file
            when the seed's commands run in the same shell as Exercise 8 (so `ECR_URL` and `AWS_REGION` are set).
            """),
        predict("""
            Look at the line `--docker-password=$(aws ecr get-login-password --region ${AWS_REGION})` inside the
            seed's `cat > ecr-credential-refresher.yaml <<EOF` block. What does the YAML file contain on that
            line?""", [
            "the command itself, to be run by the CronJob's container every 8 hours",
            "the token of the moment the file was written",
            "an empty value",
        ], "predict-heredoc"),
        code(r'''
            # Observe: the seed's heredoc, run in a shell where Exercise 8's variables are set.
            from labhelpers.shell import mask_text

            written = sh(r"""
            AWS_ACCOUNT_ID="123456789012"
            AWS_REGION="us-east-1"
            ECR_URL="${AWS_ACCOUNT_ID}.dkr.ecr.${AWS_REGION}.amazonaws.com"
            command -v aws >/dev/null || aws() { echo "TOKEN-OF-$(date +%H:%M)"; }   # stand-in without the AWS CLI

            cat > ecr-credential-refresher.yaml <<EOF
            apiVersion: batch/v1
            kind: CronJob
            metadata:
              name: ecr-cred-refresher
              namespace: registry-lab
            spec:
              schedule: "0 */8 * * *"  # Every 8 hours
              jobTemplate:
                spec:
                  template:
                    spec:
                      serviceAccountName: ecr-refresher-sa
                      containers:
                      - name: refresher
                        image: amazon/aws-cli:latest
                        command:
                        - /bin/bash
                        - -c
                        - |
                          kubectl delete secret ecr-secret --ignore-not-found
                          kubectl create secret docker-registry ecr-secret \\
                            --docker-server=${ECR_URL} \\
                            --docker-username=AWS \\
                            --docker-password=$(aws ecr get-login-password --region ${AWS_REGION})
                      restartPolicy: OnFailure
            EOF
            grep -n -A3 'kubectl create secret' ecr-credential-refresher.yaml
            """, cwd=work, show=False)
            # The script is above; only its output is shown: masked when it holds a real token, as is for the stand-in.
            print(mask_text(written.stdout + written.stderr) if shutil.which("aws") else written.stdout + written.stderr)
            ''', "observe-heredoc"),
        explain("Why, and the other three bugs", """
            The heredoc delimiter is unquoted (`<<EOF`), so bash expands `${ECR_URL}`, `${AWS_REGION}` and runs
            `$(aws ecr get-login-password ...)` **once, while writing the file**. The CronJob then re-creates the
            secret every 8 hours with the same token, which stops working 12 hours after the file was written (and
            the token now sits in the CronJob's spec, readable by anyone who can read CronJobs). Without the AWS CLI
            the value is empty (or, here, our stand-in's output). Quoting the delimiter (`<<'EOF'`) keeps `$(...)`
            for the container to run. (The seed's `\\\\` are turned into `\\` by the unquoted heredoc, so the file's
            continuations happen to be right; with `<<'EOF'` write single backslashes.)

            Three more problems:

            1. **No permission.** `ecr-refresher-sa` does not exist, and even once created it may not touch
               secrets: the Job needs a Role allowing `get`, `create` and `patch` (or `delete`) on `secrets`,
               bound to its ServiceAccount.
            2. **No kubectl in the image.** `amazon/aws-cli` has the AWS CLI but no `kubectl` (and the official
               `registry.k8s.io/kubectl` image has kubectl but no shell or AWS CLI). Use two containers that share
               a volume: an init container that fetches the token and writes a Secret manifest, and a kubectl
               container that applies it.
            3. **No AWS credentials.** The container needs an identity allowed to call
               `ecr:GetAuthorizationToken`: on EKS an IAM role for the ServiceAccount (IRSA, or EKS Pod Identity).

            Also: `delete` then `create` leaves a moment without the secret; `apply` replaces it in one step.
            """),
        md("""
            ### A corrected refresher

            A quoted heredoc (`<<'EOF'`), a ServiceAccount with a Role and RoleBinding limited to secrets, an
            `amazon/aws-cli` init container that writes the Secret manifest into a shared `emptyDir`, and the
            official kubectl image that applies it. The values the script needs come from `env`, at run time.
            """),
        code(r'''
            # The corrected manifests, written with a quoted heredoc: nothing is expanded while writing the file.
            sh(r"""
            cat > ecr-credential-refresher.yaml <<'EOF'
            apiVersion: v1
            kind: ServiceAccount
            metadata:
              name: ecr-refresher-sa
              namespace: registry-lab
              # On EKS, give it AWS credentials, e.g. IRSA:
              # annotations: {eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/ecr-token-reader}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata:
              name: ecr-secret-writer
              namespace: registry-lab
            rules:
            - apiGroups: [""]
              resources: ["secrets"]
              verbs: ["get", "create", "patch"]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata:
              name: ecr-refresher-secret-writer
              namespace: registry-lab
            subjects:
            - kind: ServiceAccount
              name: ecr-refresher-sa
              namespace: registry-lab
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: Role
              name: ecr-secret-writer
            ---
            apiVersion: batch/v1
            kind: CronJob
            metadata:
              name: ecr-cred-refresher
              namespace: registry-lab
            spec:
              schedule: "0 */8 * * *"       # every 8 hours: well inside the token's 12
              concurrencyPolicy: Forbid
              jobTemplate:
                spec:
                  backoffLimit: 3
                  template:
                    spec:
                      serviceAccountName: ecr-refresher-sa
                      restartPolicy: OnFailure
                      volumes:
                      - name: work
                        emptyDir: {}
                      initContainers:
                      - name: get-token            # has the AWS CLI (and bash, base64)
                        image: amazon/aws-cli:latest
                        env:
                        - {name: ECR_URL, value: 123456789012.dkr.ecr.us-east-1.amazonaws.com}
                        - {name: AWS_REGION, value: us-east-1}
                        - name: NAMESPACE
                          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
                        volumeMounts:
                        - {name: work, mountPath: /work}
                        command:
                        - /bin/bash
                        - -ec
                        - |
                          TOKEN="$(aws ecr get-login-password --region "$AWS_REGION")"
                          AUTH="$(printf 'AWS:%s' "$TOKEN" | base64 -w0)"
                          CONFIG="$(printf '{"auths":{"%s":{"username":"AWS","password":"%s","auth":"%s"}}}' \
                            "$ECR_URL" "$TOKEN" "$AUTH" | base64 -w0)"
                          printf '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"ecr-secret","namespace":"%s"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"%s"}}\n' \
                            "$NAMESPACE" "$CONFIG" > /work/ecr-secret.json
                      containers:
                      - name: apply                # has kubectl (and no shell): one command, no expansion needed
                        image: registry.k8s.io/kubectl:v1.33.0
                        args: ["apply", "-f", "/work/ecr-secret.json"]
                        volumeMounts:
                        - {name: work, mountPath: /work}
            EOF
            grep -n 'get-login-password' ecr-credential-refresher.yaml
            """, cwd=work, reveal=True)  # no password in it: shown unmasked so that the printf formats stay readable
            ''', "refresher-file"),
        md("""
            Apply it. The API server validates everything; the RBAC objects are created for real. The CronJob is
            applied with `--dry-run=server` (validated, not stored): sandbox containers do not execute commands, so a
            Job would "succeed" without refreshing anything, and `registry.k8s.io` is not one of the lab's
            registries.
            """),
        code("""
            # Apply the RBAC objects for real and the CronJob as a server-side dry run (see the text above).
            refresher = (work / "ecr-credential-refresher.yaml").read_text().replace("namespace: registry-lab",
                                                                                    f"namespace: {ns}")
            documents = refresher.split("\\n---\\n")
            kubectl("apply", "-f", "-", input="\\n---\\n".join(documents[:3]))
            kubectl("apply", "--dry-run=server", "-f", "-", input=documents[3])
            kubectl("get", "serviceaccount/ecr-refresher-sa", "role/ecr-secret-writer",
                    "rolebinding/ecr-refresher-secret-writer", "-n", ns)
            """, "refresher-apply"),
        code("""
            # What the Job's two containers do, run from here: the init container's script, then kubectl apply.
            import yaml

            cronjob = list(yaml.safe_load_all(refresher))[3]
            pod_spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            script = pod_spec["initContainers"][0]["command"][2]
            job_dir = work / "job"
            job_dir.mkdir(exist_ok=True)
            if shutil.which("aws"):
                os.environ.update(ECR_URL=ECR_URL, AWS_REGION=AWS_REGION, NAMESPACE=ns)
                apply = "kubectl " + " ".join(pod_spec["containers"][0]["args"])
                # no password in the script or in kubectl's output: shown unmasked so that the printf formats stay readable
                sh((script + apply).replace("/work/", f"{job_dir}/"), reveal=True)
            else:
                print("AWS CLI not installed: refreshing with boto3 instead")
                fresh_ecr_secret()
            secrets.dockerconfig_table(v1.read_namespaced_secret("ecr-secret", ns), images=[f"{ECR_URL}/my-app:v1.0"])
            """, "refresher-run"),
        md("""
            On a real cluster, check the RBAC before the first run:
            `kubectl auth can-i create secrets -n registry-lab --as=system:serviceaccount:registry-lab:ecr-refresher-sa`
            must answer `yes`, and the same question for `...:default` must answer `no`. (The sandbox does not
            enforce RBAC, so it answers `yes` to everything.)

            ## Exercise 9: Google Container Registry and Artifact Registry

            The seed passes the whole service-account key file as the password of user `_json_key`. We write the
            lab's demo key (a fake, lab-only key) to the work directory; with a real project you would download
            one with `gcloud iam service-accounts keys create`.
            """),
        code("""
            # The key file: the lab's demo service-account key (gcloud would download yours).
            gcr_key_file = work / "keyfile.json"
            gcr_key_file.write_text(demo_password("gcr.io", "_json_key"))
            gcr_key_file.chmod(0o600)
            key = json.loads(gcr_key_file.read_text())
            pd.DataFrame([{"field": k, "value": "****" if "private" in k else v} for k, v in key.items()]).set_index("field")
            """, "ex9-key"),
        code(r'''
            # Exercise 9 as in the seed: gcr-secret (gcr.io) and gar-secret (Artifact Registry in us-central1).
            sh(rf"""
            GCR_KEY_FILE="{gcr_key_file}"
            GCR_URL="gcr.io"
            GAR_URL="us-central1-docker.pkg.dev"

            kubectl delete secret gcr-secret gar-secret -n {ns} --ignore-not-found
            kubectl create secret docker-registry gcr-secret \
              --docker-server=${{GCR_URL}} \
              --docker-username=_json_key \
              --docker-password="$(cat ${{GCR_KEY_FILE}})" \
              --docker-email=user@example.com \
              -n {ns}

            kubectl create secret docker-registry gar-secret \
              --docker-server=${{GAR_URL}} \
              --docker-username=_json_key \
              --docker-password="$(cat ${{GCR_KEY_FILE}})" \
              -n {ns}
            """)
            ''', "ex9-kubectl"),
        code("""
            # The labhelpers equivalent (unchanged), and pods pulling from both registries.
            key_text = gcr_key_file.read_text().rstrip("\\n")  # $(cat FILE) drops the final newline too
            for name, server, extra in (("gcr-secret", "gcr.io", "user@example.com"),
                                        ("gar-secret", "us-central1-docker.pkg.dev", None)):
                secrets.create_secret(api, secrets.docker_registry_secret(name, server, "_json_key", key_text, extra,
                                                                          namespace=ns), replace=True)
            pull_pod("gcr-app", "gcr.io/yourproject/app:v1.0", "gcr-secret")
            pull_pod("gar-app", "us-central1-docker.pkg.dev/yourproject/lab-repo/app:v1.0", "gar-secret")
            for name in ("gcr-app", "gar-app"):
                pods.wait_for_pod(api, name, ns, timeout=90)
            secrets.dockerconfig_table(v1.read_namespaced_secret("gar-secret", ns),
                                       images=["us-central1-docker.pkg.dev/yourproject/lab-repo/app:v1.0",
                                               "europe-west1-docker.pkg.dev/yourproject/lab-repo/app:v1.0"],
                                       reveal=reveal)
            """, "ex9-labhelpers"),
        md("""
            Artifact Registry hosts are regional: the `us-central1-docker.pkg.dev` entry does not cover an image in
            `europe-west1-docker.pkg.dev` (no `matches` for it above). Add one entry per location you pull from.

            ## Exercise 10: Azure Container Registry

            The seed reads the admin password with `az acr credential show`. There is no Azure here: the sandbox's
            registry has the admin user `myregistry` with two passwords, and a service principal with the `AcrPull`
            role, standing in for what `az` would return.
            """),
        predict("""
            The seed runs `az acr credential show --name ${ACR_NAME} --query passwords[0].value -o tsv` without
            quotes around the query. In a directory that happens to contain a file named `passwords0.value`, what
            does `az` receive as the query?""", [
            "`passwords[0].value`",
            "`passwords0.value`",
            "an error from bash",
        ], "predict-glob"),
        code(r'''
            # Observe: the unquoted JMESPath query is a shell glob ([0] is a character class).
            sh(r"""
            cd "$(mktemp -d)"
            echo 'query as typed:        --query passwords[0].value'
            echo "query bash passes on:  --query" passwords[0].value
            touch passwords0.value
            echo "...with passwords0.value present:  --query" passwords[0].value
            echo "quoted:                --query" "passwords[0].value"
            """)
            ''', "observe-glob"),
        explain("Why", """
            `[0]` in an unquoted word is a glob character class matching the character `0`. bash leaves the word
            alone when no file matches, so the seed's command works *most of the time*; when a file named
            `passwords0.value` exists, bash substitutes it and `az` gets a different query. zsh (macOS's default
            shell) is stricter and stops with *no matches found*. Quote JMESPath queries:
            `--query "passwords[0].value"` (the same goes for `--query [0].appId` in the seed's service-principal
            commands).
            """),
        code("""
            # Exercise 10 as in the seed: the admin-user secret and the service-principal secret.
            ACR_NAME = "myregistry"
            ACR_URL = f"{ACR_NAME}.azurecr.io"
            ACR_USERNAME = ACR_NAME
            ACR_PASSWORD = demo_password(ACR_URL, ACR_NAME, "password 1")  # az acr credential show ... passwords[0]
            SP_APP_ID = "11111111-2222-3333-4444-555555555555"              # az ad sp create-for-rbac ... --role acrpull
            SP_PASSWORD = demo_password(ACR_URL, SP_APP_ID)

            kubectl("delete", "secret", "acr-secret", "acr-sp-secret", "-n", ns, "--ignore-not-found")
            kubectl("create", "secret", "docker-registry", "acr-secret", f"--docker-server={ACR_URL}",
                    f"--docker-username={ACR_USERNAME}", f"--docker-password={ACR_PASSWORD}", "-n", ns)
            kubectl("create", "secret", "docker-registry", "acr-sp-secret", f"--docker-server={ACR_URL}",
                    f"--docker-username={SP_APP_ID}", f"--docker-password={SP_PASSWORD}", "-n", ns)
            """, "ex10-kubectl"),
        code("""
            # Both secrets pull; the table shows which identity each one uses.
            pull_pod("acr-admin-app", f"{ACR_URL}/app:v1.0", "acr-secret")
            pull_pod("acr-sp-app", f"{ACR_URL}/app:v1.0", "acr-sp-secret")
            for name in ("acr-admin-app", "acr-sp-app"):
                pods.wait_for_pod(api, name, ns, timeout=90)
            pd.concat([secrets.dockerconfig_table(v1.read_namespaced_secret(s, ns), reveal=reveal).assign(secret=s)
                       for s in ("acr-secret", "acr-sp-secret")]).set_index("secret")[["registry", "username", "password"]]
            """, "ex10-pods"),
        md("""
            Prefer the service principal: the admin user is one shared account per registry with push *and*
            delete rights, while `AcrPull` can only pull. Better still, avoid a stored secret altogether (next
            section).

            ## Self-check
            """),
        code("""
            # Self-check: one working secret per cloud, and the refresher's RBAC.
            def rbac_ok():
                rules = client.RbacAuthorizationV1Api(api).read_namespaced_role("ecr-secret-writer", ns).rules
                verbs = {v for r in rules if "secrets" in (r.resources or []) for v in r.verbs}
                binding = client.RbacAuthorizationV1Api(api).read_namespaced_role_binding("ecr-refresher-secret-writer", ns)
                bound = any(s.kind == "ServiceAccount" and s.name == "ecr-refresher-sa" for s in binding.subjects or [])
                return {"get", "create", "patch"} <= verbs and bound, f"verbs on secrets: {sorted(verbs)}; bound: {bound}"


            part4 = checks.Checks("Self-check: Part 4")
            for pod, what, hint in (("ecr-app", "ECR", "re-run Exercise 8 (a fresh token; tokens expire after 12 h)"),
                                    ("gcr-app", "gcr.io", "re-run Exercise 9: gcr-secret with _json_key"),
                                    ("gar-app", "Artifact Registry", "re-run Exercise 9: gar-secret for us-central1"),
                                    ("acr-sp-app", "ACR (service principal)", "re-run Exercise 10")):
                part4.add(lambda pod=pod: checks.pod_ready(api, pod, ns), f"{what}: {pod} pulled and runs",
                          f"{what}: {pod} is not running", hint)
            part4.add(rbac_ok, "the refresher may write secrets", "the refresher's Role or RoleBinding is wrong",
                      "apply the corrected ecr-credential-refresher.yaml")
            _ = part4.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **Google Container Registry is gone.** Container Registry was deprecated in 2023 and shut down on
              **18 March 2025** (writes stopped; `gcr.io` names are now served by *Artifact Registry* `gcr.io`
              repositories). New work goes to `LOCATION-docker.pkg.dev`. Source: cloud.google.com,
              *Artifact Registry → Transition from Container Registry*.
            - **In-tree cloud credential providers are gone; kubelet credential provider plugins replace them.** The
              kubelet's built-in ECR provider was removed in **Kubernetes 1.27** (kubernetes/kubernetes#116329: "use
              the external kubelet credential provider binary named `ecr-credential-provider`"); the GCP and Azure
              ones were switched off by default in 1.29 (`DisableKubeletCloudCredentialProviders`, KEP-2395) and
              removed with the rest of the in-tree cloud code by 1.31. The plugin mechanism (KEP-2133, stable since
              **1.26**) runs an exec plugin (`ecr-credential-provider`, `auth-provider-gcp`,
              `acr-credential-provider`) configured with a `CredentialProviderConfig` (`matchImages`,
              `defaultCacheDuration`); the node fetches short-lived credentials itself, so the 12-hour ECR problem
              and the refresher CronJob disappear. Managed clusters do this for you: EKS nodes pull from ECR with
              their IAM role, GKE nodes with their service account, AKS nodes with the kubelet identity
              (`az aks update --attach-acr`).
            - **Per-workload identity for pulls.** Since Kubernetes 1.33 (alpha; beta in 1.34, KEP-4412) a credential
              provider can receive the pod's ServiceAccount token and exchange it for registry credentials, giving
              per-workload registry access without any pull secret.
            - **Long-lived keys are discouraged.** Google recommends Workload Identity over service-account keys
              (and new organizations block key creation by default); Azure recommends managed identities or
              service principals over the admin user. Keep `_json_key` and admin-user secrets for registries you
              cannot reach any other way.

            Next: **05-content-trust** (Exercise 11) and **06-admission-control** (Exercises 12–14), then
            **07-troubleshooting** (Exercises 15–16).
            """),
    ]
