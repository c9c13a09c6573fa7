"""Where the S3 store's credentials come from: an access key in the environment (a Secret), or the
pod's cloud identity (a projected token exchanged at STS, see :mod:`jiradrift.store.webidentity`).

    source = credentials_from_env(os.environ, region="eu-west-1")   # Credentials | WebIdentityConfig
    provider = provider_for(source, http)                            # what S3Client signs with

Static keys win when both are present, as in the AWS SDKs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

import httpx

from jiradrift.model.store_errors import StoreError
from jiradrift.store.sigv4 import Credentials
from jiradrift.store.webidentity import WebIdentityConfig, WebIdentityCredentials

NO_CREDENTIALS = (
    "the S3 store needs credentials: either an access key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (in a "
    "cluster, from the Secret named by the chart's operator.store.s3.credentialsSecret), or the pod's cloud "
    "identity in AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (on EKS: annotate the operator's ServiceAccount "
    "with eks.amazonaws.com/role-arn through operator.serviceAccount.annotations)"
)


class CredentialsProvider(Protocol):
    """What S3Client asks for the credentials to sign each request with."""

    async def current(self) -> Credentials: ...

    def invalidate(self) -> bool:
        """S3 rejected the session token as expired: True if :meth:`current` will fetch new ones."""
        ...


class StaticCredentials:
    """One access key for the life of the process."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    async def current(self) -> Credentials:
        return self.credentials

    def invalidate(self) -> bool:
        return False


def credentials_from_env(
    environ: Mapping[str, str] | None = None, *, region: str = "us-east-1"
) -> Credentials | WebIdentityConfig:
    """Static keys, or the web-identity settings; a :class:`StoreError` naming both ways when neither is set.
    Reads no file and calls nothing: :func:`check_credentials_env` reads the token file too."""
    env = os.environ if environ is None else environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials.from_env(env)
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("AWS_ROLE_ARN"):
        return WebIdentityConfig.from_env(env, region=region)
    raise StoreError(NO_CREDENTIALS)


def check_credentials_env(environ: Mapping[str, str] | None = None, *, region: str = "us-east-1") -> None:
    """Fail at start-up, not at the first capture: settings present, and a token file readable."""
    source = credentials_from_env(environ, region=region)
    if isinstance(source, WebIdentityConfig):
        source.read_token()


def provider_for(
    source: Credentials | WebIdentityConfig | CredentialsProvider, http: httpx.AsyncClient
) -> CredentialsProvider:
    if isinstance(source, Credentials):
        return StaticCredentials(source)
    if isinstance(source, WebIdentityConfig):
        return WebIdentityCredentials(source, http)
    return source
