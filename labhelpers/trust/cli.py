"""``labctl sign``: cosign's ``generate-key-pair``, ``sign --key`` and ``verify --key`` against the sandbox.

Output follows cosign v2 line for line (prompts and progress on stderr, the verified payloads on stdout, errors
as ``Error: ...`` plus the ``main.go:74: error during command execution: ...`` log line, cosign's exit codes), so
that a transcript made here reads like one made with the real tool. Registries are the running sandbox's
(``labctl sandbox info``); ``--registry-url HOST=URL`` points at others (tests, a fleet without a sandbox).

Differences, all printed as ``note (lab sandbox): ...``: there is no transparency log, so signing behaves as
``--tlog-upload=false`` and verification as ``--insecure-ignore-tlog=true``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labhelpers.images.keyring import pull_credentials
from labhelpers.sandbox.registries import Credentials, RegistryClientError, SyncRegistryClient
from labhelpers.sandbox.registries.hosts import normalize_host

from ._registry import ggcr_error
from .cosign import generate_key_pair, load_private_key, sign_image
from .keys import CosignKeyError, load_public_keys
from .names import parse_ggcr
from .verify import verify_image

__all__ = ["add_cli", "main"]

MAIN_GO = "main.go:74"
TAG_WARNING = (
    "WARNING: Image reference {ref} uses a tag, not a digest, to identify the image to sign.\n"
    "    This can lead you to sign a different image than the intended one. Please use a\n"
    "    digest (example.com/ubuntu@sha256:abc123...) rather than tag\n"
    "    (example.com/ubuntu:latest) for the input to cosign. The ability to refer to\n"
    "    images by tag will be removed in a future release.\n"
)
IGNORE_TLOG_WARNING = ("WARNING: Skipping tlog verification is an insecure practice that lacks of transparency "
                       "and auditability verification for the signature.")
NO_REKOR_SIGN = "note (lab sandbox): there is no transparency log here; signing as with --tlog-upload=false"
NO_REKOR_VERIFY = ("note (lab sandbox): there is no transparency log here; verifying as with "
                   "--insecure-ignore-tlog=true")


class CommandError(Exception):
    """A failure cosign reports as ``Error: <message>`` and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _err(text: str = "") -> None:
    print(text, file=sys.stderr)


# -------------------------------------------------------------------------------------------- passwords


def _read_password(confirm: bool) -> bytes:
    """cosign's ``readPasswordFn``: $COSIGN_PASSWORD, else a terminal prompt, else all of stdin (newline kept)."""
    env = os.environ.get("COSIGN_PASSWORD")
    if env is not None:
        return env.encode()
    if sys.stdin is not None and sys.stdin.isatty():
        pw = getpass.getpass("Enter password for private key: ", stream=sys.stderr)
        if confirm:
            again = getpass.getpass("Enter password for private key again: ", stream=sys.stderr)
            if again != pw:
                raise CommandError("passwords do not match")
        return pw.encode()
    return sys.stdin.buffer.read() if sys.stdin is not None else b""


