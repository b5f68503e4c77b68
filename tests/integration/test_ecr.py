"""The lab's ECR API endpoint, driven by boto3 (and the AWS CLI when installed) against real registries."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labhelpers.sandbox import pki
from labhelpers.sandbox.clock import SandboxClock
from labhelpers.sandbox.cloud import LAB_ECR_USER, LAB_NO_ECR_USER, build_ecr_app, serve
from labhelpers.sandbox.registries import AuthorizationError, RegistryFleet
from labhelpers.sandbox.registries._loop import LoopThread
from labhelpers.sandbox.registries.catalog import AWS_ACCOUNT_ID, ECR_HOST
from labhelpers.sandbox.registries.distribution import registry_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]

SPEED = 3600.0  # one sandbox hour per real second: a 12-hour token lives 12 s
HOUR = 3600.0


@pytest.fixture(scope="module")
def clock() -> SandboxClock:
    return SandboxClock(speed=SPEED)


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    yield LoopThread("test-ecr")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, clock: SandboxClock) -> Iterator[RegistryFleet]:
    f = RegistryFleet()
    f.start(tmp_path_factory.mktemp("ecr-registries"), clock=clock.now)
    yield f
    f.stop()


@pytest.fixture(scope="module")
def endpoint(fleet: RegistryFleet, clock: SandboxClock, loop: LoopThread) -> Iterator[str]:
    runner, url = loop.run(serve(build_ecr_app(fleet, clock)))
    yield url
    loop.run(runner.cleanup())


def ecr_client(url: str, key: str = LAB_ECR_USER.access_key_id, secret: str = LAB_ECR_USER.secret_access_key,
               region: str = "us-east-1", **kwargs: object):
    return boto3.client("ecr", endpoint_url=url, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}), **kwargs)


def _password(data: dict) -> str:
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    return password


def _aws_accounts(fleet: RegistryFleet) -> int:
    return sum(1 for a in fleet.users(ECR_HOST).accounts() if a.username == "AWS")


def _wait_until(clock: SandboxClock, sandbox_time: float) -> None:
    delay = clock.real_seconds(sandbox_time - clock.now())
    if delay > 0:
        time.sleep(delay)


# ------------------------------------------------------------------------------------------ tokens


def test_token_is_base64_aws_password_valid_12_hours(endpoint: str, fleet: RegistryFleet,
                                                     clock: SandboxClock) -> None:
    before = clock.now()
    resp = ecr_client(endpoint).get_authorization_token()
    after = clock.now()
    (data,) = resp["authorizationData"]
    assert data["proxyEndpoint"] == f"https://{AWS_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"
    expires = data["expiresAt"].timestamp()
    assert before + 12 * HOUR - 1 <= expires <= after + 12 * HOUR + 1
    assert resp["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert fleet.client(ECR_HOST, "AWS", _password(data)).ping() == 200


def test_token_expires_after_12_sandbox_hours_and_a_refresh_works(endpoint: str, fleet: RegistryFleet,
                                                                  clock: SandboxClock) -> None:
    ecr = ecr_client(endpoint)
    data = ecr.get_authorization_token()["authorizationData"][0]
    password, expires = _password(data), data["expiresAt"].timestamp()
    _wait_until(clock, expires - 1.5 * HOUR)
    assert fleet.client(ECR_HOST, "AWS", password).ping() == 200
    _wait_until(clock, expires + 0.1 * HOUR)
    with pytest.raises(AuthorizationError) as info:
        fleet.client(ECR_HOST, "AWS", password).ping()
    # ECR's answer to an expired token: 403 DENIED, which docker prints as "denied: Your authorization ..."
    assert info.value.status_text == "403 Forbidden"
    assert (info.value.code, info.value.message) == (
        "DENIED", "Your authorization token has expired. Reauthenticate and try again.")
    fresh = _password(ecr.get_authorization_token()["authorizationData"][0])
    assert fresh != password
    assert fleet.client(ECR_HOST, "AWS", fresh).ping() == 200


def test_an_earlier_token_stays_valid_after_a_refresh(endpoint: str, fleet: RegistryFleet) -> None:
    ecr = ecr_client(endpoint)
    first = _password(ecr.get_authorization_token()["authorizationData"][0])
    second = _password(ecr.get_authorization_token()["authorizationData"][0])
    assert first != second
    assert fleet.client(ECR_HOST, "AWS", second).ping() == 200
    assert fleet.client(ECR_HOST, "AWS", first).ping() == 200


def _raw_get(url: str, authorization: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    req = urllib.request.Request(url, headers=headers | ({"Authorization": authorization} if authorization else {}))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_registry_refuses_like_ecr(endpoint: str, fleet: RegistryFleet) -> None:
    """No, wrong or foreign credentials: ECR's 401 with its Basic challenge and text body."""
    token = ecr_client(endpoint).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    url = fleet.resolve(ECR_HOST) + "/v2/my-app/manifests/v1.0"
    wrong = base64.b64encode(b"AWS:not-a-token").decode()
    other_user = base64.b64encode(b"admin:" + base64.b64decode(token).split(b":", 1)[1]).decode()
    for authorization in (None, f"Basic {wrong}", f"Basic {other_user}", "Basic !!!", f"Bearer {token}"):
        status, headers, body = _raw_get(url, authorization)
        assert (status, body) == (401, b"Not Authorized\n"), authorization
        assert headers["WWW-Authenticate"] == (f'Basic realm="https://{AWS_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/"'
                                               ',service="ecr.amazonaws.com"')
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    status, headers, body = _raw_get(url, f"Basic {token}")  # the token is the Basic credential as is
    assert status == 200 and headers["Docker-Content-Digest"] == fleet.image(ECR_HOST, "my-app", "v1.0").digest


