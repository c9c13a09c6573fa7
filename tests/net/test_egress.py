"""Allowed names are checked by the addresses they resolve to, and the connection goes to the checked
address (issue 23, Secrets: "host names are checked, not the addresses they resolve to").

The names below resolve through a resolver the test injects (no /etc/hosts edit, no DNS server): an
allowed-looking name whose answer is 127.0.0.1 stands for a hostile or rebinding DNS answer that
points at the metadata service or a cluster Service. The emulator listens on that address and
records every request it receives, so "refused before connecting" is checked where it matters.
"""

from __future__ import annotations

import random
import socket
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.net.fake_dns import fake_resolver

from jiradrift.clock import FakeClock
from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.errors import AddressRefused, JiraError, OAuthError
from jiradrift.jira.oauth import request_client_credentials_token
from jiradrift.jira.token_source import StaticAuthorization
from jiradrift.net import errors as net_errors
from jiradrift.net.egress import AddressPolicy
from jiradrift.net.transport import AiohttpTransport, outbound_client
from jiradrift.sim.emulator import Emulator, RunningEmulator

NAME = "jira.egress.test"
FAST = ClientSettings(max_concurrency=2, requests_per_second=10_000, timeout=30.0)


@dataclass
class TlsSite:
    sim: RunningEmulator
    port: int
    verify: ssl.SSLContext


@pytest.fixture(scope="module")
def tls_site() -> Iterator[TlsSite]:
    """The emulator over TLS on 127.0.0.1, with a certificate for ``NAME`` only (not for the address)."""
    ca = _CA.create("jiradrift-egress-test-ca")
    key, cert = ca.issue(NAME, server=True, sans=[NAME])
    with tempfile.TemporaryDirectory(prefix="egress-tls-") as d:
        crt, pem_key, ca_file = Path(d) / "tls.crt", Path(d) / "tls.key", Path(d) / "ca.crt"
        crt.write_bytes(_pem_cert(cert))
        pem_key.write_bytes(_pem_key(key))
        ca_file.write_bytes(_pem_cert(ca.cert))
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(crt, pem_key)
        verify = ssl.create_default_context(cafile=str(ca_file))
    with socket.socket() as s:  # a free port, so that the site's own URL names it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Emulator(size="small", seed=3, port=port, tls=server, public_url=f"https://{NAME}:{port}").running() as sim:
        yield TlsSite(sim, port, verify)


def _client(site: TlsSite, transport: AiohttpTransport) -> JiraClient:
    c = site.sim.credentials
    return JiraClient(
        api_base=f"https://{NAME}:{site.port}/rest/api/3",
        token_source=StaticAuthorization(ApiTokenAuth(c.email, c.api_token).header()),
        settings=FAST,
        clock=FakeClock(),
        transport=transport,
        rng=random.Random(1),
    )


async def test_a_name_resolving_to_loopback_is_refused_before_connecting(tls_site: TlsSite) -> None:
    asked, resolve = fake_resolver({NAME: ["127.0.0.1"]})
    before = len(tls_site.sim.requests)
    async with _client(tls_site, AiohttpTransport(verify=tls_site.verify, resolve=resolve)) as jira:
        with pytest.raises(AddressRefused) as refused:
            await jira.get_json("/serverInfo")
    assert asked == [NAME]  # one lookup: a refusal is not retried
    assert len(tls_site.sim.requests) == before  # nothing reached the address
    assert isinstance(refused.value, JiraError)  # the Jira client's refusal, handled like any failure of the site
    message = str(refused.value)
    assert "127.0.0.1, a loopback address" in message and "allowedNetworks" in message, message


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (["169.254.169.254"], "link-local"),
        (["10.0.0.7"], "private"),
        (["100.64.0.1"], "reserved or not publicly routable"),
        (["93.184.215.14", "192.168.1.1"], "private"),  # one bad address refuses the whole answer
        (["fd00::1"], "private"),
        (["::ffff:169.254.169.254"], "link-local"),  # IPv4-mapped: the IPv4 address decides
    ],
)
def test_every_resolved_address_must_be_public_unless_its_network_is_allowed(answer: list[str], kind: str) -> None:
    policy = AddressPolicy()
    with pytest.raises(net_errors.AddressRefused, match=kind):
        policy.check(NAME, answer)
    assert policy.check(NAME, ["93.184.215.14"]) == ["93.184.215.14"]
    if not answer[0].startswith("::ffff:"):
        networks = AddressPolicy.parse(",".join(f"{a}/32" if ":" not in a else f"{a}/128" for a in answer))
        assert networks.check(NAME, answer) == answer
    assert AddressPolicy().check("localhost", ["127.0.0.1"]) == ["127.0.0.1"]  # named exactly by the allowlist
    with pytest.raises(ValueError, match="not a CIDR"):
        AddressPolicy.parse("10.0.0.0/33")


async def test_an_allowed_network_reaches_the_checked_address_over_tls_for_the_name(tls_site: TlsSite) -> None:
    asked, resolve = fake_resolver({NAME: ["127.0.0.1"]})
    policy = AddressPolicy.parse("127.0.0.0/8")
    transport = AiohttpTransport(verify=tls_site.verify, policy=policy, resolve=resolve)
    async with _client(tls_site, transport) as jira:
        info = await jira.get_json("/serverInfo")
    assert info["baseUrl"] == f"https://{NAME}:{tls_site.port}"
    assert asked == [NAME]
    # the certificate is verified for the name: an address the certificate does not name fails TLS
    asked, resolve = fake_resolver({"other.egress.test": ["127.0.0.1"]})
    c = tls_site.sim.credentials
    other = JiraClient(
        api_base=f"https://other.egress.test:{tls_site.port}/rest/api/3",
        token_source=StaticAuthorization(ApiTokenAuth(c.email, c.api_token).header()),
        settings=FAST,
        clock=FakeClock(),
        transport=AiohttpTransport(verify=tls_site.verify, policy=policy, resolve=resolve),
    )
    async with other:
        with pytest.raises(Exception, match=r"(?i)certificate|hostname"):
            await other.get_json("/serverInfo")


async def test_the_token_endpoint_client_checks_addresses_too(tls_site: TlsSite) -> None:
    """The token endpoint's client (as notifications', S3's and STS's) checks addresses in the one adapter."""
    c = tls_site.sim.credentials
    token_url = f"https://{NAME}:{tls_site.port}/oauth/token"
    asked, resolve = fake_resolver({NAME: ["127.0.0.1"]})
    before = len(tls_site.sim.requests)
    async with outbound_client(verify=tls_site.verify, resolve=resolve) as http:
        with pytest.raises(OAuthError, match=r"127\.0\.0\.1, a loopback address"):
            await request_client_credentials_token(
                client_id=c.sa_client_id, client_secret=c.sa_client_secret, token_url=token_url, http=http
            )
    assert len(tls_site.sim.requests) == before
    allowed = AddressPolicy.parse("127.0.0.1/32")
    async with outbound_client(verify=tls_site.verify, policy=allowed, resolve=resolve) as http:
        tokens = await request_client_credentials_token(
            client_id=c.sa_client_id, client_secret=c.sa_client_secret, token_url=token_url, http=http
        )
    assert tokens.access_token and asked == [NAME, NAME]
