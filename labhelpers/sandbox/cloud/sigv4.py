"""AWS Signature Version 4, computed the way the receiving service does it.

The lab's ECR endpoint checks signatures for real, so a wrong secret key fails exactly where it fails on AWS
(``InvalidSignatureException``) and students see why a request signature proves key possession without
sending the key. The algorithm follows the AWS General Reference ("Create a signed AWS API request"): a
canonical request, a string to sign over its hash, and an HMAC-SHA256 chain keyed by the secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SignatureError(Exception):
    """A request AWS would reject before running the operation; ``code`` is the JSON ``__type``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Authorization:
    """The parsed ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""

    access_key: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def parse_authorization(value: str) -> Authorization:
    """Split the header into its parts; missing parts raise ``IncompleteSignatureException`` like AWS."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for piece in rest.split(","):
        k, sep, v = piece.strip().partition("=")
        if sep:
            params[k.strip()] = v.strip()
    missing = [f"Authorization header requires '{k}' parameter."
               for k in ("Credential", "Signature", "SignedHeaders") if k not in params]
    if scheme != ALGORITHM and not missing:
        missing = [f"Unsupported AWS 'algorithm': '{scheme}'."]
    if missing:
        raise SignatureError("IncompleteSignatureException", " ".join(missing) + f" Authorization={value}")
    cred = params["Credential"].split("/")
    if len(cred) != 5:
        raise SignatureError("IncompleteSignatureException",
                             f"Credential should have 5 parts separated by '/'. Authorization={value}")
    return Authorization(cred[0], cred[1], cred[2], cred[3], cred[4],
                         tuple(h for h in params["SignedHeaders"].lower().split(";") if h), params["Signature"])


# ------------------------------------------------------------------------------------ canonical request


def _aws_quote(text: str, safe: str = "-_.~") -> str:
    return quote(text, safe=safe)


def canonical_uri(raw_path: str) -> str:
    """Non-S3 services encode the (already percent-encoded) path once more, keeping ``/``."""
    return _aws_quote(raw_path or "/", safe="/-_.~")