def test_registry_ids_give_one_entry_each_and_are_validated(endpoint: str) -> None:
    ecr = ecr_client(endpoint)
    data = ecr.get_authorization_token(registryIds=[AWS_ACCOUNT_ID])["authorizationData"]
    assert len(data) == 1
    with pytest.raises(ClientError) as info:
        ecr.get_authorization_token(registryIds=["12345"])
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "regular expression pattern: [0-9]{12}" in info.value.response["Error"]["Message"]


# ------------------------------------------------------------------------------------------ signatures


def _error(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_wrong_secret_is_rejected_and_mints_nothing(endpoint: str, fleet: RegistryFleet) -> None:
    before = _aws_accounts(fleet)
    code, message, status = _error(ecr_client(endpoint, secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY")
                                   .get_authorization_token)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message == ("The request signature we calculated does not match the signature you provided. Check "
                       "your AWS Secret Access Key and signing method. Consult the service documentation for "
                       "details.")
    assert _aws_accounts(fleet) == before


def test_unknown_key_wrong_region_and_missing_permission(endpoint: str) -> None:
    assert _error(ecr_client(endpoint, key="AKIAXXXXXXXXXXXXXXXX").get_authorization_token) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.", 400)
    code, message, _ = _error(ecr_client(endpoint, region="eu-west-1").get_authorization_token)
    assert (code, message) == ("InvalidSignatureException",
                               "Credential should be scoped to a valid region, not 'eu-west-1'. ")
    code, message, _ = _error(ecr_client(endpoint, LAB_NO_ECR_USER.access_key_id,
                                         LAB_NO_ECR_USER.secret_access_key).get_authorization_token)
    assert code == "AccessDeniedException"
    assert message == (f"User: arn:aws:iam::{AWS_ACCOUNT_ID}:user/lab-no-ecr is not authorized to perform: "
                       "ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the "
                       "ecr:GetAuthorizationToken action")


def test_unsigned_request_is_missing_authentication_token(endpoint: str) -> None:
    from botocore import UNSIGNED

    client = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1", config=Config(
        signature_version=UNSIGNED, retries={"max_attempts": 1}))
    assert _error(client.get_authorization_token)[:2] == ("MissingAuthenticationTokenException",
                                                          "Missing Authentication Token")


