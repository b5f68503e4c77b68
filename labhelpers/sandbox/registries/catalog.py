"""The lab's registry hosts: names, auth scheme, demo accounts and the images each one serves.

Users and images follow the seed exercises (lab 03): Exercise 1 (``your-username``/``your-password`` on
Docker Hub), Exercise 7 (``user1:pass1`` docker.io, ``user2:token2`` ghcr.io, ``user3:pass3`` myregistry.com),
Exercises 8-10 (ECR ``AWS`` + token, GCR/GAR ``_json_key``, ACR admin and service principal). Every password
here is a deliberately fake lab value.

Auth schemes mirror the real services: Docker Hub, GHCR, GCR/GAR and ACR answer with ``Bearer`` challenges
and a token endpoint; ECR and plain private registries answer ``Basic``. ``auth`` says who checks:

* ``token``: Distribution checks JWTs from the fleet's token server (which checks the accounts);
* ``htpasswd``: Distribution's own htpasswd file, one password per user name, refusals as Distribution words them;
* ``basic``: the fleet's Basic-auth gateway in front of an auth-less Distribution, reading the accounts live,
  so one user may hold several passwords that expire independently (ECR's tokens), refusals worded as ECR's.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Literal

from .auth import ALL_ACTIONS, PULL, PUSH, Account, Grant

PULL_PUSH = frozenset({PULL, PUSH})
PULL_ONLY = frozenset({PULL})

HOUR = 3600.0


@dataclass(frozen=True)
class ImageSpec:
    repository: str
    tag: str
    public: bool = False

    def reference(self, host: str) -> str:
        return f"{host}/{self.repository}:{self.tag}"


@dataclass(frozen=True)
class TemporaryLogin:
    """A credential minted on demand that expires on the sandbox clock (``aws ecr get-login-password``,
    ``gcloud auth print-access-token``, ``az acr login --expose-token``)."""

    username: str
    ttl: float
    style: Literal["ecr", "oauth2", "acr"]
    grants: tuple[Grant, ...]
    note: str = ""


@dataclass(frozen=True)
class HostSpec:
    host: str
    auth: Literal["htpasswd", "token", "basic"]
    accounts: tuple[Account, ...] = ()
    images: tuple[ImageSpec, ...] = ()
    aliases: tuple[str, ...] = ()
    api_host: str = ""  # the host a runtime really dials (docker.io -> registry-1.docker.io)
    service: str = ""  # the challenge's service= (for token hosts also the JWT audience)
    token_origin: str = ""  # public origin of the real token endpoint
    token_path: str = "/token"
    basic_realm: str = ""
    anonymous: Literal["scoped", "forbidden"] = "scoped"
    temporary: tuple[TemporaryLogin, ...] = ()
    description: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.host, *self.aliases)

    @property
    def endpoint_host(self) -> str:
        return self.api_host or self.host

    @property
    def public_repositories(self) -> set[str]:
        return {i.repository for i in self.images if i.public}

    @property
    def public_token_realm(self) -> str:
        return f"{self.token_origin}{self.token_path}" if self.token_origin else ""


# A GCP service-account key in the real file format, with an obviously fake private key.
GCP_PROJECT = "yourproject"
GCP_SERVICE_ACCOUNT_KEY: dict[str, str] = {
    "type": "service_account",
    "project_id": GCP_PROJECT,
    "private_key_id": "0123456789abcdef0123456789abcdef01234567",
    "private_key": "-----BEGIN PRIVATE KEY-----\nLAB-ONLY-FAKE-KEY-NOT-A-REAL-SECRET\n-----END PRIVATE KEY-----\n",
    "client_email": f"registry-puller@{GCP_PROJECT}.iam.gserviceaccount.com",
    "client_id": "100000000000000000001",
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": "https://oauth2.googleapis.com/token",
    "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
    "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                            f"registry-puller%40{GCP_PROJECT}.iam.gserviceaccount.com",
    "universe_domain": "googleapis.com",
}
GCP_KEY_JSON = json.dumps(GCP_SERVICE_ACCOUNT_KEY, indent=2) + "\n"

AWS_ACCOUNT_ID = "123456789012"
AWS_REGION = "us-east-1"
ECR_HOST = f"{AWS_ACCOUNT_ID}.dkr.ecr.{AWS_REGION}.amazonaws.com"
ACR_NAME = "myregistry"
ACR_HOST = f"{ACR_NAME}.azurecr.io"
ACR_SP_APP_ID = "11111111-2222-3333-4444-555555555555"
ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
GAR_HOST = "us-central1-docker.pkg.dev"

_YOURUSER = (Grant("youruser/*", PULL_PUSH), Grant("yourusername/*", PULL_PUSH), Grant("private/*", PULL_PUSH))

DOCKER_HUB = HostSpec(
    host="docker.io",
    aliases=("index.docker.io", "registry-1.docker.io"),
    api_host="registry-1.docker.io",
    auth="token",
    service="registry.docker.io",
    token_origin="https://auth.docker.io",
    anonymous="scoped",
    accounts=(
        Account("your-username", "your-password", _YOURUSER, note="Exercise 1 dockerhub-secret"),
        Account("user1", "pass1", (Grant("youruser/*", PULL_ONLY),), note="Exercise 7 multi-registry-secret"),
    ),
    images=(
        ImageSpec("youruser/private-app", "v1.0"),
        ImageSpec("yourusername/private-app", "v1.0"),
        ImageSpec("youruser/app1", "v1.0"),
        ImageSpec("private/image", "v1.0"),
        ImageSpec("youruser/app", "v1.0", public=True),
        ImageSpec("youruser/trusted-app", "v1.0", public=True),
        ImageSpec("youruser/signed-app", "v1.0", public=True),
        ImageSpec("youruser/unsigned-app", "v1.0", public=True),
        ImageSpec("library/nginx", "latest", public=True),
        ImageSpec("library/busybox", "latest", public=True),
        ImageSpec("library/alpine", "latest", public=True),
        ImageSpec("curlimages/curl", "latest", public=True),
        ImageSpec("amazon/aws-cli", "latest", public=True),
    ),
    description="Docker Hub: Bearer tokens from auth.docker.io; anonymous tokens cover public repositories only",
)

GHCR = HostSpec(
    host="ghcr.io",
    auth="token",
    service="ghcr.io",
    token_origin="https://ghcr.io",
    anonymous="forbidden",
    accounts=(Account("user2", "token2", (Grant("youruser/*", PULL_PUSH),), note="Exercise 7 (a GitHub PAT)"),),
    images=(
        ImageSpec("youruser/app2", "v1.0"),
        # The Kyverno admission controller the lab installs in Exercise 12 (kyverno/plugin.py KYVERNO_IMAGE).
        ImageSpec("kyverno/kyverno", "v1.15.2", public=True),
    ),
    description="GitHub Container Registry: anonymous token requests for private packages get 403",
)

MYREGISTRY = HostSpec(
    host="myregistry.com",
    auth="htpasswd",
    basic_realm="myregistry.com",
    accounts=(
        Account("user3", "pass3", note="Exercise 7"),
        Account("username", "password", note="Exercise 3 placeholder credentials"),
    ),
    images=(ImageSpec("app3", "v1.0"),),
    description="A self-hosted Distribution registry with htpasswd Basic auth",
)

LAB_LOCAL = HostSpec(
    host="registry.lab.local:5000",
    auth="htpasswd",
    basic_realm="registry.lab.local",
    accounts=(Account("labuser", "labpass", note="team registry used by the troubleshooting scenarios"),),
    images=(ImageSpec("team/app", "v1"),),
    description="Team registry on a non-default port (kubelet pull-failure scenarios)",
)

ECR = HostSpec(
    host=ECR_HOST,
    auth="basic",
    basic_realm=f"https://{ECR_HOST}/",
    service="ecr.amazonaws.com",
    temporary=(TemporaryLogin("AWS", 12 * HOUR, "ecr", (Grant("*", ALL_ACTIONS),),
                              note="aws ecr get-login-password: valid 12 h"),),
    images=(ImageSpec("my-app", "v1.0"), ImageSpec("lab/backend", "v1.0")),
    description="Amazon ECR: Basic auth with user AWS and 12-hour tokens (every unexpired token works)",
)

GCR = HostSpec(
    host="gcr.io",
    auth="token",
    service="gcr.io",
    token_origin="https://gcr.io",
    token_path="/v2/token",
    accounts=(
        Account("_json_key", GCP_KEY_JSON, (Grant(f"{GCP_PROJECT}/*", PULL_ONLY),), password_format="json",
                note="service-account JSON key (roles/storage.objectViewer)"),
    ),
    temporary=(TemporaryLogin("oauth2accesstoken", 1 * HOUR, "oauth2", (Grant(f"{GCP_PROJECT}/*", PULL_PUSH),),
                              note="gcloud auth print-access-token: valid 1 h"),),
    images=(ImageSpec(f"{GCP_PROJECT}/app", "v1.0"), ImageSpec("google-containers/pause", "3.9", public=True)),
    description="Google Container Registry: _json_key or oauth2accesstoken",
)

GAR = HostSpec(
    host=GAR_HOST,
    auth="token",
    service=GAR_HOST,
    token_origin=f"https://{GAR_HOST}",
    token_path="/v2/token",
    accounts=(
        Account("_json_key", GCP_KEY_JSON, (Grant(f"{GCP_PROJECT}/*", PULL_ONLY),), password_format="json",
                note="service-account JSON key (roles/artifactregistry.reader)"),
        Account("_json_key_base64", base64.b64encode(GCP_KEY_JSON.encode()).decode(),
                (Grant(f"{GCP_PROJECT}/*", PULL_ONLY),), note="base64 of the same key"),
    ),
    temporary=(TemporaryLogin("oauth2accesstoken", 1 * HOUR, "oauth2", (Grant(f"{GCP_PROJECT}/*", PULL_PUSH),),
                              note="gcloud auth print-access-token: valid 1 h"),),
    images=(ImageSpec(f"{GCP_PROJECT}/lab-repo/app", "v1.0"),),
    description="Artifact Registry (Docker format) in us-central1",
)

ACR = HostSpec(
    host=ACR_HOST,
    auth="token",
    service=ACR_HOST,
    token_origin=f"https://{ACR_HOST}",
    token_path="/oauth2/token",
    accounts=(
        Account(ACR_NAME, "lab-acr-admin-password-1", note="admin user, password 1 (not recommended)"),
        Account(ACR_NAME, "lab-acr-admin-password-2", note="admin user, password 2"),
        Account(ACR_SP_APP_ID, "lab-sp-client-secret", (Grant("*", PULL_ONLY),),
                note="service principal with AcrPull"),
    ),
    temporary=(TemporaryLogin(ACR_TOKEN_USER, 3 * HOUR, "acr", (Grant("*", PULL_PUSH),),
                              note="az acr login --expose-token: valid 3 h"),),
    images=(ImageSpec("app", "v1.0"), ImageSpec("samples/hello", "v1.0")),
    description="Azure Container Registry: admin user, service principal or exposed token",
)

HOSTS: tuple[HostSpec, ...] = (DOCKER_HUB, GHCR, MYREGISTRY, LAB_LOCAL, ECR, GCR, GAR, ACR)