def canonical_query(raw_query: str) -> str:
    """Decode then re-encode every key and value, sort by key then value, join with ``&``."""
    pairs = []
    for piece in raw_query.split("&") if raw_query else []:
        k, _, v = piece.partition("=")
        pairs.append((_aws_quote(unquote(k.replace("+", " "))), _aws_quote(unquote(v.replace("+", " ")))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _trim_all(value: str) -> str:
    return " ".join(value.split())


def canonical_headers(headers: Mapping[str, Iterable[str]], signed: Iterable[str]) -> str:
    """``name:value\\n`` for each signed header (lower-cased, sorted); repeated headers join with commas."""
    lines = []
    for name in sorted(signed):
        values = headers.get(name, ())
        lines.append(f"{name}:{','.join(_trim_all(v) for v in values)}\n")
    return "".join(lines)


def canonical_request(method: str, raw_path: str, raw_query: str, headers: Mapping[str, Iterable[str]],
                      signed_headers: Iterable[str], payload_hash: str) -> str:
    signed = sorted(signed_headers)
    return "\n".join([method.upper(), canonical_uri(raw_path), canonical_query(raw_query),
                      canonical_headers(headers, signed), ";".join(signed), payload_hash])


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, date: str, region: str, service: str, to_sign: str) -> str:
    return hmac.new(signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256).hexdigest()


def header_map(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group raw ``(name, value)`` pairs by lower-cased name, keeping order (what canonicalisation needs)."""
    out: dict[str, list[str]] = {}
    for k, v in items:
        out.setdefault(k.lower(), []).append(v)
    return out


# ---------------------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class SignedRequest:
    """Everything of an HTTP request that SigV4 covers."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, list[str]]  # lower-cased names, see :func:`header_map`
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def _parse_amz_date(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def check_time(amz_date: str, now: float, skew: float = 300.0) -> None:
    """AWS refuses signatures more than 5 minutes away from its own (wall) clock, with these messages."""
    when = _parse_amz_date(amz_date)
    assert when is not None
    current = dt.datetime.fromtimestamp(int(now), dt.UTC)
    limit = dt.timedelta(seconds=skew)
    minutes = int(skew // 60)
    fmt = AMZ_DATE_FORMAT
    if when < current - limit:
        raise SignatureError("InvalidSignatureException",
                             f"Signature expired: {when.strftime(fmt)} is now earlier than "
                             f"{(current - limit).strftime(fmt)} ({current.strftime(fmt)} - {minutes} min.)")
    if when > current + limit:
        raise SignatureError("InvalidSignatureException",
                             f"Signature not yet current: {when.strftime(fmt)} is still later than "
                             f"{(current + limit).strftime(fmt)} ({current.strftime(fmt)} + {minutes} min.)")


def verify(request: SignedRequest, secrets: Mapping[str, str], *, region: str, service: str,
           now: float) -> Authorization:
    """Return the verified authorization, or raise :class:`SignatureError` with AWS's code and message.

    ``secrets`` maps access key IDs to secret keys; ``now`` is wall-clock time (clients sign with theirs).
    """
    value = request.header("authorization")
    if not value:
        raise SignatureError("MissingAuthenticationTokenException", "Missing Authentication Token")
    auth = parse_authorization(value)
    amz_date = request.header("x-amz-date")
    if amz_date is None:
        raise SignatureError("IncompleteSignatureException",
                             "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                             f"header. Authorization={value}")
    if _parse_amz_date(amz_date) is None:
        raise SignatureError("IncompleteSignatureException",
                             f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See "
                             "http://en.wikipedia.org/wiki/ISO_8601")
    if auth.date != amz_date[:8]:
        raise SignatureError("InvalidSignatureException",
                             "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                             f"from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.")
    if auth.access_key not in secrets:
        raise SignatureError("UnrecognizedClientException", "The security token included in the request is invalid.")
    if request.header("x-amz-security-token") is not None:
        # The lab's keys are long-term IAM user keys; a session token belongs to credentials it never issued.
        raise SignatureError("UnrecognizedClientException", "The security token included in the request is invalid.")
    if auth.region != region:
        raise SignatureError("InvalidSignatureException",
                             f"Credential should be scoped to a valid region, not '{auth.region}'. ")
    if auth.service != service:
        raise SignatureError("InvalidSignatureException",
                             f"Credential should be scoped to correct service: '{service}'. ")
    if auth.terminator != TERMINATOR:
        raise SignatureError("InvalidSignatureException",
                             f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not "
                             f"'{auth.terminator}'. ")
    if "host" not in auth.signed_headers:
        raise SignatureError("InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    check_time(amz_date, now)
    payload_hash = request.header("x-amz-content-sha256") or hashlib.sha256(request.body).hexdigest()
    canonical = canonical_request(request.method, request.raw_path, request.raw_query, request.headers,
                                  auth.signed_headers, payload_hash)
    expected = signature(secrets[auth.access_key], auth.date, auth.region, auth.service,
                         string_to_sign(amz_date, auth.scope, canonical))
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError("InvalidSignatureException",
                             "The request signature we calculated does not match the signature you provided. "
                             "Check your AWS Secret Access Key and signing method. Consult the service "
                             "documentation for details.")
    return auth


def sign(method: str, host: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes, *,
         access_key: str, secret: str, region: str, service: str, amz_date: str) -> dict[str, str]:
    """Client side, for tests and notebooks: the headers to add (``X-Amz-Date``, ``Authorization``)."""
    all_headers = {k.lower(): [v] for k, v in headers.items()}
    all_headers["host"] = [host]
    all_headers["x-amz-date"] = [amz_date]
    signed = sorted(all_headers)
    canonical = canonical_request(method, raw_path, raw_query, all_headers, signed,
                                  hashlib.sha256(body).hexdigest())
    scope = f"{amz_date[:8]}/{region}/{service}/{TERMINATOR}"
    sig = signature(secret, amz_date[:8], region, service, string_to_sign(amz_date, scope, canonical))
    return {"X-Amz-Date": amz_date,
            "Authorization": f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, "
                             f"Signature={sig}"}
