"""05-content-trust: Exercise 11, Docker Content Trust (Notary v1) run for real, why it was retired, and cosign."""

from __future__ import annotations

from .common import code, explain, header, md, parameters, predict, setup

FILENAME = "05-content-trust.ipynb"
TITLE = "Lab 03 · 05 Docker Content Trust (Exercise 11)"

RETIREMENT = """
    > ⚠️ **Docker Content Trust is retired.**
    >
    > - *Retiring Docker Content Trust* (docker.com blog, July 2025): fewer than 0.05 % of Docker Hub pulls used
    >   DCT and Notary v1 is unmaintained. The DCT certificates of the Docker Official Images began expiring on
    >   **8 August 2025**, so pulls of official images with `DOCKER_CONTENT_TRUST=1` fail from then on.
    > - Docker's documentation (docs.docker.com/engine/security/trust) now opens with: *"DCT is being retired. The
    >   Notary v1 service at `notary.docker.io` will shut down on **December 8, 2026**."*
    > - Docker's 2026 follow-up, *Docker Content Trust retirement and migration guidance*, retires DCT fully and
    >   points to **Sigstore/cosign** and **Notation** (the Notary Project's v2). Secondary summaries of it list
    >   write brownouts on 14–15 July 2026 and read brownouts on 10 and 12 August 2026.
    > - Azure Container Registry and Harbor had deprecated Notary v1 before that.
    """


