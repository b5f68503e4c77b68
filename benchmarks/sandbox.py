"""Sandbox performance figures: cold start, and request latency for get/list/create at 1 and 20 clients.

Targets (2-core machine): start < 2 s, get p50 < 5 ms. Prints figures; asserts nothing.
Run: .venv/bin/python benchmarks/sandbox.py
"""

from __future__ import annotations

import http.client
import json
import statistics
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from labhelpers.sandbox import Sandbox, pki

REQUESTS = 400


def _client(api_url: str, token: str, ctx):
    """One keep-alive HTTPS connection per thread, as client-go and the Python client keep theirs."""
    local = threading.local()
    host, port = urllib.parse.urlsplit(api_url).hostname, urllib.parse.urlsplit(api_url).port

    def call(method: str, path: str, body: dict | None = None) -> float:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPSConnection(host, port, context=ctx)
        data = json.dumps(body).encode() if body is not None else None
        t0 = time.perf_counter()
        conn.request(method, path, body=data,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        took = time.perf_counter() - t0
        if r.status >= 400:
            raise RuntimeError(f"{method} {path}: {r.status}")
        return took

    return call


def _percentiles(xs: list[float]) -> str:
    xs = sorted(xs)
    p50 = statistics.median(xs) * 1000
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000
    return f"p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (n={len(xs)})"


def run_load(call, op: str, clients: int, ns: str) -> list[float]:
    per = REQUESTS // clients
    out: list[float] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        local = []
        for i in range(per):
            if op == "get":
                local.append(call("GET", f"/api/v1/namespaces/{ns}/configmaps/cm-0"))
            elif op == "list":
                local.append(call("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=500"))
            else:
                body = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"bench-{clients}-{w}-{i}"}, "data": {"k": "v"}}
                local.append(call("POST", f"/api/v1/namespaces/{ns}/configmaps", body))
        with lock:
            out.extend(local)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        sb = Sandbox(Path(d))
        t0 = time.perf_counter()
        info = sb.up()
        cold = time.perf_counter() - t0
        sb.down()
        t0 = time.perf_counter()
        info = sb.up()
        warm = time.perf_counter() - t0
        print(f"cold start (new state dir):     {cold:.2f} s")
        print(f"restart (existing state dir):   {warm:.2f} s")
        token = (sb.dir / "token").read_text().strip()
        call = _client(info["api_url"], token, pki.client_context(sb.dir))
        ns = "bench"
        call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for i in range(50):
            call("POST", f"/api/v1/namespaces/{ns}/configmaps",
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}, "data": {"k": "v"}})
        for op in ("get", "list", "create"):
            for clients in (1, 20):
                lat = run_load(call, op, clients, ns)
                print(f"{op:6s} {clients:2d} client(s): {_percentiles(lat)}")
        sb.down()


if __name__ == "__main__":
    main()
