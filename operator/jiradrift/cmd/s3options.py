"""S3 store settings shared by ``jiradrift run --store s3`` and the commands that read snapshots.

Every option also reads an environment variable (``JIRADRIFT_S3_*``), so the chart sets them once
for the operator, and a person sets them once in a shell for ``drift list`` and ``diff``.
Credentials are never options: they come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or from the
pod's cloud identity, AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN
(see :func:`jiradrift.store.credentials.credentials_from_env`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import typer

from jiradrift.model.store_errors import StoreError
from jiradrift.store.credentials import check_credentials_env
from jiradrift.store.s3client import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, S3Config

S3_ENDPOINT = typer.Option(
    "",
    "--s3-endpoint",
    envvar="JIRADRIFT_S3_ENDPOINT",
    help="S3 endpoint URL (default: https://s3.REGION.amazonaws.com).",
)
S3_BUCKET = typer.Option("", "--s3-bucket", envvar="JIRADRIFT_S3_BUCKET", help="S3 bucket of the store.")
S3_REGION = typer.Option("us-east-1", "--s3-region", envvar="JIRADRIFT_S3_REGION", help="S3 region (signing).")
S3_PREFIX = typer.Option(
    "jiradrift/",
    "--s3-prefix",
    envvar="JIRADRIFT_S3_PREFIX",
    help="Key prefix of the store in the bucket; the operator keeps each namespace under PREFIX/NAMESPACE/.",
)
S3_PATH_STYLE = typer.Option(
    False,
    "--s3-path-style/--s3-virtual-hosted",
    envvar="JIRADRIFT_S3_PATH_STYLE",
    help="Address ENDPOINT/BUCKET/KEY (most self-hosted servers) instead of BUCKET.ENDPOINT/KEY (AWS).",
)
S3_TIMEOUT = typer.Option(
    DEFAULT_TIMEOUT, "--s3-timeout", min=0.1, envvar="JIRADRIFT_S3_TIMEOUT", help="Seconds per S3 request."
)


def s3_config(
    endpoint: str,
    bucket: str,
    region: str,
    prefix: str,
    path_style: bool,
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> S3Config:
    """The store's settings, or a typer.BadParameter naming the option to fix."""
    if not bucket:
        raise typer.BadParameter("the S3 store needs a bucket", param_hint="--s3-bucket / JIRADRIFT_S3_BUCKET")
    try:
        return S3Config(
            endpoint=endpoint or f"https://s3.{region}.amazonaws.com",
            bucket=bucket,
            region=region,
            prefix=prefix.strip("/") + "/" if prefix.strip("/") else "",
            path_style=path_style,
            timeout_seconds=timeout,
            max_response_bytes=max_response_bytes,
        )
    except StoreError as exc:
        raise typer.BadParameter(str(exc), param_hint="--s3-endpoint / --s3-bucket") from None


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET[/PREFIX]`` -> (bucket, prefix)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise StoreError(f"{url!r} is not an s3://BUCKET/PREFIX URL")
    return parts.netloc, parts.path.strip("/")


def check_credentials(region: str = "us-east-1") -> None:
    """Fail at start-up, not at the first capture, when the S3 credentials are missing (or the pod's
    token file is unreadable)."""
    try:
        check_credentials_env(region=region)
    except StoreError as exc:
        raise typer.BadParameter(
            str(exc),
            param_hint="AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN",
        ) from None
