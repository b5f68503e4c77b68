"""An Amazon ECR API endpoint for the lab: enough of the JSON 1.1 protocol for boto3 and the AWS CLI.

``aws ecr get-login-password`` is ``GetAuthorizationToken`` plus a base64 decode. Here it really happens:
the request's SigV4 signature is verified against the lab's (deliberately fake, AWS-documentation) keys,
and every token minted becomes a real password on the sandbox's ECR registry (user ``AWS``) that stops
working 12 hours later on the sandbox clock. Point a client at it with ``endpoint_url`` (boto3),
``--endpoint-url`` or ``AWS_ENDPOINT_URL_ECR`` (AWS CLI).

Operations: GetAuthorizationToken, DescribeRepositories, DescribeImages, ListImages. Errors use AWS's
``{"__type", "message"}`` bodies and texts (UnrecognizedClientException, InvalidSignatureException,
AccessDeniedException, RepositoryNotFoundException, ImageNotFoundException, ...).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from ..registries.catalog import AWS_ACCOUNT_ID, AWS_REGION, ECR_HOST
from . import sigv4
from .storage import RegistryStorage, StoredImage

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
CONTENT_TYPE = "application/x-amz-json-1.1"
SERVICE = "ecr"
TOKEN_USER = "AWS"
TOKEN_TTL = 12 * 3600.0
PRUNE_AFTER = 24 * 3600.0  # keep expired tokens listed this long (sandbox time) so students can inspect them


@dataclass(frozen=True)
class IamUser:
    """A lab IAM user with an access key; ``actions`` are the ECR actions its policy allows."""

    access_key_id: str
    secret_access_key: str
    arn: str
    actions: frozenset[str]

    def allows(self, action: str) -> bool:
        return "ecr:*" in self.actions or action in self.actions


# AWS's own documentation example keys: obviously fake, and what every AWS tutorial shows.
LAB_ECR_USER = IamUser("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                       f"arn:aws:iam::{AWS_ACCOUNT_ID}:user/lab-ecr-user", frozenset({"ecr:*"}))
LAB_NO_ECR_USER = IamUser("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
                          f"arn:aws:iam::{AWS_ACCOUNT_ID}:user/lab-no-ecr", frozenset())
LAB_IAM_USERS = (LAB_ECR_USER, LAB_NO_ECR_USER)


class Fleet(Protocol):
    """The part of :class:`~labhelpers.sandbox.registries.RegistryFleet` this endpoint uses."""

    def issue_login(self, host: str, username: str | None = None) -> Any: ...
    def remove(self, host: str, username: str, password: str | None = None) -> int: ...
    def users(self, host: str) -> Any: ...
    def registry(self, host: str) -> Any: ...


class AwsError(Exception):
    """An error response of the JSON protocol: ``{"__type": code, "message": message}``."""

    def __init__(self, code: str, message: str | None = None, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, str]:
        return {"__type": self.code} | ({"message": self.message} if self.message is not None else {})


def _clock_fn(clock: Any) -> Callable[[], float]:
    """Accept a :class:`~labhelpers.sandbox.clock.SandboxClock` or a plain ``() -> float``."""
    return clock.now if hasattr(clock, "now") else clock


def _validation(shown: str, member: str, constraint: str) -> AwsError:
    return AwsError("ValidationException", f"1 validation error detected: Value '{shown}' at '{member}' failed "
                                           f"to satisfy constraint: {constraint}")


def _page(items: list[Any], params: Mapping[str, Any], default: int = 100) -> tuple[list[Any], str | None]:
    """Offset pagination with an opaque ``nextToken`` (what the AWS CLI's auto-pagination follows)."""
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(str(token)).decode())
        except ValueError:
            raise AwsError("InvalidParameterException", "Invalid parameter at 'nextToken' failed to satisfy "
                                                         "constraint: 'Invalid pagination token'") from None
    size = int(params.get("maxResults") or default)
    end = start + size
    next_token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], next_token