# ------------------------------------------------------------------------------------------ management API


def test_describe_repositories_and_images_read_the_registry(endpoint: str, fleet: RegistryFleet) -> None:
    ecr = ecr_client(endpoint)
    repos = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
    assert {"my-app", "lab/backend"} <= set(repos)
    assert repos["my-app"]["repositoryUri"] == f"{ECR_HOST}/my-app"
    assert repos["my-app"]["repositoryArn"] == f"arn:aws:ecr:us-east-1:{AWS_ACCOUNT_ID}:repository/my-app"
    (detail,) = ecr.describe_images(repositoryName="my-app")["imageDetails"]
    image = fleet.image(ECR_HOST, "my-app", "v1.0")
    assert detail["imageDigest"] == image.digest and detail["imageTags"] == ["v1.0"]
    assert detail["imageManifestMediaType"] == image.media_type
    assert ecr.list_images(repositoryName="lab/backend")["imageIds"] == [
        {"imageDigest": fleet.image(ECR_HOST, "lab/backend", "v1.0").digest, "imageTag": "v1.0"}]

    code, message, _ = _error(lambda: ecr.describe_repositories(repositoryNames=["nope"]))
    assert (code, message) == ("RepositoryNotFoundException", "The repository with name 'nope' does not exist "
                                                              f"in the registry with id '{AWS_ACCOUNT_ID}'")
    code, message, _ = _error(lambda: ecr.describe_images(repositoryName="my-app", imageIds=[{"imageTag": "v9"}]))
    assert (code, message) == ("ImageNotFoundException",
                               "The image with imageId {imageDigest:'null', imageTag:'v9'} does not exist within the "
                               f"repository with name 'my-app' in the registry with id '{AWS_ACCOUNT_ID}'")


def test_describe_repositories_paginates(endpoint: str) -> None:
    ecr = ecr_client(endpoint)
    first = ecr.describe_repositories(maxResults=1)
    assert len(first["repositories"]) == 1 and "nextToken" in first
    pages = ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 1})
    names = [r["repositoryName"] for page in pages for r in page["repositories"]]
    assert names == sorted(names) and {"my-app", "lab/backend"} <= set(names)


# ------------------------------------------------------------------------------------------ transports


def test_served_over_tls_with_the_sandbox_ca(fleet: RegistryFleet, clock: SandboxClock, loop: LoopThread,
                                             tmp_path: Path) -> None:
    pki.ensure(tmp_path)
    runner, url = loop.run(serve(build_ecr_app(fleet, clock), ssl_context=pki.server_context(tmp_path)))
    try:
        data = ecr_client(url, verify=str(tmp_path / pki.CA_CERT)).get_authorization_token()["authorizationData"]
        assert fleet.client(ECR_HOST, "AWS", _password(data[0])).ping() == 200
    finally:
        loop.run(runner.cleanup())


def _aws_cli() -> str | None:
    path = shutil.which("aws")
    if path is None:
        return None
    try:
        ok = subprocess.run([path, "--version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if ok else None


def test_aws_cli_get_login_password(endpoint: str, fleet: RegistryFleet, tmp_path: Path) -> None:
    aws = _aws_cli()
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=LAB_ECR_USER.access_key_id, AWS_SECRET_ACCESS_KEY=LAB_ECR_USER.secret_access_key,
               AWS_ENDPOINT_URL_ECR=endpoint, AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))
    p = subprocess.run([aws, "ecr", "get-login-password", "--region", "us-east-1"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert fleet.client(ECR_HOST, "AWS", p.stdout.strip()).ping() == 200
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    p = subprocess.run([aws, "ecr", "get-login-password", "--region", "us-east-1"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode != 0
    assert ("An error occurred (InvalidSignatureException) when calling the GetAuthorizationToken operation: "
            "The request signature we calculated does not match") in p.stderr
