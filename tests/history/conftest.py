"""Fixtures: the git servers of tests/plugins/git.py, one of each per session, and a fresh repository per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.plugins.git import HttpsGitServer, SshGitServer

_names = itertools.count()


@pytest.fixture(scope="session")
def git_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("git-repos")


@pytest.fixture(scope="session")
def ssh_git(tmp_path_factory: pytest.TempPathFactory, git_root: Path) -> Iterator[SshGitServer]:
    server = SshGitServer.start(tmp_path_factory.mktemp("sshd"), git_root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_git(tmp_path_factory: pytest.TempPathFactory, git_root: Path) -> Iterator[HttpsGitServer]:
    server = HttpsGitServer.start(tmp_path_factory.mktemp("git-https"), git_root)
    yield server
    server.stop()


@pytest.fixture
def repo_name() -> str:
    return f"history-{next(_names)}.git"
