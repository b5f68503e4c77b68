"""The sandbox process: API server, controllers (and, in later parts, registries and the kubelet).

Run by ``labctl sandbox up`` as ``python -m labhelpers.sandbox.server --dir STATE``; it writes
``server.json`` once it answers, so the parent knows it is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path

from aiohttp import web

from . import pki
from .apiserver import admission
from .apiserver.http import build_app
from .apiserver.objects import Registry
from .apiserver.store import Store
from .clock import SandboxClock

log = logging.getLogger("labhelpers.sandbox")


async def serve(state: Path, port: int, clock_speed: float) -> None:
    token = (state / "token").read_text().strip()
    # The sandbox clock (rate and fast-forward offset, resumed from the state directory) drives what a lesson
    # wants to see happen sooner: token expiry, back-offs, schedules, deadlines. Object and event timestamps stay
    # on the wall clock: kubectl counts ages in `describe` on the user's own clock, and a server clock ahead of
    # it would show every age as <invalid>.
    clock = SandboxClock.load(state, speed=clock_speed)
    store = Store(state / "state.db")
    registry = Registry(store)
    admission.install(registry)
    from .admission import vap

    vap.install(registry)  # ValidatingAdmissionPolicy runs before webhooks (Kyverno), as in kube-apiserver
    app = build_app(registry, token)

    from .admin import KyvernoInstaller, build_admin_app, restore_registries
    from .node import LabNode

    node = LabNode()
    services: dict = {}
    # Kyverno: absent until `labctl install kyverno` (POST /lab/kyverno); remembered across restarts.
    kyverno = KyvernoInstaller(registry, node.fleet, state)
    kyverno.restore()

    def write_services() -> None:
        if node.fleet.started:
            services.update(node.info())  # registries (hosts, demo users, images) and the node
        _write_json(state / "services.json", services)

    app.add_subapp("/lab", build_admin_app(node.fleet, on_change=write_services, kyverno=kyverno, clock=clock))
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True, ssl_context=pki.server_context(state))
    await site.start()

    from .controllers import ControllerManager

    controllers = ControllerManager(registry, clock=clock, root_ca_pem=(state / pki.CA_CERT).read_text())
    tasks = [asyncio.create_task(controllers.run(), name="controllers"),
             asyncio.create_task(clock.persist_forever(), name="clock")]
    cleanups = []
    try:
        await node.start(registry, state / "node", clock)
        restore_registries(node.fleet)
        clock.subscribe(node.fleet.clock_advanced)  # htpasswd files drop expired users at once
        cleanups.append(node.stop)
        ecr_runner, ecr_url = await _start_ecr(node, clock, state)
        cleanups.append(ecr_runner.cleanup)
        services["aws"] = _aws_settings(ecr_url, state)
        from ..trust.cosign import presign

        # The lab's cosign key pair; signed-app and trusted-app are signed with it, unsigned-app is not.
        services["cosign"] = await asyncio.to_thread(presign, node.fleet, state / "lab-keys")
    except Exception as e:  # e.g. no docker-registry binary: the API server still serves the lessons it can
        log.warning("lab node (registries, kubelet) not started: %s", e)
        services["node_error"] = str(e)
    try:
        from ..trust.dct import NotaryService

        notary = await asyncio.to_thread(NotaryService().start, state / "notary")
        cleanups.append(lambda: asyncio.to_thread(notary.stop))
        services["notary"] = notary.info()
    except Exception as e:  # no notary package: only the content-trust lesson is affected
        log.warning("Notary server not started: %s", e)
        services["notary_error"] = str(e)
    write_services()

    info = {"pid": os.getpid(), "port": port, "api_url": f"https://127.0.0.1:{port}",
            "clock_speed": clock_speed, "started": time.time()}
    _write_json(state / "server.json", info)
    log.info("sandbox API server listening on %s", info["api_url"])

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("sandbox shutting down")
    controllers.stop()
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    await kyverno.stop()
    for cleanup in reversed(cleanups):
        with contextlib.suppress(Exception):
            await cleanup()
    await runner.cleanup()
    with contextlib.suppress(OSError):
        clock.save()  # the exact sandbox time, for the next start
    store.close()
    for name in ("server.json", "services.json"):
        with contextlib.suppress(FileNotFoundError):
            (state / name).unlink()




def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


async def _start_ecr(node, clock: SandboxClock, state: Path):
    """The ECR API on its own port: AWS clients sign requests (SigV4) and cannot send our bearer token."""
    from .cloud import serve
    from .cloud.ecr import build_ecr_app

    cfg_path = state / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    app = build_ecr_app(node.fleet, clock)
    try:
        runner, url = await serve(app, port=cfg.get("ecr_port", 0), ssl_context=pki.server_context(state))
    except OSError:  # the remembered port is taken: any free one will do
        runner, url = await serve(build_ecr_app(node.fleet, clock), port=0, ssl_context=pki.server_context(state))
    cfg["ecr_port"] = int(url.rsplit(":", 1)[1].rstrip("/"))
    _write_json(cfg_path, cfg)
    return runner, url


def _aws_settings(ecr_url: str, state: Path) -> dict:
    from .cloud.ecr import LAB_ECR_USER

    ca = str(state / pki.CA_CERT)
    return {"ecr_endpoint_url": ecr_url, "region": "us-east-1", "ca_bundle": ca,
            "access_key_id": LAB_ECR_USER.access_key_id, "secret_access_key": LAB_ECR_USER.secret_access_key,
            "env": {"AWS_ENDPOINT_URL_ECR": ecr_url, "AWS_CA_BUNDLE": ca,
                    "AWS_ACCESS_KEY_ID": LAB_ECR_USER.access_key_id,
                    "AWS_SECRET_ACCESS_KEY": LAB_ECR_USER.secret_access_key, "AWS_DEFAULT_REGION": "us-east-1"}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="labhelpers.sandbox.server")
    p.add_argument("--dir", required=True, type=Path)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clock-speed", type=float, default=1.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(args.dir, args.port, args.clock_speed))


if __name__ == "__main__":
    main()
