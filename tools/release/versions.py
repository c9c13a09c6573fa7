#!/usr/bin/env python3
"""The one version of a release, and every place that carries it. Standard library only: it runs
before any virtualenv exists (a fresh CI clone, the release workflow).

    versions.py current               # the version to release: the tag at HEAD (v1.2.3 -> 1.2.3),
                                      # else the version in the tree (a development build)
    versions.py stamp 1.2.3 [--digest sha256:...]
                                      # write it everywhere (and pin the chart's default image)
    versions.py check                 # every place agrees with jiradrift.__version__
    versions.py chart-bump [--base REF]
                                      # the chart changed since REF (default: the last release tag)
                                      # only together with a higher chart version

The places: ``jiradrift.__version__`` (the wheel's version through pyproject.toml's dynamic version,
and ``jiradrift --version``), the chart's ``version`` and ``appVersion`` (and so the default image
tag), and the Dockerfile's ``ARG VERSION`` (the image's org.opencontainers.image.version label).

A version is SemVer ``MAJOR.MINOR.PATCH`` with an optional ``-rc.N``; the wheel spells a release
candidate the PEP 440 way (``1.2.3rc1``), everything else spells it as given.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = "charts/jira-drift-operator"
INIT = "operator/jiradrift/__init__.py"
CHART = f"{CHART_DIR}/Chart.yaml"
VALUES = f"{CHART_DIR}/values.yaml"
DOCKERFILE = "Dockerfile"
TAG_GLOB = "v[0-9]*"

VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-rc\.(\d+))?$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")

# Each place: file, the pattern of its line (group 1 is the version), and how the line is written.
PLACES: list[tuple[str, re.Pattern[str], str]] = [
    (INIT, re.compile(r'^__version__ = "([^"]*)"$', re.M), '__version__ = "{v}"'),
    (CHART, re.compile(r"^version: (\S+)$", re.M), "version: {v}"),
    (CHART, re.compile(r'^appVersion: "([^"]*)"$', re.M), 'appVersion: "{v}"'),
    (DOCKERFILE, re.compile(r"^ARG VERSION=(\S+)$", re.M), "ARG VERSION={v}"),
    (
        CHART,
        re.compile(r"^      image: ghcr\.io/jiradrift/jira-drift-operator:(\S+)$", re.M),
        "      image: ghcr.io/jiradrift/jira-drift-operator:{v}",
    ),
]
# The chart's default image digest: the only `digest:` line directly under the top-level `image:` key.
IMAGE_DIGEST_RE = re.compile(r'^(image:\n(?:  .*\n|\s*\n)*?  digest: )"[^"]*"$', re.M)


class VersionError(Exception):
    """A version, a tag or a file that does not say what the release needs; the message says the fix."""


def parse(version: str) -> tuple[int, int, int, int]:
    """SemVer ordering key; a release candidate sorts before its release."""
    m = VERSION_RE.match(version)
    if not m:
        raise VersionError(f"{version!r} is not a release version: use MAJOR.MINOR.PATCH or MAJOR.MINOR.PATCH-rc.N")
    major, minor, patch, rc = m.groups()
    return int(major), int(minor), int(patch), int(rc) if rc is not None else sys.maxsize


def pep440(version: str) -> str:
    """The wheel's spelling of ``version``."""
    parse(version)
    return version.replace("-rc.", "rc")


def git(*args: str, root: Path = ROOT) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise VersionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def in_tree(root: Path = ROOT) -> str:
    """``jiradrift.__version__`` as the tree has it."""
    m = PLACES[0][1].search((root / INIT).read_text())
    if not m:
        raise VersionError(f"{INIT} has no line __version__ = \"X.Y.Z\"")
    return m.group(1)


def tag_at_head(root: Path = ROOT) -> str | None:
    """The release tag on HEAD (the newest by version when there are several), or None."""
    tags = [t for t in git("tag", "--points-at", "HEAD", "--list", TAG_GLOB, root=root).split() if t]
    versions = [t[1:] for t in tags if VERSION_RE.match(t[1:])]
    return max(versions, key=parse) if versions else None


def current(root: Path = ROOT) -> str:
    """The version to build: the release tag at HEAD, else the tree's own version."""
    return tag_at_head(root) or in_tree(root)