class EcrService:
    """The state behind the endpoint: which keys exist, where tokens go, which clock they expire on."""

    def __init__(self, fleet: Fleet, clock: Any, *, users: tuple[IamUser, ...] = LAB_IAM_USERS,
                 wall_clock: Callable[[], float] = time.time, host: str = ECR_HOST,
                 account_id: str = AWS_ACCOUNT_ID, region: str = AWS_REGION) -> None:
        self.fleet = fleet
        self.clock = _clock_fn(clock)
        self.wall_clock = wall_clock
        self.users = {u.access_key_id: u for u in users}
        self.host = host
        self.account_id = account_id
        self.region = region
        self.issued: list[dict[str, Any]] = []  # for notebooks: who got which token when (no passwords)
        self._ops: dict[str, Callable[[IamUser, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "GetAuthorizationToken": self.get_authorization_token,
            "DescribeRepositories": self.describe_repositories,
            "DescribeImages": self.describe_images,
            "ListImages": self.list_images,
        }

    @property
    def proxy_endpoint(self) -> str:
        return f"https://{self.host}"

    # -- HTTP ---------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        try:
            body = await request.read()
            user = self.authenticate(request, body)
            target = request.headers.get("X-Amz-Target", "")
            op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
            if op not in self._ops:
                raise AwsError("UnknownOperationException")
            try:
                params = json.loads(body) if body.strip() else {}
            except ValueError:
                raise AwsError("SerializationException", "Start of structure or map found where not expected."
                               ) from None
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "Start of structure or map found where not expected.")
            self.authorize(user, op, params)
            result = await self._ops[op](user, params)
            return self._json(result, 200, request_id)
        except AwsError as e:
            return self._json(e.body(), e.status, request_id)
        except sigv4.SignatureError as e:
            return self._json({"__type": e.code, "message": e.message}, e.status, request_id)

    @staticmethod
    def _json(doc: Mapping[str, Any], status: int, request_id: str) -> web.Response:
        return web.Response(body=json.dumps(doc, separators=(",", ":")).encode(), status=status,
                            headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id})

    def authenticate(self, request: web.Request, body: bytes) -> IamUser:
        signed = sigv4.SignedRequest(request.method, request.rel_url.raw_path, request.rel_url.raw_query_string,
                                     sigv4.header_map(request.headers.items()), body)
        auth = sigv4.verify(signed, {k: u.secret_access_key for k, u in self.users.items()},
                            region=self.region, service=SERVICE, now=self.wall_clock())
        return self.users[auth.access_key]

    def authorize(self, user: IamUser, op: str, params: Mapping[str, Any]) -> None:
        action = f"ecr:{op}"
        if user.allows(action):
            return
        if op == "GetAuthorizationToken":
            resource = "*"
        else:
            name = params.get("repositoryName") or "*"
            resource = f"arn:aws:ecr:{self.region}:{self.account_id}:repository/{name}"
        raise AwsError("AccessDeniedException",
                       f"User: {user.arn} is not authorized to perform: {action} on resource: {resource} "
                       f"because no identity-based policy allows the {action} action")

    # -- operations -----------------------------------------------------------------------------------

    async def get_authorization_token(self, user: IamUser, params: dict[str, Any]) -> dict[str, Any]:
        ids = params.get("registryIds") or [self.account_id]
        for rid in ids:
            if not re.fullmatch(r"[0-9]{12}", str(rid)):
                raise _validation("[" + ", ".join(map(str, ids)) + "]", "registryIds",
                                  "Member must satisfy constraint: [Member must satisfy regular expression "
                                  "pattern: [0-9]{12}]")
            if str(rid) != self.account_id:
                raise AwsError("InvalidParameterException",
                               f"Invalid parameter at 'registryIds' failed to satisfy constraint: 'the lab "
                               f"sandbox hosts only registry {self.account_id}'")
        # Minting hashes a bcrypt line for the htpasswd file: keep it off the event loop.
        loop = asyncio.get_running_loop()
        account = await loop.run_in_executor(None, self._mint)
        token = base64.b64encode(f"{TOKEN_USER}:{account.password}".encode()).decode()
        expires = account.expires_at if account.expires_at is not None else self.clock() + TOKEN_TTL
        self.issued.append({"user": user.arn, "issued_at": self.clock(), "expires_at": expires})
        entry = {"authorizationToken": token, "expiresAt": round(expires, 3), "proxyEndpoint": self.proxy_endpoint}
        return {"authorizationData": [entry for _ in ids]}

    def _mint(self) -> Any:
        account = self.fleet.issue_login(self.host, TOKEN_USER)
        self._prune()
        return account

    def _prune(self) -> None:
        now = self.clock()
        for a in self.fleet.users(self.host).accounts():
            if a.username == TOKEN_USER and a.expires_at is not None and now - a.expires_at > PRUNE_AFTER:
                self.fleet.remove(self.host, TOKEN_USER, a.password)

    def _storage(self) -> RegistryStorage:
        return RegistryStorage(self.fleet.registry(self.host).data_dir)

    def _check_registry(self, params: Mapping[str, Any]) -> None:
        rid = params.get("registryId")
        if rid is not None and str(rid) != self.account_id:
            raise AwsError("RepositoryNotFoundException",
                           f"The repository with name '{params.get('repositoryName', '')}' does not exist in the "
                           f"registry with id '{rid}'")

    def _require_repository(self, storage: RegistryStorage, name: str) -> None:
        if not storage.exists(name):
            raise AwsError("RepositoryNotFoundException",
                           f"The repository with name '{name}' does not exist in the registry with id "
                           f"'{self.account_id}'")

    def _repository(self, name: str, created: float) -> dict[str, Any]:
        return {
            "repositoryArn": f"arn:aws:ecr:{self.region}:{self.account_id}:repository/{name}",
            "registryId": self.account_id,
            "repositoryName": name,
            "repositoryUri": f"{self.host}/{name}",
            "createdAt": round(created, 3),
            "imageTagMutability": "MUTABLE",
            "imageScanningConfiguration": {"scanOnPush": False},
            "encryptionConfiguration": {"encryptionType": "AES256"},
        }

    async def describe_repositories(self, user: IamUser, params: dict[str, Any]) -> dict[str, Any]:
        self._check_registry(params)
        storage = self._storage()
        repos = storage.repositories()
        names = params.get("repositoryNames")
        if names:
            for n in names:
                self._require_repository(storage, n)
            selected = [(n, repos[n]) for n in names]
        else:
            selected = list(repos.items())
        page, token = _page([self._repository(n, c) for n, c in selected], params,
                            default=1000 if names else 100)
        return {"repositories": page} | ({"nextToken": token} if token else {})

    def _select(self, name: str, params: Mapping[str, Any]) -> list[StoredImage]:
        storage = self._storage()
        self._require_repository(storage, name)
        images = storage.images(name)
        status = (params.get("filter") or {}).get("tagStatus", "ANY")
        if status == "TAGGED":
            images = [i for i in images if i.tags]
        elif status == "UNTAGGED":
            images = [i for i in images if not i.tags]
        wanted = params.get("imageIds")
        if not wanted:
            return images
        out: list[StoredImage] = []
        for ident in wanted:
            tag, digest = ident.get("imageTag"), ident.get("imageDigest")
            match = [i for i in images if (tag is None or tag in i.tags) and (digest is None or i.digest == digest)]
            if not match:
                raise AwsError("ImageNotFoundException",
                               f"The image with imageId {{imageDigest:'{digest or 'null'}', imageTag:'{tag or 'null'}'}} "
                               f"does not exist within the repository with name '{name}' in the registry with id "
                               f"'{self.account_id}'")
            out.extend(m for m in match if m not in out)
        return out

    async def describe_images(self, user: IamUser, params: dict[str, Any]) -> dict[str, Any]:
        self._check_registry(params)
        name = str(params.get("repositoryName", ""))
        details = []
        for img in self._select(name, params):
            d: dict[str, Any] = {"registryId": self.account_id, "repositoryName": name, "imageDigest": img.digest}
            if img.tags:
                d["imageTags"] = sorted(img.tags)
            d.update(imageSizeInBytes=img.size, imagePushedAt=round(img.pushed_at, 3))
            if img.media_type:
                d["imageManifestMediaType"] = img.media_type
            if img.artifact_media_type:
                d["artifactMediaType"] = img.artifact_media_type
            details.append(d)
        page, token = _page(details, params)
        return {"imageDetails": page} | ({"nextToken": token} if token else {})

    async def list_images(self, user: IamUser, params: dict[str, Any]) -> dict[str, Any]:
        self._check_registry(params)
        name = str(params.get("repositoryName", ""))
        ids: list[dict[str, str]] = []
        for img in self._select(name, {"filter": params.get("filter")}):
            if img.tags:
                ids.extend({"imageDigest": img.digest, "imageTag": t} for t in sorted(img.tags))
            else:
                ids.append({"imageDigest": img.digest})
        page, token = _page(ids, params)
        return {"imageIds": page} | ({"nextToken": token} if token else {})


ECR_SERVICE = web.AppKey("ecr_service", EcrService)


def build_ecr_app(fleet: Fleet, clock: Any, **options: Any) -> web.Application:
    """The ECR endpoint as an aiohttp app (POST ``/``); ``clock`` is the sandbox clock tokens expire on.

    It must be served on its own origin (AWS clients sign the path and do not send the sandbox's bearer
    token). ``options`` go to :class:`EcrService` (``users``, ``wall_clock``, ...).
    """
    service = EcrService(fleet, clock, **options)
    app = web.Application()
    app[ECR_SERVICE] = service
    app.router.add_post("/", service.handle)
    return app


async def serve(app: web.Application, *, host: str = "127.0.0.1", port: int = 0,
                ssl_context: Any = None) -> tuple[web.AppRunner, str]:
    """Listen on ``host:port`` (0: any free port); returns the runner (``await runner.cleanup()``) and URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    await web.SockSite(runner, sock, ssl_context=ssl_context).start()
    scheme = "https" if ssl_context is not None else "http"
    return runner, f"{scheme}://{host}:{sock.getsockname()[1]}"
