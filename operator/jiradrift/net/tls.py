"""The TLS context every outbound client verifies servers with."""

from __future__ import annotations

import functools
import os
import ssl

import httpx

EXTRA_CA_FILE_ENV = "JIRADRIFT_EXTRA_CA_FILE"


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs milliseconds and a few
    MiB, and an SSLContext is safe to share, so tenants' clients reuse it instead of each loading it.

    ``JIRADRIFT_EXTRA_CA_FILE`` adds a PEM bundle to the default trust store (the chart's
    ``extraCACertificates``): a Jira Data Center site or a TLS-inspecting egress proxy with a private CA."""
    context = httpx.create_ssl_context()
    extra = os.environ.get(EXTRA_CA_FILE_ENV)
    if extra:
        context.load_verify_locations(cafile=extra)
    return context
