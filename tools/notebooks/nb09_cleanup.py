"""09-cleanup: remove what the lab created, safely, and see what a namespace deletion leaves behind."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "09-cleanup.ipynb"
TITLE = "Lab 03 · 09 Cleanup"


def cells():
    return [
        header("09 · Cleanup", "Cleanup", [
            "delete the lab's namespaces and everything in them",
            "set kubectl's default namespace back",
            "remove the lab's files without the seed's dangerous `rm -f *.yaml *.json *.sh`",
            "know what deleting a namespace does **not** remove",
        ], 5, "seed: *Cleanup*"),
        md("""
            ## What the lab created

            Namespaces `registry-lab` (secrets, ServiceAccounts, Deployments, pods, RBAC objects) and, for the
            drills, `registry-lab-other` and `registry-lab-empty`; kubectl's default namespace (00-setup); files in
            the work directory; images on the node. Notebook 06 may also have created cluster-wide admission
            policies.

            Re-running this notebook is harmless: every step skips what is already gone.
            """),
        parameters(
            ("stop_sandbox", "False", "also stop the sandbox (labctl sandbox down) at the end"),
        ),
        *setup()[:1],
        code("""
            # What the notebooks created: the lab namespace and the drills' namespaces.
            import shutil

            lab_namespaces = [ns, f"{ns}-other", f"{ns}-empty"]
            """, "lab-namespaces"),
        md("""
            ## Images stay on the node

            Before deleting anything, look at the node's image cache: notebook 02 showed that a cached private image
            runs without credentials.
            """),
        predict("""
            After `kubectl delete namespace registry-lab`, are the private images the lab pulled still on the
            node?""", ["no: the kubelet removes a namespace's images with it", "yes"], "predict-images"),
        code("""
            # The node's images before the deletion (the Node object lists them: kubectl get node -o json).
            def node_images():
                return sorted(next((name for name in image.names if "@" not in name), image.names[0])
                              for node in v1.list_node().items for image in node.status.images or [])


            before = node_images()
            print(f"{len(before)} images on the node")
            """, "images-before"),
        md("""
            ## The seed's cleanup

            Deleting a namespace deletes everything in it; `kubectl delete namespace` waits until the namespace is
            gone (`--ignore-not-found` makes the cell safe to re-run). We also delete the drills' namespaces.
            """),
        code("""
            # kubectl delete namespace registry-lab (and the drills' namespaces).
            for name in lab_namespaces:
                kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=120s")
            """, "delete-namespaces"),
        code("""
            # The seed's optional step deletes Kyverno; here: the lab's cluster-wide policies, if notebook 06 made any.
            groups = kubectl("api-resources", "--api-group=kyverno.io", "-o", "name", show=False).stdout.split()
            if "clusterpolicies.kyverno.io" in groups:
                kubectl("delete", "clusterpolicy", "restrict-registries", "verify-image-signatures", "--ignore-not-found")
            else:
                print("no Kyverno policy types on this cluster: nothing to delete")
            """, "delete-policies"),
        code("""
            # kubectl config set-context --current --namespace=default
            kubectl("config", "set-context", "--current", "--namespace=default")
            """, "reset-context"),
        code("""
            # Images after the deletion.
            after = node_images()
            pd.DataFrame([{"image": image, "still on the node": image in after} for image in before],
                         columns=["image", "still on the node"]).set_index("image")
            """, "images-after"),
        explain("Why", """
            Images belong to the node, not to a namespace. The kubelet's image garbage collection removes unused
            images only when the disk fills up (`imageGCHighThresholdPercent`, default 85 %) or, if the node sets
            `imageMaximumGCAge` (off by default), when they have been unused that long. Until then, any pod with
            `imagePullPolicy: IfNotPresent` scheduled on that node can run them without credentials. On shared
            clusters, combine `AlwaysPullImages` or the kubelet's credential verification for cached images
            (KEP-2535) with cleanup.
            """),
        md("""
            ## Remove the lab's files

            The seed ends with `rm -f *.yaml *.json *.sh`: in whatever directory you happen to be in, that deletes
            **every** YAML, JSON and shell file, not just the lab's (your own manifests, a `package.json`, a
            `kubeconfig.yaml` ...). We delete only the files the lab wrote, by name, in the work directory.
            """),
        code("""
            # Remove exactly the files and folders the notebooks wrote in the work directory.
            LAB_FILES = ["registry-secret.yaml", "long-secret.yaml", "private-image-deployment.yaml",
                         "serviceaccount-with-secret.yaml", "pod-with-sa.yaml", "docker-config.json",
                         "multi-registry-deployment.yaml", "ecr-credential-refresher.yaml", "keyfile.json",
                         "broken-pod.yaml", "issue-config.json", "test-registry-security.sh",
                         "test-registry-security-empty.sh", "verify-registry-security.sh"]
            LAB_DIRS = ["docker-home", "docker-home-desktop", "job"]
            removed = []
            for name in LAB_FILES:
                path = work / name
                if path.is_file():
                    path.unlink()
                    removed.append(name)
            for name in LAB_DIRS:
                if (work / name).is_dir():
                    shutil.rmtree(work / name)
                    removed.append(name + "/")
            if work.is_dir() and not any(work.iterdir()):
                work.rmdir()
                removed.append(f"{work} (now empty)")
            print("removed:", ", ".join(removed) or "nothing (already clean)")
            """, "remove-files"),
        code("""
            # Optionally stop the sandbox (its state is kept; `labctl sandbox reset` wipes it).
            if stop_sandbox and sandbox:
                sandbox.down()
                print("sandbox stopped: labctl sandbox up starts it again")
            else:
                print("the sandbox keeps running (stop_sandbox = False)")
            """, "stop-sandbox"),
        md("## Self-check"),
        code("""
            # Self-check: the namespaces are gone, kubectl's default is back, no lab file is left.
            from kubernetes import config as kubeconfig


            def gone(name):
                if stop_sandbox and sandbox:
                    return True, "sandbox stopped"
                try:
                    phase = v1.read_namespace(name).status.phase
                except client.ApiException as e:
                    if e.status == 404:
                        return True, ""
                    raise
                return False, f"namespace {name} is {phase}"


            def default_namespace():
                _, current = kubeconfig.list_kube_config_contexts(os.environ.get("KUBECONFIG"))
                name = current["context"].get("namespace", "default")
                return name == "default", f"default namespace: {name}"


            cleanup = checks.Checks("Self-check: cleanup")
            for name in lab_namespaces:
                cleanup.add(lambda name=name: gone(name), f"namespace {name} deleted", f"namespace {name} still exists",
                            f"kubectl delete namespace {name}")
            cleanup.add(default_namespace, "kubectl's default namespace is default", "kubectl still defaults to the lab",
                        "kubectl config set-context --current --namespace=default")
            cleanup.add(lambda: (not any((work / f).exists() for f in LAB_FILES), str(work)), "no lab file left",
                        "lab files remain", "re-run the previous cell")
            _ = cleanup.run()
            """, "self-check"),
        md("""
            ## What changed since the seed was written

            - **Kyverno's install manifest** is still published per release, but Kyverno is usually installed with
              its Helm chart now, and the seed's version (1.11) is long out of support; uninstall the way you
              installed.
            - **Image garbage collection by age** (`imageMaximumGCAge`, KEP-4210: beta in Kubernetes 1.30, stable in
              1.35) lets nodes drop images unused for a given time, in addition to the disk-usage thresholds.

            That is the end of Lab 03. Well done.
            """),
    ]
