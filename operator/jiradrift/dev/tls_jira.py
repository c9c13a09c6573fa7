"""The Jira emulator as pods on the dev node reach it: over TLS, as ``https://jira.emulator.test``.

    with tls_emulator(size="small", seed=7) as jira:
        jira.sim.base_url      # https://jira.emulator.test
    with tls_emulators(size="small", seed=7) as (jira, sandbox):
        sandbox.sim.base_url   # https://sandbox.emulator.test:8443, the same site with other ids
        jira.ca_pem            # the test CA, for the chart's extraCACertificates
        jira.ip, jira.host     # the chart's hostAliases entry

The emulator binds port 443 of the node's bridge address, with a certificate for the name from a CA
made for the purpose; the tenant names the site by that name and the chart trusts the CA. Nothing
is loosened in what a JiraTenant may say: it is an ordinary https site that is not on the internet.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key
from jiradrift.dev.node import GATEWAY
from jiradrift.sim.emulator import Emulator, RunningEmulator

JIRA_HOST = "jira.emulator.test"
SANDBOX_HOST = "sandbox.emulator.test"
SANDBOX_PORT = 8443


@dataclass(frozen=True)
class TlsJira:
    sim: RunningEmulator
    ca_pem: str
    url: str
    ip: str
    host: str


def _server_context(ca: _CA, hosts: list[str]) -> ssl.SSLContext:
    key, cert = ca.issue(hosts[0], server=True, sans=hosts)
    with tempfile.TemporaryDirectory(prefix="jira-tls-") as d:
        crt, pem_key = Path(d) / "tls.crt", Path(d) / "tls.key"
        crt.write_bytes(_pem_cert(cert))
        pem_key.write_bytes(_pem_key(key))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(crt, pem_key)
    return context


@contextmanager
def tls_emulator(**emulator_args: Any) -> Iterator[TlsJira]:
    ca = _CA.create("jiradrift-test-jira-ca")
    context = _server_context(ca, [JIRA_HOST])
    url = f"https://{JIRA_HOST}"
    with Emulator(host=GATEWAY, port=443, tls=context, public_url=url, **emulator_args).running() as sim:
        yield TlsJira(sim, _pem_cert(ca.cert).decode(), url, GATEWAY, JIRA_HOST)


@contextmanager
def tls_emulators(**emulator_args: Any) -> Iterator[tuple[TlsJira, TlsJira]]:
    """The site and its sandbox (``variant="sandbox"``: same names, other ids, known differences), one
    CA for both: ``https://jira.emulator.test`` and ``https://sandbox.emulator.test:8443``, on the bridge."""
    ca = _CA.create("jiradrift-test-jira-ca")
    context = _server_context(ca, [JIRA_HOST, SANDBOX_HOST])
    ca_pem = _pem_cert(ca.cert).decode()
    url, sandbox_url = f"https://{JIRA_HOST}", f"https://{SANDBOX_HOST}:{SANDBOX_PORT}"
    production = Emulator(host=GATEWAY, port=443, tls=context, public_url=url, **emulator_args)
    sandbox = Emulator(
        host=GATEWAY, port=SANDBOX_PORT, tls=context, public_url=sandbox_url, variant="sandbox", **emulator_args
    )
    with production.running() as sim, sandbox.running() as sandbox_sim:
        yield (
            TlsJira(sim, ca_pem, url, GATEWAY, JIRA_HOST),
            TlsJira(sandbox_sim, ca_pem, sandbox_url, GATEWAY, SANDBOX_HOST),
        )


def chart_values(
    jira: TlsJira, image_ref: str, ca_config_map: str = "jira-ca", also: tuple[TlsJira, ...] = ()
) -> list[str]:
    """``helm install`` arguments that run the chart's pods from a locally loaded image and let them
    reach ``jira`` (and the sites ``also`` on the same address, such as its sandbox): its host allowed,
    its name resolved (hostAliases), its CA trusted."""
    repository, tag = image_ref.rsplit(":", 1)
    hosts = [jira.host, *(site.host for site in also)]
    return [
        *("--set", f"image.repository={repository}"),
        *("--set", f"image.tag={tag}"),
        *("--set", "image.pullPolicy=Never"),  # no registry: the image is in the node's containerd
        *("--set", f"extraCACertificates.configMap={ca_config_map}"),
        *("--set", f"hostAliases[0].ip={jira.ip}"),
        *(arg for i, host in enumerate(hosts) for arg in ("--set", f"hostAliases[0].hostnames[{i}]={host}")),
        *("--set", f"allowedHosts={{{','.join(hosts)}}}"),
        *("--set", f"allowedNetworks={{{jira.ip}/32}}"),  # the name resolves to the node bridge, a private address
    ]
