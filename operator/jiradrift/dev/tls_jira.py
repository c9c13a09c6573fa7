"""The Jira emulator as pods on the dev node reach it: over TLS, as ``https://jira.emulator.test``.

    with tls_emulator(size="small", seed=7) as jira:
        jira.sim.base_url      # https://jira.emulator.test
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


@dataclass(frozen=True)
class TlsJira:
    sim: RunningEmulator
    ca_pem: str
    url: str
    ip: str
    host: str


@contextmanager
def tls_emulator(**emulator_args: Any) -> Iterator[TlsJira]:
    ca = _CA.create("jiradrift-test-jira-ca")
    key, cert = ca.issue(JIRA_HOST, server=True, sans=[JIRA_HOST])
    with tempfile.TemporaryDirectory(prefix="jira-tls-") as d:
        crt, pem_key = Path(d) / "tls.crt", Path(d) / "tls.key"
        crt.write_bytes(_pem_cert(cert))
        pem_key.write_bytes(_pem_key(key))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(crt, pem_key)
    url = f"https://{JIRA_HOST}"
    with Emulator(host=GATEWAY, port=443, tls=context, public_url=url, **emulator_args).running() as sim:
        yield TlsJira(sim, _pem_cert(ca.cert).decode(), url, GATEWAY, JIRA_HOST)


def chart_values(jira: TlsJira, image_ref: str, ca_config_map: str = "jira-ca") -> list[str]:
    """``helm install`` arguments that run the chart's pods from a locally loaded image and let them
    reach ``jira``: its host allowed, its name resolved (hostAliases), its CA trusted."""
    repository, tag = image_ref.rsplit(":", 1)
    return [
        *("--set", f"image.repository={repository}"),
        *("--set", f"image.tag={tag}"),
        *("--set", "image.pullPolicy=Never"),  # no registry: the image is in the node's containerd
        *("--set", f"extraCACertificates.configMap={ca_config_map}"),
        *("--set", f"hostAliases[0].ip={jira.ip}"),
        *("--set", f"hostAliases[0].hostnames[0]={jira.host}"),
        *("--set", f"allowedHosts={{{jira.host}}}"),
        *("--set", f"allowedNetworks={{{jira.ip}/32}}"),  # the name resolves to the node bridge, a private address
    ]
