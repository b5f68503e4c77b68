"""SigV4 as the lab's ECR endpoint computes it: AWS's published test-suite vectors and botocore as an oracle."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from labhelpers.sandbox.cloud import sigv4

# The AWS SigV4 test suite's credentials and instant (aws-sig-v4-test-suite, also in aws-c-auth).
SUITE = {"access_key": "AKIDEXAMPLE", "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         "region": "us-east-1", "service": "service", "amz_date": "20150830T123600Z"}
SUITE_NOW = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.UTC).timestamp()

LAB_KEY, LAB_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _suite_signature(method: str, query: str = "") -> str:
    headers = sigv4.sign(method, "example.amazonaws.com", "/", query, {}, b"", **SUITE)
    return headers["Authorization"].rsplit("Signature=", 1)[1]


@pytest.mark.parametrize(("method", "query", "expected"), [
    ("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),  # get-vanilla
    ("POST", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),  # post-vanilla
    ("GET", "Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("GET", "Param1=value2&Param1=value1", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
    ("GET", "Param1=value1&Param1=value2", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
])
def test_aws_test_suite_vectors(method: str, query: str, expected: str) -> None:
    assert _suite_signature(method, query) == expected


def test_get_vanilla_intermediate_values() -> None:
    headers = {"host": ["example.amazonaws.com"], "x-amz-date": ["20150830T123600Z"]}
    canonical = sigv4.canonical_request("GET", "/", "", headers, ["host", "x-amz-date"], sigv4.EMPTY_SHA256)
    assert canonical == ("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    to_sign = sigv4.string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", canonical)
    assert to_sign.splitlines()[-1] == "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"


def test_header_values_are_trimmed_and_repeated_headers_joined() -> None:
    headers = sigv4.header_map([("My-Header1", "  value1  "), ("my-header1", "a   b   c"), ("Host", "h")])
    assert sigv4.canonical_headers(headers, ["my-header1", "host"]) == "host:h\nmy-header1:value1,a b c\n"


# ------------------------------------------------------------------------------------------ verify()


def _botocore_request(secret: str = LAB_SECRET, region: str = "us-east-1", service: str = "ecr",
                      key: str = LAB_KEY) -> tuple[sigv4.SignedRequest, float]:
    """A GetAuthorizationToken request exactly as botocore signs it (an independent implementation)."""
    body = json.dumps({}).encode()
    req = AWSRequest("POST", "https://127.0.0.1:4566/", data=body, headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
    prepared = req.prepare()
    items = list(prepared.headers.items()) + [("Host", "127.0.0.1:4566")]
    now = dt.datetime.strptime(prepared.headers["X-Amz-Date"], sigv4.AMZ_DATE_FORMAT).replace(
        tzinfo=dt.UTC).timestamp()
    return sigv4.SignedRequest("POST", "/", "", sigv4.header_map(items), body), now


SECRETS = {LAB_KEY: LAB_SECRET}


def _verify(req: sigv4.SignedRequest, now: float) -> sigv4.Authorization:
    return sigv4.verify(req, SECRETS, region="us-east-1", service="ecr", now=now)


def test_verify_accepts_what_botocore_signs() -> None:
    req, now = _botocore_request()
    auth = _verify(req, now + 30)
    assert (auth.access_key, auth.region, auth.service) == (LAB_KEY, "us-east-1", "ecr")
    assert "x-amz-target" in auth.signed_headers


def _error(req: sigv4.SignedRequest, now: float) -> sigv4.SignatureError:
    with pytest.raises(sigv4.SignatureError) as info:
        _verify(req, now)
    return info.value


def test_wrong_secret_is_an_invalid_signature() -> None:
    req, now = _botocore_request(secret="not-the-secret")
    err = _error(req, now)
    assert err.code == "InvalidSignatureException"
    assert err.message.startswith("The request signature we calculated does not match the signature you provided.")


def test_tampered_body_is_an_invalid_signature() -> None:
    req, now = _botocore_request()
    tampered = sigv4.SignedRequest(req.method, req.raw_path, req.raw_query, req.headers, b'{"registryIds":[]}')
    assert _error(tampered, now).code == "InvalidSignatureException"


def test_unknown_access_key() -> None:
    req, now = _botocore_request(key="AKIANOTALABKEY000000")
    err = _error(req, now)
    assert (err.code, err.message) == ("UnrecognizedClientException",
                                       "The security token included in the request is invalid.")


def test_region_and_service_scope() -> None:
    req, now = _botocore_request(region="eu-west-1")
    assert _error(req, now).message == "Credential should be scoped to a valid region, not 'eu-west-1'. "
    req, now = _botocore_request(service="sts")
    assert _error(req, now).message == "Credential should be scoped to correct service: 'ecr'. "


def _suite_request(amz_date: str = "20150830T123600Z") -> sigv4.SignedRequest:
    signed = sigv4.sign("POST", "example.amazonaws.com", "/", "", {}, b"{}", access_key=LAB_KEY, secret=LAB_SECRET,
                        region="us-east-1", service="ecr", amz_date=amz_date)
    return sigv4.SignedRequest("POST", "/", "", sigv4.header_map(
        [("Host", "example.amazonaws.com"), *signed.items()]), b"{}")


def test_clock_skew_messages() -> None:
    req = _suite_request()
    _verify(req, SUITE_NOW + 299)
    late = _error(req, SUITE_NOW + 600)
    assert late.message == ("Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z "
                            "(20150830T124600Z - 5 min.)")
    early = _error(req, SUITE_NOW - 600)
    assert early.message == ("Signature not yet current: 20150830T123600Z is still later than 20150830T123100Z "
                             "(20150830T122600Z + 5 min.)")


def test_missing_and_incomplete_authorization() -> None:
    bare = sigv4.SignedRequest("POST", "/", "", {"host": ["h"]}, b"")
    err = _error(bare, SUITE_NOW)
    assert (err.code, err.message) == ("MissingAuthenticationTokenException", "Missing Authentication Token")
    partial = sigv4.SignedRequest("POST", "/", "", {"host": ["h"], "authorization": [
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/us-east-1/ecr/aws4_request"]}, b"")
    err = _error(partial, SUITE_NOW)
    assert err.code == "IncompleteSignatureException"
    assert err.message.startswith("Authorization header requires 'Signature' parameter. "
                                  "Authorization header requires 'SignedHeaders' parameter.")


def test_credential_date_must_match_x_amz_date() -> None:
    req = _suite_request()
    headers = dict(req.headers) | {"x-amz-date": ["20150831T000000Z"]}
    err = _error(sigv4.SignedRequest("POST", "/", "", headers, b"{}"), SUITE_NOW)
    assert err.message == ("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                           "HTTP: '20150830' != '20150831', from '20150831T000000Z'.")


def test_encoded_paths_and_queries_match_botocore() -> None:
    """Non-S3 services encode the path twice and sort re-encoded query pairs: botocore is the oracle."""
    req = AWSRequest("GET", "https://h/a%20b/c%2Fd?z=1&a=x%20y&a=b", headers={})
    SigV4Auth(Credentials(LAB_KEY, LAB_SECRET), "ecr", "us-east-1").add_auth(req)
    p = req.prepare()
    now = dt.datetime.strptime(p.headers["X-Amz-Date"], sigv4.AMZ_DATE_FORMAT).replace(tzinfo=dt.UTC).timestamp()
    signed = sigv4.SignedRequest("GET", "/a%20b/c%2Fd", "z=1&a=x%20y&a=b",
                                 sigv4.header_map([*p.headers.items(), ("Host", "h")]), b"")
    assert _verify(signed, now).access_key == LAB_KEY