def cells():
    return [
        header("05 · Docker Content Trust, and what replaced it", "Part 5", [
            "say what Docker Content Trust signs (the tag → digest mapping), with which keys (TUF's root, targets, "
            "snapshot and timestamp roles), and where that trust data lives (a Notary v1 server)",
            "sign and push a tag with content trust, pull it by its signed digest, and read its trust data as a "
            "table of roles and keys",
            "predict and observe Docker's exact refusals: an unsigned tag, a re-pushed tag, a repository re-signed "
            "with someone else's key",
            "explain why DCT was retired, and verify the same kind of guarantee with cosign, its successor",
        ], 30, "seed: Part 5, Exercise 11"),
        md("""
            ## Content trust in a few paragraphs

            A tag such as `trusted-app:v1.0` is a mutable pointer: anyone who may push to the repository can point it
            at other content. **Docker Content Trust** (DCT) lets the publisher *sign the mapping tag → manifest
            digest*, and makes `docker pull` refuse tags that are not signed.

            DCT stores its signatures on a **Notary v1** server (Docker Hub's is `notary.docker.io`), in the format
            of **TUF**, *The Update Framework*. Each repository (a *GUN*, "globally unique name", such as
            `docker.io/youruser/trusted-app`) has four roles; each role is one signed JSON file and has its own key:

            | role | its file says | private key held by |
            |---|---|---|
            | `root` | which keys may sign for every role | the publisher, offline (`~/.docker/trust/private`) |
            | `targets` (Docker: the *repository key*) | tag → digest and size | the publisher |
            | `snapshot` | the current version of every other file (no mixing old and new files) | the Notary server, with Docker |
            | `timestamp` | "this snapshot is the latest": re-signed often, expires after 14 days | the Notary server |

            With `DOCKER_CONTENT_TRUST=1`, `docker push` signs the pushed digest into `targets` (creating the keys on
            the first push: the passphrase prompts the seed shows), and `docker pull IMAGE:TAG` first asks Notary
            which digest the tag is signed for, then pulls **by that digest**. The first time a client sees a
            repository it pins its root key: *trust on first use*.

            Two limits matter for this course:

            - **Only the Docker client checks DCT.** The kubelet and containerd ignore `DOCKER_CONTENT_TRUST`: a
              Kubernetes cluster never enforced it. Clusters enforce signatures at admission (notebook 06).
            - **DCT is retired:**
            """),
        md(RETIREMENT, "retirement"),
        md("""
            So why run it? Because its successors answer the questions it raises (who holds the keys, what happens when
            a tag moves, how a new client knows which key to trust), and because you will meet DCT in old pipelines.
            The sandbox runs Debian's `notary-server` and `notary-signer`, Notary v1, the server software behind
            `notary.docker.io`; the lab's content-trust client does what the docker CLI does on top of the real
            `notary` client, with Docker's prompts and messages.
            """),
        parameters(),
        *setup(),
        md("""
            ## The lab's stand-ins for `docker`

            There is no Docker daemon here. Each of the seed's commands maps onto a lab equivalent that talks to the same
            kind of server Docker would:

            | the seed | here |
            |---|---|
            | `export DOCKER_CONTENT_TRUST=1` | `dct = DctClient(...)`: every `dct.` call behaves as docker with the variable set |
            | `docker build -t docker.io/youruser/trusted-app:v1.0 .` | `oci.build_image(...)`: the same one-layer image the sandbox ships under that name |
            | `docker push` | `registry.push_image(...)` to the lab's Docker Hub, then `dct.push_signed(...)` |
            | `docker pull` | `dct.resolve(...)` (the trust check), then `registry.pull(...)` by digest |
            | `docker trust inspect` | `dct.inspect_json(...)`, `dct.inspect_pretty(...)`, `dct.inspect_table(...)` |

            The next cell points everything at the sandbox and "logs in" to Docker Hub the way `docker login` does: the
            credentials go to a `config.json` in a Docker config directory of this notebook's own (never your real
            `~/.docker`). The key passphrases are demo values, or come from the environment
            (`LAB_DCT_ROOT_PASSPHRASE`, `LAB_DCT_REPOSITORY_PASSPHRASE`, and `COSIGN_PASSWORD` as cosign reads it):
            secrets belong in the environment, not in a notebook's parameters (papermill records those in the saved
            notebook). They are never printed.
            """),
        code(r'''
            # Content-trust setup: the sandbox's Notary server, this notebook's DOCKER_CONFIG, docker login (safe to re-run).
            import base64
            import json
            import shutil
            import ssl
            import sys
            import urllib.error
            import urllib.request

            from labhelpers._display import LabError
            from labhelpers.sandbox.registries import Credentials, SyncRegistryClient, oci
            from labhelpers.trust.dct import DctClient, DctError

            if sandbox is None:
                raise LabError("Exercise 11 needs the lab sandbox: its Notary server, registries and demo accounts",
                               'set backend = "sandbox" (on your own machine: docker with DOCKER_CONTENT_TRUST=1)')
            os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]  # labctl
            info = sandbox.info()
            notary = info["notary"]
            hub = next(r for r in info["registries"] if r["host"] == "docker.io")
            HUB_USER = "your-username"
            hub_password = next(u["password"] for u in hub["users"] if u["username"] == HUB_USER)

            # DOCKER_CONFIG: where docker keeps config.json (logins) and trust/ (keys and trust data).
            docker_config = work / "docker-home-05" / ".docker"
            docker_config.mkdir(parents=True, exist_ok=True)
            os.environ["DOCKER_CONFIG"] = str(docker_config)
            login = {"auths": {"https://index.docker.io/v1/": {
                "auth": base64.b64encode(f"{HUB_USER}:{hub_password}".encode()).decode()}}}
            (docker_config / "config.json").write_text(json.dumps(login, indent="\t"))
            (docker_config / "config.json").chmod(0o600)

            registry = SyncRegistryClient(hub["url"], Credentials(HUB_USER, hub_password))  # docker's registry side
            dct = DctClient(notary["url"], trust_dir=docker_config / "trust", ca_file=notary["ca"])  # DOCKER_CONTENT_TRUST=1
            # What you would type at Docker's passphrase prompts, and your own cosign key's password (never printed).
            dct_passphrases = {"root": os.environ.get("LAB_DCT_ROOT_PASSPHRASE", "lab-root-passphrase-05"),
                               "repository": os.environ.get("LAB_DCT_REPOSITORY_PASSPHRASE", "lab-repository-passphrase-05")}
            os.environ.setdefault("COSIGN_PASSWORD", "lab-my-cosign-password-05")


            def reconcile_trust_data(gun):
                """Lab housekeeping: the lab's Notary server keeps trust data in memory (a sandbox restart wipes it) and
                notebook 09 deletes trust/. Forget a cache the server no longer backs; forget server data no key here
                can sign again (on Docker Hub that would take your account's credentials)."""
                url = f"{notary['url']}/v2/{gun}/_trust/tuf/root.json"
                try:
                    urllib.request.urlopen(url, context=ssl.create_default_context(cafile=notary["ca"]), timeout=10)
                except urllib.error.HTTPError as e:
                    if e.code != 404:
                        raise
                    shutil.rmtree(docker_config / "trust" / "tuf" / gun, ignore_errors=True)
                    return
                if not dct.keys.find("targets", gun):
                    dct.cli.run("delete", gun, "--remote")


            pd.DataFrame([
                {"what": "Notary server (plays notary.docker.io)", "where": notary["url"]},
                {"what": "its TLS CA (docker: ~/.docker/tls/<host>/ca.crt)", "where": notary["ca"]},
                {"what": "Docker Hub (docker.io)", "where": hub["url"]},
                {"what": "DOCKER_CONFIG: config.json and trust/", "where": str(docker_config)},
            ]).set_index("what")
            ''', "dct-setup"),
        md("""
            ## Exercise 11: sign and push with content trust

            The seed builds `docker.io/youruser/trusted-app:v1.0`, sets `DOCKER_CONTENT_TRUST=1` and pushes. The push
            has two halves: the registry stores the image and answers with its manifest digest and size, then docker
            signs exactly that digest and publishes the trust data to Notary. (`reconcile_trust_data` is lab
            housekeeping: the lab's Notary server forgets everything when the sandbox restarts, which
            `notary.docker.io` never did.)
            """),
        code(r'''
            # Exercise 11: docker build -t docker.io/youruser/trusted-app:v1.0 . && docker push (DOCKER_CONTENT_TRUST=1).
            TRUSTED = "docker.io/youruser/trusted-app:v1.0"
            image = oci.build_image(TRUSTED)  # docker build
            digest = registry.push_image("youruser/trusted-app", "v1.0", image)  # docker push, registry half
            print(f"The push refers to repository [{TRUSTED.rsplit(':', 1)[0]}]")
            print(f"v1.0: digest: {digest} size: {len(image.manifest)}")
            reconcile_trust_data("docker.io/youruser/trusted-app")  # lab housekeeping, see the setup cell
            signed = dct.push_signed(TRUSTED, digest, len(image.manifest), dct_passphrases)  # content-trust half
            print(signed.transcript, end="")
            ''', "ex11-push"),
        md("""
            On the first run you see the seed's prompts: a new **root** key (with Docker's long warning) and a new
            **repository** key, each asked twice. Run the cell again: the keys now exist in `trust/private`, so docker
            only asks for the repository key's passphrase to sign. There is no prompt for a snapshot key: Docker lets
            the Notary server hold it. (The passphrases were "typed" from `dct_passphrases`; in CI, docker reads them from
            `DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE` / `DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE` and prompts for nothing.)

            ### Pull with content trust

            `docker pull` asks Notary first. The tag is resolved to its **signed** digest, and the image is pulled by that
            digest; docker then tags it locally.
            """),
        code(r'''
            # docker pull docker.io/youruser/trusted-app:v1.0 with DOCKER_CONTENT_TRUST=1: tag -> signed digest -> pull by digest.
            target = dct.resolve(TRUSTED)
            print(target.pull_line())
            pulled = registry.pull("youruser/trusted-app", target.digest)
            print(f"Digest: {pulled.digest}")
            print(target.tagging_line())
            print(f"({len(pulled.layers)} layer, {pulled.size} bytes; the digest matches the signed one: "
                  f"{pulled.digest == target.digest})")
            ''', "ex11-pull"),
        md("""
            Docker links the Notary client in as a library. The lab runs the `notary` command-line client itself
            (Debian's package) for the trust operations, and you can too: `notary list` shows the signed tags with the
            role that signed them.
            """),
        code(r'''
            # The same trust data with the real Notary client: notary list <GUN>.
            sh(f"notary -s {notary['url']} -d {docker_config / 'trust'} --tlscacert {notary['ca']} "
               "list docker.io/youruser/trusted-app")
            ''', "notary-list"),
        md("""
            ### View the trust data

            The seed's last command, `docker trust inspect`, prints JSON; `--pretty` prints tables.
            """),
        code(r'''
            # docker trust inspect docker.io/youruser/trusted-app:v1.0
            print(dct.inspect_json(TRUSTED), end="")
            ''', "inspect-json"),
        code(r'''
            # docker trust inspect --pretty docker.io/youruser/trusted-app:v1.0
            print(dct.inspect_pretty(TRUSTED), end="")
            ''', "inspect-pretty"),
        md("""
            As tables: the signed tags, the keys `docker trust inspect` reports, and then every TUF role of the
            repository, read from the trust data docker cached under `trust/tuf/` (what `root.json` lists, who holds each
            private key, and when each file expires).
            """),
        code(r'''
            # The trust data as tables: signed tags, the administrative keys, and every TUF role with its key.
            def roles_table(gun):
                """One row per (role, key) from the cached root.json, with who holds the private key."""
                meta = docker_config / "trust" / "tuf" / gun / "metadata"
                root = json.loads((meta / "root.json").read_text())["signed"]
                held_here = {k.role for k in dct.keys if k.role == "root" or k.gun == gun}
                holder = {"root": "you: trust/private (keep it offline)", "targets": "you: trust/private",
                          "snapshot": "the Notary server (notary-signer)", "timestamp": "the Notary server (notary-signer)"}
                docker_name = {"root": "root key", "targets": "repository key", "snapshot": "-", "timestamp": "-"}
                rows = []
                for role in ("root", "targets", "snapshot", "timestamp"):
                    expires = json.loads((meta / f"{role}.json").read_text())["signed"]["expires"]
                    for key_id in root["roles"][role]["keyids"]:
                        rows.append({"role": role, "docker calls it": docker_name[role], "key ID": key_id[:12] + "…",
                                     "key type": root["keys"][key_id]["keytype"],
                                     "threshold": root["roles"][role]["threshold"],
                                     "private key": holder[role] + (" ✅" if role in held_here else ""),
                                     "file expires": expires[:10]})
                return pd.DataFrame(rows).set_index("role")


            display(dct.signed_tags_table(TRUSTED))
            display(dct.inspect_table(TRUSTED))
            roles_table("docker.io/youruser/trusted-app")
            ''', "trust-tables"),
        md("""
            Things to notice:

            - The **root** key ID that `inspect` shows is not the one in the first prompt: the root role lists a
              *certificate* (`ecdsa-x509`) made from your root key, and TUF key IDs are hashes of the public key data.
            - Only the `root` and `targets` private keys are on your side (✅). Whoever holds `targets` can sign any tag;
              whoever holds `root` can replace every other key. Docker's advice, keep the root key offline, is exactly
              that.
            - `timestamp.json` expires within two weeks: the server re-signs it. A client that sees an expired timestamp
              refuses the data (a frozen, stale view of the repository is an attack too).

            ## Drill 1: an unsigned tag
            """),
        predict("""
            Content trust is on. You run the seed's `docker pull docker.io/youruser/unsigned-app:v1.0`. The image exists
            in the registry and is public. What happens?""", [
            "it is pulled: the tag exists",
            "it is pulled, with a warning that it is not signed",
            "docker refuses before downloading anything",
        ], "predict-unsigned"),
        code(r'''
            # Observe: docker pull of an unsigned repository, of an unsigned tag in a signed one, and of a digest.
            unsigned_digest = registry.head_manifest("youruser/unsigned-app", "v1.0").digest
            rows = []
            for ref in ["docker.io/youruser/unsigned-app:v1.0", "docker.io/youruser/trusted-app:v2.0",
                        f"docker.io/youruser/unsigned-app@{unsigned_digest}"]:
                try:
                    t = dct.resolve(ref)
                    result = "✅ pulled" if t.role else "✅ pulled, no trust check"
                    says = t.pull_line() if t.role else f"(pulled by digest {t.digest[:19]}…)"
                except DctError as e:
                    result, says = "❌ refused", str(e)
                rows.append({"docker pull": ref, "result": result, "docker prints": says})
            pd.DataFrame(rows).set_index("docker pull")
            ''', "observe-unsigned"),
        explain("Why", """
            With content trust on, docker asks Notary before it contacts the registry. Notary has no trust data for the
            repository, and docker refuses with:

            `Error: remote trust data does not exist for docker.io/youruser/unsigned-app: notary.docker.io does not have trust data for docker.io/youruser/unsigned-app`

            The seed quotes only the start of that message (*remote trust data does not exist*); the rest names the trust
            server (`notary.docker.io` for Docker Hub images: the lab's server answers in its place) and the GUN. A tag
            missing from a **signed** repository gives `No valid trust data for v2.0`. A pull **by digest** skips content
            trust entirely: a digest is already an exact identity, so there is nothing to look up. That is also a
            loophole: whoever chooses the digest you pull chooses the image.
            """),
        md("""
            ## Drills 2 and 3: a re-pushed tag, and someone else's key

            A small repository of its own, `docker.io/youruser/dct-drill`, and three people, each with their own
            `~/.docker/trust`: the **publisher** (you), a **consumer** who pulls it, and an **attacker** who has the
            registry password (a leaked CI secret, say) but not your signing keys. The cell starts from a clean slate
            so that it can be re-run: it deletes the drill's trust data on the server and in the three directories.
            """),
        code(r'''
            # The drill's repository: the publisher signs v1, the consumer pulls it (and pins its root key).
            DRILL = "docker.io/youruser/dct-drill"
            drill_dir = work / "dct-drill"
            shutil.rmtree(drill_dir, ignore_errors=True)
            person = {who: DctClient(notary["url"], trust_dir=drill_dir / who / "trust", ca_file=notary["ca"])
                      for who in ("publisher", "consumer", "attacker", "newcomer")}
            person["publisher"].cli.run("delete", DRILL, "--remote", check=False)  # trust data from an earlier run
            good = oci.build_image(f"{DRILL}:v1")
            good_digest = registry.push_image("youruser/dct-drill", "v1", good)
            published = person["publisher"].push_signed(f"{DRILL}:v1", good_digest, len(good.manifest), dct_passphrases)
            print(published.transcript.splitlines()[-1])
            print("consumer:", person["consumer"].resolve(f"{DRILL}:v1").pull_line())
            ''', "drill-setup"),
        md("""
            The attacker pushes a different image under the same tag. The registry accepts it: they have its password.
            """),
        code(r'''
            # The attacker re-pushes the tag v1 with other content (registry credentials only).
            evil = oci.build_image(f"{DRILL}:v1", files={"app/hello.txt": b"Hello from the attacker\n"})
            evil_digest = registry.push_image("youruser/dct-drill", "v1", evil)
            print(f"registry: {DRILL}:v1 is now {evil_digest}")
            ''', "drill-repush"),
        predict("""
            The consumer runs `docker pull docker.io/youruser/dct-drill:v1` again, with content trust on. What do they
            get?""", [
            "the attacker's image: the tag points to it now",
            "the publisher's original image",
            "an error: the tag's digest does not match its signature",
        ], "predict-repush"),
        code(r'''
            # Observe: what the registry says, what the trust data says, and what docker pulls; then the attacker signs.
            target = person["consumer"].resolve(f"{DRILL}:v1")
            pulled = registry.pull("youruser/dct-drill", target.digest)
            display(pd.DataFrame([
                {"source": "registry: tag v1 points to", "digest": registry.head_manifest("youruser/dct-drill", "v1").digest},
                {"source": "trust data: v1 is signed for", "digest": target.digest},
                {"source": "docker pull (content trust) gets", "digest": pulled.digest},
            ]).set_index("source"))
            try:
                person["attacker"].push_signed(f"{DRILL}:v1", evil_digest, len(evil.manifest), dct_passphrases)
            except DctError as e:
                print(f"attacker's docker push with content trust:\n{e}")
            ''', "observe-repush"),
        explain("Why", """
            Docker pulls the **signed digest**, not whatever the tag points to, and the registry still has the
            original manifest: the consumer gets the publisher's image and never sees the attacker's. (Had the attacker
            deleted the original, the pull would fail: content trust turns a swap into a denial of service, not into a
            compromise.)

            Signing the new digest needs the repository key, which only the publisher holds: `could not find necessary
            signing keys, at least one of these keys must be available: <the repository key's ID>`. The registry
            password and the signing key are separate secrets, and that separation is the whole point.
            """),
        predict("""
            The attacker cannot sign with your keys, so they **delete** the repository's trust data on the Notary server
            and publish new trust data, signed with keys of their own, for their image. (The lab's Notary server has no
            authentication; Docker Hub's asks for the account's credentials, so this takes a compromised Docker Hub
            account.) What does `docker pull docker.io/youruser/dct-drill:v1` do for the consumer who pulled before,
            and for a newcomer pulling it for the first time?""", [
            "both get the attacker's image",
            "both are refused",
            "the consumer is warned and refused; the newcomer gets the attacker's image",
        ], "predict-other-key"),
        code(r'''
            # Observe: the attacker re-initialises the repository with their own keys; three people pull.
            person["attacker"].cli.run("delete", DRILL, "--remote")
            person["attacker"].push_signed(f"{DRILL}:v1", evil_digest, len(evil.manifest), dct_passphrases)
            rows = []
            for who in ("consumer", "newcomer", "publisher"):
                try:
                    t = person[who].resolve(f"{DRILL}:v1")
                    whose = "the attacker's image" if t.digest == evil_digest else "the original image"
                    rows.append({"who pulls": who, "result": f"pulled {whose}", "docker prints": t.pull_line()})
                except DctError as e:
                    rows.append({"who pulls": who, "result": "❌ refused", "docker prints": str(e)})
            for client_ in person.values():
                client_.close()
            pd.DataFrame(rows).set_index("who pulls")
            ''', "observe-other-key"),
        explain("Why", """
            The consumer (and the publisher) pinned the repository's **root** key the first time they pulled. The new
            `root.json` is signed by a key their pinned root never vouched for, so docker refuses with *Warning:
            potential malicious behavior - trust data mismatch for remote repository docker.io/youruser/dct-drill: could
            not rotate trust to a new trusted root: failed to validate data with current trusted certificates*.

            The newcomer has nothing pinned: *trust on first use* means they trust whatever root they see first, here the
            attacker's. A legitimate change of root key (`notary key rotate ... root`) is signed by the **old** root key,
            which is why losing the root key is as bad as leaking it: you can no longer move your users to a new one.

            cosign's answers: the verifier is told the public key (or, keyless, the signer's identity) up front, in a
            policy (notebook 06) rather than learning it on first use; and public signatures go to a transparency log
            (Rekor) where a rogue signature shows.
            """),
        md("""
            ## What replaced content trust: cosign (and Notation)

            Docker's retirement notes (the box at the top) point to two successors. **cosign** (Sigstore) stores signatures **in the registry, next to the image**: the signature of manifest
            `sha256:<hex>` is an OCI artifact tagged `sha256-<hex>.sig` in the same repository, signed with a key pair
            (`cosign generate-key-pair`) or *keyless* with a short-lived certificate for your identity. There is no
            separate trust server to run. **Notation** (the Notary Project's v2) also stores signatures in the registry,
            as OCI referrers with X.509 certificates; Azure Container Registry and Harbor support it.

            In the sandbox, the lab's key pair (what you made in Lab 02 with `cosign generate-key-pair`) signed
            `signed-app` and `trusted-app` when the sandbox started; `unsigned-app` is not signed. `labctl sign` is
            cosign's `generate-key-pair`, `sign` and `verify`, with cosign's output and exit codes; it reads registry
            logins from `$DOCKER_CONFIG/config.json` as cosign does. Look at the tags of `trusted-app` first:
            """),
        code(r'''
            # trusted-app now carries two kinds of signature: DCT's lives in Notary, cosign's next to the image.
            print("registry tags:", registry.list_tags("youruser/trusted-app"))
            print("signed digest: ", dct.trusted_pull(TRUSTED), "(from Notary)")
            ''', "cosign-tags"),
        code(r'''
            # cosign verify --key cosign.pub: the lab key's public half (the private half stays in the sandbox).
            shutil.copy(info["cosign"]["public_key_path"], work / "cosign.pub")
            sh("labctl sign verify --key cosign.pub -o text docker.io/youruser/trusted-app:v1.0", cwd=work)
            sh("labctl sign verify --key cosign.pub docker.io/youruser/unsigned-app:v1.0", cwd=work)
            ''', "cosign-verify"),
        md("""
            Now sign something yourself: a key pair of your own (its password is `$COSIGN_PASSWORD`, which cosign reads
            instead of prompting; an existing key pair is kept), an image of your own, signed **by digest** (signing a
            tag signs whatever it points to at that moment, and cosign warns about it).
            """),
        code(r'''
            # cosign generate-key-pair (once), push docker.io/youruser/my-app:v1.0, cosign sign --key my-cosign.key <digest>.
            sh("[ -f my-cosign.key ] || labctl sign generate-key-pair --output-key-prefix my-cosign", cwd=work)
            MY_APP = "docker.io/youruser/my-app:v1.0"
            my_digest = registry.push_image("youruser/my-app", "v1.0", oci.build_image(MY_APP))
            sh(f"labctl sign sign --key my-cosign.key -y docker.io/youruser/my-app@{my_digest}", cwd=work)
            ''', "cosign-sign"),
        predict("""
            You verify `signed-app` (signed with the lab key) with **your** public key, `my-cosign.pub`. What does cosign
            say?""", [
            "verified: it is a valid cosign signature",
            "no signatures found",
            "no matching signatures: the signature does not verify with that key",
        ], "predict-cosign-key"),
        code(r'''
            # Observe: cosign verify for three images and two keys, as a table (labhelpers.trust.verify_image).
            from labhelpers.trust import verify_image

            keys = {"lab key (cosign.pub)": (work / "cosign.pub").read_bytes(),
                    "your key (my-cosign.pub)": (work / "my-cosign.pub").read_bytes()}
            rows = []
            for img in ["docker.io/youruser/signed-app:v1.0", "docker.io/youruser/unsigned-app:v1.0", MY_APP]:
                for key_name, pem in keys.items():
                    r = verify_image(registry, img, pem)
                    rows.append({"image": img, "key": key_name, "verified": "✅" if r.ok else "❌",
                                 "cosign says": r.error or f"{r.matching} of {r.signatures_found} signature(s) verified "
                                                           f"for {r.digest[:19]}…"})
            pd.DataFrame(rows).set_index(["image", "key"])
            ''', "observe-cosign-key"),
        explain("Why", """
            `signed-app` has a signature, so this is not *no signatures found* (that is `unsigned-app`). cosign checks
            every signature on the image against the key it was given; none verifies with yours, so it reports `no
            matching signatures: invalid signature when validating ASN.1 encoded signature`. The key is the trust
            decision: unlike DCT, nothing is learned on first use, the verifier must be told which key (or, keyless,
            which identity) to accept.
            """),
        md("## Self-check"),
        code(r'''
            # Self-check: Exercise 11's trust data, Docker's refusal of unsigned tags, and cosign signatures.
            def trust_matches_registry():
                signed_digest = dct.trusted_pull(TRUSTED)
                served = registry.head_manifest("youruser/trusted-app", "v1.0").digest
                return signed_digest == served, f"signed {signed_digest[:19]}…, registry serves {served[:19]}…"


            def unsigned_refused():
                try:
                    dct.trusted_pull("docker.io/youruser/unsigned-app:v1.0")
                except DctError as e:
                    return e.kind == "repository_not_exist", str(e)
                return False, "unsigned-app resolved through content trust: it should have no trust data"


            def keys_present():
                roles = sorted(k.role for k in dct.keys if k.role == "root" or k.gun == "docker.io/youruser/trusted-app")
                return {"root", "targets"} <= set(roles), f"keys in trust/private: {', '.join(roles) or 'none'}"


            def cosign_ok(image, pub):
                r = verify_image(registry, image, (work / pub).read_bytes())
                return r.ok, r.error or f"{r.matching} signature(s) verified with {pub}"


            part5 = checks.Checks("Self-check: Part 5")
            part5.add(trust_matches_registry, "trusted-app:v1.0 is signed for the digest the registry serves",
                      "trusted-app:v1.0 has no trust data, or it is signed for another digest",
                      "re-run Exercise 11's push cell (it pushes the image and signs the digest the registry returns)")
            part5.add(keys_present, "your root and repository keys are in trust/private",
                      "the root or repository key is missing from trust/private",
                      "re-run the setup cells, then Exercise 11's push (it creates the keys when trust/private has none)")
            part5.add(unsigned_refused, "content trust refuses unsigned-app:v1.0",
                      "unsigned-app:v1.0 was not refused with Docker's 'remote trust data does not exist'",
                      "unsigned-app must not be signed with content trust: restart the sandbox to wipe the trust data")
            part5.add(lambda: cosign_ok("docker.io/youruser/trusted-app:v1.0", "cosign.pub"),
                      "cosign verifies trusted-app:v1.0 with the lab key", "cosign does not verify trusted-app:v1.0",
                      "the sandbox signs trusted-app when it starts: labctl sandbox down && labctl sandbox up")
            part5.add(lambda: cosign_ok(MY_APP, "my-cosign.pub"), "my-app:v1.0 is signed with your key",
                      "my-app:v1.0 does not verify with my-cosign.pub",
                      "re-run the cosign sign cell (it keeps my-cosign.key; delete both key files to start over)")
            _ = part5.run()
            ''', "self-check"),
        md("""
            ## What changed since the seed was written

            - **DCT is retired** (see the box above): Official Images' DCT certificates expired from 8 August 2025, and
              `notary.docker.io` shuts down on 8 December 2026. `export DOCKER_CONTENT_TRUST=1` in a pipeline now means
              failed pulls, not safer ones. `docker trust` itself moved out of the core CLI into a plugin (docker/cli,
              June 2025).
            - **Notary v1 → cosign or Notation.** Sign with `cosign sign --key cosign.key IMAGE@DIGEST` (or keyless), verify
              with `cosign verify`, and enforce in the cluster with an admission policy (notebook 06). Notation
              (`notation sign`/`verify`) is the X.509-based alternative.
            - **cosign v3 changed its default storage**: it writes a Sigstore *bundle* as an OCI 1.1 referrer instead of the
              `sha256-<hex>.sig` tag used here (`--new-bundle-format=false` keeps the old layout). Verifiers must know which
              one to look for.
            - **Sign digests, not tags**: cosign warns when given a tag, and says tag support will be removed.

            Next: **06-admission-control** (Exercises 12–14): make the cluster refuse what is not signed.
            """),
    ]
