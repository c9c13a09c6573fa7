"""Fixtures for the release tests: the tools the release scripts run, as the scripts find them
(JIRADRIFT_<TOOL>_BIN), and helm's state in a scratch directory (never the user's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.plugins.registry import HOST_ENV, go_tool

from jiradrift.dev.controlplane import find_binaries


@pytest.fixture(scope="session")
def tool_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("release-home")
    return {
        "JIRADRIFT_HELM_BIN": os.environ.get("JIRADRIFT_HELM_BIN") or str(find_binaries() / "helm"),
        "HELM_CACHE_HOME": str(home / "helm-cache"),
        "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"),
        # cosign keeps its trust material and docker its credentials here, not in the user's home
        "TUF_ROOT": str(home / "sigstore"),
        "DOCKER_CONFIG": str(home / "docker"),
    }


@pytest.fixture(scope="session")
def signer_env(tool_env: dict[str, str]) -> dict[str, str]:
    """tool_env plus cosign and crane (built from Go modules on first use)."""
    return {
        **tool_env,
        # Signing and verifying never leave the machine: a tool that tries (cosign's TUF refresh, say)
        # meets a closed port on loopback and fails loudly instead of looking a public host up.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": ",".join(["127.0.0.1", "localhost", "::1", os.environ.get(HOST_ENV, "127.0.0.1")]),
        "JIRADRIFT_COSIGN_BIN": str(go_tool("cosign")),
        "JIRADRIFT_CRANE_BIN": str(go_tool("crane")),
    }


def helm_binary(env: dict[str, str]) -> Path:
    return Path(env["JIRADRIFT_HELM_BIN"])