def _confirm() -> None:
    sys.stderr.write("Are you sure you would like to continue? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if not answer.strip().lower().startswith("y"):
        raise CommandError("user declined the prompt")


# ------------------------------------------------------------------------------------------- registries


def _sandbox_registries(state_dir: str | None) -> dict[str, str]:
    from labhelpers.sandbox import Sandbox

    info = Sandbox(state_dir).info()
    regs = info.get("registries") or []
    out: dict[str, str] = {}
    if isinstance(regs, dict):
        return {normalize_host(k): str(v.get("url") if isinstance(v, dict) else v) for k, v in regs.items()}
    for entry in regs:
        for name in [entry.get("host", ""), *(entry.get("aliases") or [])]:
            if name:
                out[normalize_host(name)] = entry["url"]
    return out


def _registry_urls(args: argparse.Namespace) -> dict[str, str]:
    urls: dict[str, str] = {}
    for item in args.registry_url or []:
        host, sep, url = item.partition("=")
        if not sep:
            raise CommandError(f"--registry-url wants HOST=URL, got {item!r}")
        urls[normalize_host(host)] = url
    if not urls:
        urls = _sandbox_registries(args.dir)
    if "docker.io" in urls:
        urls.setdefault("index.docker.io", urls["docker.io"])
    if not urls:
        raise CommandError("no registries: start the sandbox (labctl sandbox up) or pass --registry-url HOST=URL")
    return urls


def _docker_config_credentials(image: str) -> Credentials | None:
    """What ``docker login`` left in $DOCKER_CONFIG/config.json (~/.docker by default), kubelet-style match."""
    path = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        found = pull_credentials(image, [json.loads(path.read_text())])
    except (OSError, ValueError):
        return None
    return Credentials(found[0][1], found[0][2]) if found else None


class NoSuchHostError(RegistryClientError):
    """A registry name the sandbox does not serve (Go's DNS failure text)."""


def _client_factory(args: argparse.Namespace, image: str) -> Callable[[str], SyncRegistryClient]:
    urls = _registry_urls(args)
    if args.registry_username is not None:
        creds: Credentials | None = Credentials(args.registry_username, args.registry_password or "")
    else:
        creds = _docker_config_credentials(image)

    def factory(host: str) -> SyncRegistryClient:
        name = normalize_host(host)
        if name not in urls:
            raise NoSuchHostError(f'Get "https://{name}/v2/": dial tcp: lookup {name}: no such host')
        return SyncRegistryClient(urls[name], creds)

    return factory


# --------------------------------------------------------------------------------------------- commands


def cmd_generate_key_pair(args: argparse.Namespace) -> int:
    password = _read_password(confirm=True)
    private_pem, public_pem = generate_key_pair(password)
    key_path, pub_path = Path(args.output_key_prefix + ".key"), Path(args.output_key_prefix + ".pub")
    if key_path.exists():
        _err(f"WARNING: File {key_path} already exists. Overwrite?")
        _confirm()
    key_path.write_bytes(private_pem)
    key_path.chmod(0o600)
    _err(f"Private key written to {key_path}")
    pub_path.write_bytes(public_pem)
    _err(f"Public key written to {pub_path}")
    return 0


def _annotations(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    out = {}
    for kv in values:
        k, sep, v = kv.partition("=")
        if not sep:
            raise CommandError(f"invalid input format: {kv}")
        out[k] = v
    return out


def cmd_sign(args: argparse.Namespace) -> int:
    image = args.image
    try:
        key_pem = Path(args.key).read_bytes()
    except OSError as e:
        raise CommandError(f"signing [{image}]: getting signer: reading key: open {args.key}: "
                           f"{(e.strerror or str(e)).lower()}") from None
    try:
        private_key = load_private_key(key_pem, _read_password(confirm=False))
    except CosignKeyError as e:
        raise CommandError(f"signing [{image}]: getting signer: reading key: {e}") from None
    annotations = _annotations(args.annotations)
    try:
        ref = parse_ggcr(image)
    except ValueError as e:
        raise CommandError(f"signing [{image}]: parsing reference: {e}") from None
    if not ref.digest:
        _err(TAG_WARNING.format(ref=image))
    if args.tlog_upload:
        _err(NO_REKOR_SIGN)
    factory = _client_factory(args, image)
    try:
        result = sign_image(factory, image, private_key, annotations=annotations)
    except NoSuchHostError as e:
        raise CommandError(f"signing [{image}]: accessing entity: {e}") from None
    except RegistryClientError as e:
        url = getattr(e, "url", "")
        step = "accessing entity" if "/manifests/" in url and not url.endswith(".sig") else "signing digest"
        raise CommandError(f"signing [{image}]: {step}: {ggcr_error(e, ref.registry)}") from None
    _err(f"Pushing signature to: {result.pushed_to}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        keys = load_public_keys(Path(args.key).read_bytes())
    except OSError as e:
        raise CommandError(f"loading public key: open {args.key}: {(e.strerror or str(e)).lower()}") from None
    except CosignKeyError as e:
        raise CommandError(f"loading public key: {e}") from None
    if args.insecure_ignore_tlog:
        _err(IGNORE_TLOG_WARNING)
    else:
        _err(NO_REKOR_VERIFY)
    annotations = _annotations(args.annotations)
    for image in args.images:
        try:
            ref = parse_ggcr(image)
        except ValueError as e:
            raise CommandError(f"parsing reference: {e}") from None
        try:
            result = verify_image(_client_factory(args, image), image, keys, annotations=annotations)
        except NoSuchHostError as e:
            raise CommandError(str(e)) from None
        if result.error is not None:
            raise CommandError(result.error, result.exit_code)
        _err(f"\nVerification for {ref.name} --")
        _err("The following checks were performed on each of these signatures:")
        if annotations is not None:
            _err("  - The specified annotations were verified.")
        _err("  - The cosign claims were validated")
        _err("  - The signatures were verified against the specified public key")
        if args.output == "text":
            for v in result.verified:
                print(v.payload.decode())
        else:
            print(f"\n{result.payloads_json()}")
    return 0


# ------------------------------------------------------------------------------------------------ wiring


def _run(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except CommandError as e:
            _err(f"Error: {e}")
            _err(f"{MAIN_GO}: error during command execution: {e}")
            return e.exit_code
    return wrapped


def _registry_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry-username", default=None, help="registry basic-auth username")
    p.add_argument("--registry-password", default=None, help="registry basic-auth password")
    p.add_argument("--registry-url", action="append", metavar="HOST=URL",
                   help="reach HOST at URL instead of the sandbox's registry (repeatable)")
    p.add_argument("--dir", default=None, help="sandbox state directory")
    p.add_argument("-a", "--annotations", action="append", metavar="KEY=VALUE", help="extra key=value pairs")


def _bool(value: str) -> bool:
    return value.lower() in ("1", "t", "true", "yes", "y")


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sign`` (generate-key-pair | sign | verify) to ``labctl``'s subparsers."""
    top = subparsers.add_parser("sign", help="cosign-compatible image signing against the sandbox registries")
    sub = top.add_subparsers(dest="sign_action", required=True)

    g = sub.add_parser("generate-key-pair", help="write cosign.key and cosign.pub (password: $COSIGN_PASSWORD)")
    g.add_argument("--output-key-prefix", default="cosign", help="name prefix of the key files")
    g.set_defaults(func=_run(cmd_generate_key_pair))

    s = sub.add_parser("sign", help="sign an image: push sha256-<digest>.sig to its repository")
    s.add_argument("--key", required=True, help="path to the private key file (cosign.key)")
    s.add_argument("--tlog-upload", type=_bool, default=True, nargs="?", const=True,
                   help="upload to the transparency log (there is none in the sandbox)")
    s.add_argument("-y", "--yes", action="store_true", help="skip confirmation prompts")
    _registry_options(s)
    s.add_argument("image")
    s.set_defaults(func=_run(cmd_sign))

    v = sub.add_parser("verify", help="verify an image's signatures against a public key")
    v.add_argument("--key", required=True, help="path to the public key file (cosign.pub)")
    v.add_argument("--insecure-ignore-tlog", type=_bool, default=False, nargs="?", const=True,
                   help="skip transparency log verification")
    v.add_argument("-o", "--output", default="json", help="output format: json (default) or text")
    _registry_options(v)
    v.add_argument("images", nargs="+")
    v.set_defaults(func=_run(cmd_verify))
    return top


def main(argv: list[str] | None = None) -> int:
    """``python -m labhelpers.trust.cli ...`` (the same as ``labctl sign ...``)."""
    parser = argparse.ArgumentParser(prog="labctl")
    add_cli(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