def last_tag(root: Path = ROOT) -> str | None:
    """The newest release tag reachable from HEAD, or None (a clone without tags)."""
    proc = subprocess.run(
        ["git", "describe", "--tags", "--abbrev=0", "--match", TAG_GLOB, "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def found(root: Path = ROOT) -> dict[str, str]:
    """What each place says, keyed "file: line pattern"."""
    out = {}
    for path, pattern, line in PLACES:
        m = pattern.search((root / path).read_text())
        if not m:
            raise VersionError(f"{path} has no line like {line.format(v='X.Y.Z')!r}")
        out[f"{path}: {line.format(v='…')}"] = m.group(1)
    return out


def stamp(version: str, digest: str | None = None, root: Path = ROOT) -> list[str]:
    """Write ``version`` into every place (and ``digest`` as the chart's default image); the files changed."""
    parse(version)
    changed = []
    for path, pattern, line in PLACES:
        file = root / path
        text = file.read_text()
        new, n = pattern.subn(line.format(v=version), text, count=1)
        if n != 1:
            raise VersionError(f"{path} has no line like {line.format(v='X.Y.Z')!r} to stamp")
        if new != text:
            file.write_text(new)
            changed.append(path)
    if digest is not None:
        if not DIGEST_RE.match(digest):
            raise VersionError(f"--digest {digest!r} is not sha256:<64 hex digits> (the pushed image's digest)")
        file = root / VALUES
        text = file.read_text()
        new, n = IMAGE_DIGEST_RE.subn(lambda m: f'{m.group(1)}"{digest}"', text, count=1)
        if n != 1:
            raise VersionError(f"{VALUES} has no image.digest line to pin")
        if new != text:
            file.write_text(new)
            changed.append(VALUES)
    return sorted(set(changed))


def check(root: Path = ROOT) -> None:
    """Every place says ``jiradrift.__version__``, a release version."""
    places = found(root)
    want = in_tree(root)
    parse(want)
    wrong = {where: v for where, v in places.items() if v != want}
    if wrong:
        lines = "\n".join(f"  {where}: {v}" for where, v in wrong.items())
        raise VersionError(
            f"version places disagree with jiradrift.__version__ {want}:\n{lines}\n"
            f"fix: tools/release/stamp.sh {want} (or the version you mean)"
        )


def chart_bump(base: str | None, root: Path = ROOT) -> str:
    """Fails when the chart changed since ``base`` (default: the last release tag) while its version
    did not rise; a clone without release tags has published nothing, so anything goes."""
    if base is None:
        base = last_tag(root)
        if base is None:
            return "chart-bump: no release tag (v*) reachable from HEAD: nothing published to compare against"
    git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", root=root)
    diff = git("diff", "--name-only", base, "--", CHART_DIR, root=root)
    if not diff:
        return f"chart-bump: the chart is unchanged since {base}"
    proc = subprocess.run(["git", "show", f"{base}:{CHART}"], cwd=root, capture_output=True, text=True, check=False)
    m = PLACES[1][1].search(proc.stdout) if proc.returncode == 0 else None
    now = found(root)[f"{CHART}: version: …"]
    if m is None:
        return f"chart-bump: {base} had no chart; the chart is new at {now}"
    before = m.group(1)
    if parse(now) <= parse(before):
        files = "\n".join(f"  {f}" for f in diff.splitlines()[:20])
        raise VersionError(
            f"the chart changed since {base} but its version {now} is not above {before}:\n{files}\n"
            f"fix: bump the release version, e.g. tools/release/stamp.sh {bump_patch(before)}"
        )
    return f"chart-bump: the chart changed since {base} and its version rose {before} -> {now}"


def bump_patch(version: str) -> str:
    major, minor, patch, rc = parse(version)
    return f"{major}.{minor}.{patch}" if rc != sys.maxsize else f"{major}.{minor}.{patch + 1}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="versions.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("current", help="the version to release")
    sub.add_parser("pep440", help="the wheel's spelling of the current version")
    s = sub.add_parser("stamp", help="write a version into every place")
    s.add_argument("version")
    s.add_argument("--digest", help="pin the chart's default image to this digest (sha256:...)")
    sub.add_parser("check", help="every place agrees")
    b = sub.add_parser("chart-bump", help="the chart changed only with a version bump")
    b.add_argument("--base", help="compare against this ref (default: the last release tag)")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "current":
            print(current())
        elif args.cmd == "pep440":
            print(pep440(current()))
        elif args.cmd == "stamp":
            for path in stamp(args.version.removeprefix("v"), args.digest):
                print(f"stamped {path}")
        elif args.cmd == "check":
            check()
            print(f"versions agree: {in_tree()}")
        else:
            print(chart_bump(args.base))
    except VersionError as exc:
        print(f"{ap.prog} {args.cmd}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
