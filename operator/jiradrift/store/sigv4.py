"""AWS Signature Version 4 for S3 requests (header-based), and where the credentials come from.

Pure functions: ``sign`` takes the request's parts and a clock value and returns the headers to
add, so the tests check it against AWS's published example signatures (no network, no clock).

    headers = sign("GET", "https://bucket.s3.amazonaws.com/key", {}, EMPTY_SHA256, creds, "eu-west-1", now)
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from jiradrift.model.store_errors import StoreError

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key pair (and a session token for temporary credentials)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """An access key from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN): a Kubernetes
        Secret mapped to env, or a developer's shell. The pod's cloud identity is
        :func:`jiradrift.store.credentials.credentials_from_env`'s other branch."""
        env = os.environ if environ is None else environ
        key_id = env.get("AWS_ACCESS_KEY_ID", "")
        secret = env.get("AWS_SECRET_ACCESS_KEY", "")
        if key_id and secret:
            return cls(key_id, secret, env.get("AWS_SESSION_TOKEN") or None)
        raise StoreError(
            "the S3 store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (in a cluster, from the Secret named by "
            "the chart's operator.store.s3.credentialsSecret)"
        )


def _uri_encode(text: str, *, encode_slash: bool) -> str:
    # RFC 3986 unreserved characters stay as they are; everything else is %XX (uppercase).
    return quote(text, safe="-_.~" if encode_slash else "-_.~/")


def canonical_query(query: Mapping[str, str]) -> str:
    pairs = sorted((_uri_encode(k, encode_slash=True), _uri_encode(v, encode_slash=True)) for k, v in query.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), day)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    credentials: Credentials,
    region: str,
    now: datetime,
    *,
    query: Mapping[str, str] | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """The headers to send: ``headers`` plus host, x-amz-date, x-amz-content-sha256 (and the session
    token), and ``Authorization``. ``url``'s path must already be URI-encoded the way it is sent
    (S3 does not encode it a second time); ``query`` is signed and must be sent as given."""
    parts = urlsplit(url)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    out = {k: v for k, v in headers.items()}
    out["host"] = parts.netloc
    out["x-amz-date"] = stamp
    out["x-amz-content-sha256"] = payload_sha256
    if credentials.session_token:
        out["x-amz-security-token"] = credentials.session_token
    lowered = {k.lower(): " ".join(str(v).split()) for k, v in out.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            parts.path or "/",
            canonical_query(query or {}),
            canonical_headers,
            signed_headers,
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    signature = hmac.new(
        signing_key(credentials.secret_access_key, day, region, service), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    out["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return out
