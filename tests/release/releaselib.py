"""Helpers for the release tests: a scratch copy of the repository's release inputs, in a git repo
of its own (tags and commits there never touch the real repository), and running the scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What the release scripts read: the package, the chart, the Dockerfile and the scripts themselves.
INPUTS = ("pyproject.toml", "README.md", "Dockerfile", "operator", "charts", "tools/release", "tools/build-go-tool.sh")


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


def scratch_repo(dest: Path) -> Path:
    """A copy of the release inputs, committed once in a fresh git repository without tags."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in INPUTS:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "scratch")
    return dest


def run(root: Path, script: str, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run tools/release/<script> of ``root``; its stdout, or AssertionError with stderr."""
    path = root / "tools" / "release" / script
    cmd = ["python3", str(path)] if script.endswith(".py") else ["bash", str(path)]
    proc = subprocess.run(
        [*cmd, *args], cwd=root, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout if check else proc.stdout + proc.stderr
