"""The REST surface: routing Kubernetes URLs onto the registry, with content negotiation and watch streams."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from . import codec, discovery, openapi, resources
from .errors import ApiError
from .objects import Registry
from .resources import ResourceType

HANDLER_KEY: web.AppKey[ApiHandler] = web.AppKey("handler")
BOOKMARK_INTERVAL = 5.0  # seconds between watch bookmarks when the client allows them
DEFAULT_WATCH_SECONDS = 3600  # a plain `kubectl get -w` stream stays open this long (real apiserver: 30-60 min)


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> web.Response:
    hdrs = dict(headers or {})
    hdrs["Content-Type"] = content_type
    return web.Response(body=_dumps(obj), status=status, headers=hdrs)


def error_response(err: ApiError) -> web.Response:
    return json_response(err.status(), status=err.code, headers=err.headers)


def _with_warnings(resp: web.StreamResponse, warnings: list[str]) -> web.StreamResponse:
    for w in dict.fromkeys(warnings):
        escaped = w.replace("\\", "\\\\").replace('"', '\\"')
        resp.headers.add("Warning", f'299 - "{escaped}"')
    return resp


class ApiHandler:
    def __init__(self, registry: Registry, token: str):
        self.registry = registry
        self.token = token

    # --- middleware ---

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.path not in ("/healthz", "/readyz", "/livez"):
            auth = request.headers.get("Authorization", "")
            if auth != f"Bearer {self.token}":
                return error_response(ApiError.unauthorized())
        try:
            return await handler(request)
        except ApiError as e:
            return error_response(e)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the sandbox keeps serving whatever one request did
            import logging
            import traceback

            logging.getLogger("labhelpers.apiserver").error("internal error: %s", traceback.format_exc())
            return error_response(ApiError.internal(f"{type(e).__name__}: {e}"))

    # --- non-resource endpoints ---

    async def version(self, request: web.Request) -> web.Response:
        return json_response(discovery.VERSION)

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def api_root(self, request: web.Request) -> web.Response:
        v = codec.discovery_v2_requested(request.headers.get("Accept"))
        if v:
            return json_response(discovery.aggregated(True, v),
                                 content_type=discovery.AGGREGATED_CT.format(v=v))
        return json_response(discovery.legacy_api_versions())

    async def apis_root(self, request: web.Request) -> web.Response:
        v = codec.discovery_v2_requested(request.headers.get("Accept"))
        if v:
            return json_response(discovery.aggregated(False, v),
                                 content_type=discovery.AGGREGATED_CT.format(v=v))
        return json_response(discovery.legacy_api_groups())

    async def openapi_v2(self, request: web.Request) -> web.Response:
        """An empty Swagger 2.0 document, as protobuf when asked (kubectl asks for nothing else).

        kubectl validates a kind missing from /openapi/v3 (a ClusterPolicy before Kyverno is installed) against
        v2 and skips the check when v2 does not describe it; a 404 here would fail with "error validating data"
        instead of kubectl's real "resource mapping not found ... ensure CRDs are installed first".
        """
        if "protobuf" in request.headers.get("Accept", ""):
            return web.Response(body=OPENAPI_V2_PB, headers={
                "Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"})
        return json_response(OPENAPI_V2_JSON)

    async def openapi_v3_index(self, request: web.Request) -> web.Response:
        return web.Response(body=_dumps(openapi.index(resources.all_resources())), content_type="application/json")

    async def openapi_v3_doc(self, request: web.Request) -> web.Response:
        gv_path = request.match_info["gv"]
        doc = openapi.document_bytes(gv_path, resources.all_resources())
        if doc is None:
            return error_response(ApiError(404, "NotFound", "the server could not find the requested resource"))
        return web.Response(body=doc, content_type="application/json")

    async def pod_stream(self, request: web.Request) -> web.StreamResponse:
        """``pods/exec`` and ``pods/attach`` (WebSocket; see :mod:`.podstreams`)."""
        from . import podstreams

        info = request.match_info
        if request.method not in ("GET", "POST"):
            raise ApiError.method_not_supported(f"pods/{info['sub']}", request.method.lower())
        return await podstreams.pod_exec_or_attach(self.registry, request, info["ns"], info["name"], info["sub"])

    # --- resources ---

    def resolve(self, request: web.Request) -> Target | None:
        """Map /api/v1/... and /apis/g/v/... onto a resource type, namespace, name and subresource."""
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        if not rest:
            return None
        namespace = None
        # /namespaces/{ns}/{plural}... unless it is a namespace's own subresource (/namespaces/x/status)
        namespace_sub = group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")
        if rest[0] == "namespaces" and len(rest) >= 3 and not namespace_sub:
            namespace, rest = rest[1], rest[2:]
        rt = resources.lookup(group, version, rest[0])
        if rt is None:
            return None
        if namespace is not None and not rt.namespaced:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = "/".join(rest[2:]) if len(rest) > 2 else ""
        if sub and sub not in rt.subresources:
            return None
        return Target(rt, namespace, name, sub)

    async def resource(self, request: web.Request) -> web.StreamResponse:
        t = self.resolve(request)
        if t is None:
            return error_response(ApiError(404, "NotFound", "the server could not find the requested resource"))
        m = request.method
        q = request.query
        if t.name is None:
            if m == "GET":
                if codec.parse_bool(q.get("watch")):
                    return await self.watch(request, t)
                return self.list(request, t)
            if m == "POST":
                return await self.create(request, t)
            if m == "DELETE":
                return await self.delete_collection(request, t)
            raise ApiError.method_not_supported(t.rt.group_resource, m.lower())
        if t.rt.namespaced and t.namespace is None:
            return error_response(ApiError(404, "NotFound", "the server could not find the requested resource"))
        if m == "GET":
            if t.subresource == "log" and t.rt.kind == "Pod":
                from . import podstreams

                return await podstreams.pod_log(self.registry, request, t.namespace or "", t.name or "")
            return self.get(request, t)
        if m == "PUT":
            return await self.replace(request, t)
        if m == "PATCH":
            return await self.patch(request, t)
        if m == "DELETE":
            return await self.delete(request, t)
        if m == "POST" and t.subresource in ("binding", "eviction"):
            return await self.create(request, t)
        raise ApiError.method_not_supported(t.rt.group_resource, m.lower())

    def _render(self, request: web.Request, t: Target, obj: dict | list[dict], status: int = 200,
                list_meta: dict | None = None) -> web.Response:
        if codec.wants_table(request.headers.get("Accept")):
            from . import tables

            objs = obj if isinstance(obj, list) else [obj]
            table = tables.to_table(t.rt, objs, now=datetime.now(UTC),
                                    include_object=request.query.get("includeObject", "Metadata"),
                                    resource_version=(list_meta or {}).get("resourceVersion", ""),
                                    continue_token=(list_meta or {}).get("continue", ""))
            return json_response(table, status=status)
        if isinstance(obj, list):
            body = {"kind": f"{t.rt.kind}List", "apiVersion": t.rt.api_version, "metadata": list_meta or {},
                    "items": obj}
            return json_response(body, status=status)
        return json_response(obj, status=status)

    def get(self, request: web.Request, t: Target) -> web.Response:
        obj = self.registry.get(t.rt, t.namespace or "", t.name or "")
        return self._render(request, t, obj)

    def _selected(self, request: web.Request, t: Target) -> list[dict]:
        from . import selectors

        q = request.query
        objs = self.registry.list(t.rt, t.namespace)
        if q.get("labelSelector"):
            sel = selectors.parse_label_selector(q["labelSelector"])
            objs = [o for o in objs if sel.matches(o.get("metadata", {}).get("labels") or {})]
        if q.get("fieldSelector"):
            fsel = selectors.parse_field_selector(q["fieldSelector"], t.rt)
            objs = [o for o in objs if fsel.matches(o)]
        return objs

    def list(self, request: web.Request, t: Target) -> web.Response:
        q = request.query
        objs = self._selected(request, t)
        rv = str(self.registry.store.rv)
        list_meta: dict[str, Any] = {"resourceVersion": rv}
        cont = q.get("continue")
        if cont:
            try:
                start = json.loads(base64.urlsafe_b64decode(cont.encode()).decode())
                after = tuple(start["k"])
            except Exception:
                raise ApiError.bad_request("continue key is not valid: illegal base64 data") from None
            objs = [o for o in objs if _key(o) > after]
        limit = int(q.get("limit") or 0)
        if limit > 0 and len(objs) > limit:
            remaining = len(objs) - limit
            objs = objs[:limit]
            token = {"v": "meta.k8s.io/v1", "rv": int(rv), "k": list(_key(objs[-1]))}
            list_meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            list_meta["remainingItemCount"] = remaining
        return self._render(request, t, objs, list_meta=list_meta)

    async def _body(self, request: web.Request, t: Target, warnings: list[str]) -> Any:
        """Decode a create/update body and run the decoder's type and strict-field checks on it."""
        raw = await request.read()
        if not raw:
            raise ApiError.bad_request("the body of the request was empty")
        ct = request.headers.get("Content-Type")
        body = codec.decode_body(raw, ct, (t.rt.api_version, t.rt.kind))
        mode = request.query.get("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore"):
            raise ApiError.bad_request(
                f"fieldValidation parameter unsupported: {mode}. Supported values: Ignore, Warn, Strict")
        if t.rt.custom or not isinstance(body, dict):
            return body
        from . import fieldcheck, schemas

        definition = schemas.definition_for_gvk(t.rt.group, t.rt.version, t.rt.kind)
        if definition is None:
            return body
        # Raw JSON keeps duplicate keys visible to the check; other encodings are checked as decoded.
        is_json = codec.media_type(ct) in ("", codec.JSON)
        report = fieldcheck.check(definition, raw if is_json else body)
        if report.decode_error:
            raise ApiError.bad_request(fieldcheck.cannot_handle_message(t.rt.kind, t.rt.version, report.decode_error))
        if report.strict and mode == "Strict":
            raise ApiError.bad_request(fieldcheck.cannot_handle_message(
                t.rt.kind, t.rt.version, fieldcheck.strict_decoding_message(report.strict)))
        if report.strict and mode == "Warn":
            warnings.extend(report.strict)
        return body

    async def create(self, request: web.Request, t: Target) -> web.Response:
        q = request.query
        if t.subresource:
            raise ApiError.method_not_supported(t.rt.group_resource, "create")
        warnings: list[str] = []
        body = await self._body(request, t, warnings)
        dry = q.get("dryRun") == "All"
        if q.get("dryRun") and not dry:
            raise ApiError.bad_request(f"Invalid dry run value: {q.get('dryRun')}")
        obj = self.registry.create(t.rt, t.namespace, body, dry_run=dry, warnings=warnings)
        return _with_warnings(self._render(request, t, obj, status=200 if t.rt.virtual else 201), warnings)

    async def replace(self, request: web.Request, t: Target) -> web.Response:
        warnings: list[str] = []
        body = await self._body(request, t, warnings)
        obj = self.registry.update(t.rt, t.namespace or "", t.name or "", body,
                                   dry_run=request.query.get("dryRun") == "All", subresource=t.subresource,
                                   warnings=warnings)
        return _with_warnings(self._render(request, t, obj), warnings)

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        ct = codec.media_type(request.headers.get("Content-Type"))
        if ct not in (codec.JSON_PATCH, codec.MERGE_PATCH, codec.STRATEGIC_PATCH, codec.APPLY_PATCH):
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types include: "
                           f"{codec.JSON_PATCH}, {codec.MERGE_PATCH}, {codec.APPLY_PATCH}, "
                           f"{codec.STRATEGIC_PATCH}, {codec.APPLY_PATCH_CBOR}")
        raw = await request.read()
        body = codec.decode_body(raw, ct)
        if ct == codec.APPLY_PATCH and not request.query.get("fieldManager"):
            raise ApiError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                           "is required for apply patch")
        warnings: list[str] = []
        mode = request.query.get("fieldValidation", "Warn")

        def check_patched(patched: dict) -> None:
            if mode == "Ignore" or t.rt.custom:
                return
            from . import fieldcheck, schemas

            definition = schemas.definition_for_gvk(t.rt.group, t.rt.version, t.rt.kind)
            errs = fieldcheck.patched_object_errors(definition, patched) if definition else []
            if errs and mode == "Strict":
                quoted = codec.go_value(body)
                raise ApiError(422, "Invalid", f' "" is invalid: patch: Invalid value: "{quoted}": '
                               + fieldcheck.strict_decoding_message(errs))
            warnings.extend(errs)

        obj, created = self.registry.patch(t.rt, t.namespace or "", t.name or "", ct, body, check=check_patched,
                                           dry_run=request.query.get("dryRun") == "All",
                                           subresource=t.subresource,
                                           force=codec.parse_bool(request.query.get("force")), warnings=warnings)
        return _with_warnings(self._render(request, t, obj, status=201 if created else 200), warnings)

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        raw = await request.read()
        opts: dict = {}
        if raw:
            opts = codec.decode_body(raw, request.headers.get("Content-Type")) or {}
        q = request.query
        propagation = opts.get("propagationPolicy") or q.get("propagationPolicy")
        if opts.get("orphanDependents") is True or codec.parse_bool(q.get("orphanDependents")):
            propagation = "Orphan"
        grace = opts.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
        dry = (opts.get("dryRun") or [None])[0] == "All" or q.get("dryRun") == "All"
        warnings: list[str] = []
        obj, gone = self.registry.delete(t.rt, t.namespace or "", t.name or "", propagation=propagation,
                                         dry_run=dry, grace_period=int(grace) if grace is not None else None,
                                         preconditions=opts.get("preconditions"), warnings=warnings)
        if gone and t.rt.kind not in ("Pod", "Namespace") and not t.rt.custom:
            status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": t.name, "group": t.rt.group, "kind": t.rt.plural,
                                  "uid": obj["metadata"]["uid"]}}
            if not t.rt.group:
                del status["details"]["group"]
            return _with_warnings(json_response(status), warnings)
        return _with_warnings(self._render(request, t, obj, status=200 if gone else 202 if
                                           t.rt.kind not in ("Pod", "Namespace") else 200), warnings)

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        objs = self._selected(request, t)
        for o in objs:
            try:
                self.registry.delete(t.rt, o["metadata"].get("namespace", ""), o["metadata"]["name"])
            except ApiError as e:
                if e.code != 404:
                    raise
        return self._render(request, t, objs, list_meta={"resourceVersion": str(self.registry.store.rv)})

    # --- watch ---

    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        from . import selectors

        q = request.query
        store = self.registry.store
        lsel = selectors.parse_label_selector(q["labelSelector"]) if q.get("labelSelector") else None
        fsel = selectors.parse_field_selector(q["fieldSelector"], t.rt) if q.get("fieldSelector") else None
        as_table = codec.wants_table(request.headers.get("Accept"))
        bookmarks = codec.parse_bool(q.get("allowWatchBookmarks"))
        timeout = float(q.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
        rv_param = q.get("resourceVersion", "")

        def selected(obj: dict) -> bool:
            if lsel and not lsel.matches(obj.get("metadata", {}).get("labels") or {}):
                return False
            return not (fsel and not fsel.matches(obj))

        watcher = store.subscribe(t.rt, t.namespace)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Transfer-Encoding": "chunked"})
        await resp.prepare(request)
        last_rv = store.rv

        async def send(type_: str, obj: dict) -> None:
            if as_table and type_ in ("ADDED", "MODIFIED", "DELETED"):
                from . import tables

                obj = tables.to_table(t.rt, [obj], now=datetime.now(UTC),
                                      include_object=q.get("includeObject", "Metadata"))
                obj.pop("columnDefinitions", None) if sent_columns else None
            await resp.write(_dumps({"type": type_, "object": obj}) + b"\n")

        sent_columns = False
        initial_events = codec.parse_bool(q.get("sendInitialEvents"))
        try:
            if rv_param in ("", "0") or initial_events:
                for obj in self.registry.list(t.rt, t.namespace):
                    if selected(obj):
                        await send("ADDED", obj)
                        sent_columns = True
                if initial_events:
                    # WatchList (kubectl 1.37+): a bookmark marks the end of the initial state.
                    await send("BOOKMARK", {"kind": t.rt.kind, "apiVersion": t.rt.api_version, "metadata": {
                        "resourceVersion": str(last_rv),
                        "annotations": {"k8s.io/initial-events-end": "true"}}})
            else:
                try:
                    since = int(rv_param)
                except ValueError:
                    raise ApiError.bad_request(f"invalid resource version: {rv_param}") from None
                if since < store.oldest_rv:
                    err = ApiError.gone(f"too old resource version: {since} ({store.oldest_rv})")
                    await resp.write(_dumps({"type": "ERROR", "object": err.status()}) + b"\n")
                    return resp
                for ev in store.replay(watcher.key, t.namespace, since):
                    while not watcher.queue.empty() and watcher.queue._queue[0].rv <= ev.rv:  # type: ignore[attr-defined]
                        watcher.queue.get_nowait()
                    if selected(ev.obj):
                        await send(ev.type, ev.obj)
                        sent_columns = True
                    last_rv = ev.rv
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    ev = await asyncio.wait_for(watcher.queue.get(),
                                                min(remaining, BOOKMARK_INTERVAL) if bookmarks else remaining)
                except TimeoutError:
                    if bookmarks and time.monotonic() < deadline:
                        await send("BOOKMARK", {"kind": t.rt.kind, "apiVersion": t.rt.api_version,
                                                "metadata": {"resourceVersion": str(max(last_rv, store.rv))}})
                    continue
                if ev.rv <= last_rv:
                    continue
                last_rv = ev.rv
                if selected(ev.obj):
                    await send(ev.type, ev.obj)
                    sent_columns = True
                elif ev.type == "MODIFIED" and fsel:
                    pass
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.unsubscribe(watcher)
        return resp


def _pb_string(field: int, value: bytes) -> bytes:
    return bytes([field << 3 | 2, len(value)]) + value


_V2_INFO = {"title": "Kubernetes", "version": "v" + discovery.VERSION["gitVersion"].lstrip("v").split("-")[0]}
# gnostic openapi_v2.Document{swagger: "2.0", info: Info{title, version}}: what client-go unmarshals.
OPENAPI_V2_PB = _pb_string(1, b"2.0") + _pb_string(2, _pb_string(1, _V2_INFO["title"].encode())
                                                   + _pb_string(2, _V2_INFO["version"].encode()))
OPENAPI_V2_JSON = {"swagger": "2.0", "info": _V2_INFO, "paths": {}, "definitions": {}}


def _key(o: dict) -> tuple[str, str]:
    m = o.get("metadata", {})
    return (m.get("namespace", ""), m.get("name", ""))


def build_app(registry: Registry, token: str) -> web.Application:
    h = ApiHandler(registry, token)
    app = web.Application(middlewares=[h.middleware], client_max_size=8 * 1024 * 1024)
    app[HANDLER_KEY] = h
    app.router.add_get("/version", h.version)
    app.router.add_get("/version/", h.version)  # the official client's VersionApi uses the slash
    app.router.add_get("/healthz", h.health)
    app.router.add_get("/readyz", h.health)
    app.router.add_get("/livez", h.health)
    app.router.add_get("/api", h.api_root)
    app.router.add_get("/apis", h.apis_root)
    app.router.add_get("/openapi/v2", h.openapi_v2)
    app.router.add_get("/openapi/v3", h.openapi_v3_index)
    app.router.add_get(r"/openapi/v3/{gv:.+}", h.openapi_v3_doc)

    async def api_v1(request: web.Request) -> web.Response:
        doc = discovery.legacy_resource_list("", "v1")
        return json_response(doc)

    async def apis_gv(request: web.Request) -> web.Response:
        g, v = request.match_info["g"], request.match_info["v"]
        doc = discovery.legacy_resource_list(g, v)
        if doc is None:
            return error_response(ApiError(404, "NotFound", "the server could not find the requested resource"))
        return json_response(doc)

    async def apis_group(request: web.Request) -> web.Response:
        g = request.match_info["g"]
        for group in discovery.legacy_api_groups()["groups"]:
            if group["name"] == g:
                return json_response({"kind": "APIGroup", "apiVersion": "v1", **group})
        return error_response(ApiError(404, "NotFound", "the server could not find the requested resource"))

    app.router.add_get("/api/v1", api_v1)
    app.router.add_get("/apis/{g}", apis_group)
    app.router.add_get("/apis/{g}/{v}", apis_gv)
    app.router.add_route("*", r"/api/v1/namespaces/{ns}/pods/{name}/{sub:exec|attach}", h.pod_stream)
    app.router.add_route("*", r"/api/v1/{tail:.+}", h.resource)
    app.router.add_route("*", r"/apis/{g}/{v}/{tail:.+}", h.resource)
    return app
