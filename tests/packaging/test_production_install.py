"""The wheel installed without extras: production dependencies only, and the production commands work.

The wheel is built from the tree (``pip wheel --no-deps``) and installed, without its dependencies,
into a fresh virtualenv. Its dependencies come from this venv, but only those the wheel declares
without an extra (and theirs, transitively): each is linked into a directory the fresh venv puts on
its path. So the synchronous ``kubernetes`` client, which only the ``dev`` extra brings, is not
importable there, exactly as after ``pip install jira-drift-operator``; and no network is needed.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

import jiradrift

REPO = Path(__file__).resolve().parents[2]


def _requirements(dist: md.Distribution, extras: frozenset[str]) -> list[Requirement]:
    found = []
    for line in dist.requires or []:
        req = Requirement(line)
        env = [{"extra": e} for e in extras] or [{"extra": ""}]
        if req.marker is None or any(req.marker.evaluate(e) for e in env):
            found.append(req)
    return found


def _closure(requires: list[Requirement]) -> dict[str, md.Distribution]:
    """The installed distributions that ``requires`` needs, transitively (extras followed)."""
    seen: dict[str, md.Distribution] = {}
    todo = [(req.name, frozenset(req.extras)) for req in requires]
    while todo:
        name, extras = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen and not extras:
            continue
        dist = md.distribution(name)
        seen[key] = dist
        todo += [(req.name, frozenset(req.extras)) for req in _requirements(dist, extras)]
    return seen


def _link_top_levels(dists: dict[str, md.Distribution], into: Path) -> None:
    """Symlink each distribution's top-level packages, modules and metadata directory into ``into``."""
    into.mkdir()
    for dist in dists.values():
        for file in dist.files or []:
            top = file.parts[0]
            if top.endswith(".pth") or top == ".." or top == "__pycache__" or (into / top).exists():
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists():
                (into / top).symlink_to(source)


def test_the_wheel_without_extras_runs_the_production_commands(tmp_path: Path) -> None:
    # A copy of what the wheel is built from (as tools/release/wheel.sh does): no build/ or egg-info
    # of an editable install leaks in, and none is left in the tree.
    source = tmp_path / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "operator", source / "operator", ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source), "-w", str(wheels)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (wheel,) = wheels.glob(f"jira_drift_operator-{jiradrift.__version__}-*.whl")
    with zipfile.ZipFile(wheel) as z:
        metadata = md.PathDistribution(zipfile.Path(z, f"jira_drift_operator-{jiradrift.__version__}.dist-info/"))
        production = _requirements(metadata, frozenset())
        dev_only = {Requirement(r).name for r in metadata.requires or []} - {r.name for r in production}
    assert "kubernetes" not in {r.name for r in production}, "the sync client is a production dependency again"
    assert "kubernetes" in dev_only and "kubernetes_asyncio" in {r.name for r in production}

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    py = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    deps = tmp_path / "deps"
    _link_top_levels(_closure(production), deps)
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "production-deps.pth").write_text(f"{deps}\n")
    assert sysconfig.get_path("purelib") != site
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def jiradrift_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "jiradrift"), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            check=False,
        )

    where = subprocess.run(
        [str(py), "-c", "import jiradrift, importlib.util as u; print(jiradrift.__file__, u.find_spec('kubernetes'))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout.split()
    assert where[0].startswith(site), f"jiradrift imported from {where[0]}, not the wheel"
    assert where[1] == "None", "the sync kubernetes client is importable in a production install"

    for args in (["run", "--help"], ["refresh-tokens", "--help"], ["--help"]):
        done = jiradrift_cli(*args)
        assert done.returncode == 0, f"jiradrift {' '.join(args)}: {done.stdout}{done.stderr}"
    dev = jiradrift_cli("dev", "cluster")
    assert dev.returncode == 2, dev.stdout + dev.stderr
    assert "pip install 'jira-drift-operator[dev]'" in dev.stderr and "Traceback" not in dev.stderr
