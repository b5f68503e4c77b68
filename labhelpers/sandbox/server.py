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
    clock = SandboxClock(speed=clock_speed)
    store = Store(state / "state.db")
    registry = Registry(store)  # object timestamps stay on real time; only drills run fast
    admission.install(registry)
    app = build_app(registry, token)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True, ssl_context=pki.server_context(state))
    await site.start()

    from .controllers import ControllerManager

    controllers = ControllerManager(registry, clock=clock.now, root_ca_pem=(state / pki.CA_CERT).read_text())
    tasks = [asyncio.create_task(controllers.run(), name="controllers")]

    info = {"pid": os.getpid(), "port": port, "api_url": f"https://127.0.0.1:{port}",
            "clock_speed": clock_speed, "started": time.time()}
    tmp = state / "server.json.tmp"
    tmp.write_text(json.dumps(info))
    tmp.replace(state / "server.json")
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
    await runner.cleanup()
    store.close()
    with contextlib.suppress(FileNotFoundError):
        (state / "server.json").unlink()


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
