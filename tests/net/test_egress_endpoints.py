"""The S3 endpoint, the STS endpoint and a proxy from the environment follow the same egress policy
as Jira hosts: the name is resolved once, every address checked, and the connection goes to the
checked address (issue 23, Secrets: "host names are checked, not the addresses they resolve to").

Names resolve through a resolver the test injects (no /etc/hosts edit, no DNS server), as in
tests/net/test_egress.py: an innocent-looking name whose answer is loopback or private stands for
a hostile or rebinding DNS answer.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from tests.net.fake_dns import fake_resolver
from tests.plugins.s3 import S3Server

from jiradrift.jira.errors import OAuthError
from jiradrift.jira.oauth import refresh_access_token
from jiradrift.net.egress import PROXY, AddressPolicy
from jiradrift.net.errors import refusal_of
from jiradrift.net.transport import outbound_client
from jiradrift.store.s3client import S3Client, S3Config, S3EndpointRefused
from jiradrift.store.sigv4 import Credentials
from jiradrift.store.webidentity import WebIdentityConfig, WebIdentityError

S3_NAME = "s3.egress.test"
STS_NAME = "sts.egress.test"
PROXY_NAME = "proxy.egress.test"


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def test_an_s3_endpoint_resolving_to_loopback_is_refused_naming_the_field(
    s3_server: S3Server, s3_bucket: str, no_proxy_env: pytest.MonkeyPatch
) -> None:
    port = urlsplit(s3_server.endpoint).port
    config = S3Config(endpoint=f"http://{S3_NAME}:{port}", bucket=s3_bucket, path_style=True)
    asked, resolve = fake_resolver({S3_NAME: ["127.0.0.1"]})
    async with S3Client.connect(config, s3_server.credentials, resolve=resolve) as refused:
        with pytest.raises(S3EndpointRefused) as caught:
            await refused.create_bucket()
    message = str(caught.value)
    assert "--s3-endpoint" in message and "store.s3.endpoint" in message, message
    assert "127.0.0.1, a loopback address" in message and "allowedNetworks" in message, message
    assert asked == [S3_NAME]  # refused once, not retried

    # The admin allows the network: the same name reaches the server at the address that was checked.
    allowed = AddressPolicy.parse("127.0.0.1/32")
    async with S3Client.connect(config, s3_server.credentials, policy=allowed, resolve=resolve) as s3:
        await s3.create_bucket()
        await s3.put("k", b"v")
        got = await s3.get("k")
    assert got is not None and got[0] == b"v"
    assert set(asked) == {S3_NAME}


async def test_an_sts_endpoint_resolving_to_a_private_address_is_refused_naming_the_variable(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, no_proxy_env: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("projected-token\n")
    identity = WebIdentityConfig(
        token_file=token, role_arn="arn:aws:iam::123456789012:role/r", sts_endpoint=f"https://{STS_NAME}"
    )
    asked, resolve = fake_resolver({STS_NAME: ["10.0.0.9"]})
    # the S3 endpoint is an IP literal (no lookup): the exchange at STS is what is refused
    async with S3Client.connect(s3_server.config(s3_bucket), identity, resolve=resolve) as s3:
        with pytest.raises(WebIdentityError) as caught:
            await s3.head("k")
    message = str(caught.value)
    assert "AWS_ENDPOINT_URL_STS" in message and "10.0.0.9, a private address" in message, message
    assert not caught.value.transient and asked == [STS_NAME]


async def test_a_proxy_from_the_environment_is_checked_by_address_before_connecting(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY"):
        no_proxy_env.setenv(name, f"http://{PROXY_NAME}:3128")
    asked, resolve = fake_resolver({PROXY_NAME: ["10.20.0.5"]})

    # the one outbound client (the token endpoint's, the job's), and the S3 store's
    async with outbound_client(resolve=resolve) as http:
        with pytest.raises(
            httpx.ConnectError, match=r"the proxy \(HTTPS_PROXY.*10\.20\.0\.5, a private address"
        ) as raw:
            await http.get("https://auth.atlassian.com/oauth/token")
        with pytest.raises(OAuthError, match=r"the proxy \(HTTPS_PROXY.*10\.20\.0\.5, a private address"):
            await refresh_access_token(
                client_id="c",
                client_secret="s",
                refresh_token="r1",
                token_url="https://auth.atlassian.com/oauth/token",
                http=http,
            )
    refusal = refusal_of(raw.value)
    assert refusal is not None and refusal.what == PROXY
    config = S3Config(endpoint="https://s3.eu-west-1.amazonaws.com", bucket="b", region="eu-west-1")
    async with S3Client.connect(config, Credentials("AKIDEXAMPLE", "secret"), resolve=resolve) as s3:
        with pytest.raises(S3EndpointRefused, match=r"the proxy \(HTTPS_PROXY.*10\.20\.0\.5, a private address"):
            await s3.head("k")
    assert set(asked) == {PROXY_NAME}  # the targets' names are never looked up here: the proxy does that
