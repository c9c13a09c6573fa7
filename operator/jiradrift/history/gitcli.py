"""The git side: the ``git`` command, run with an environment that trusts nothing implicitly.

    repo = GitRepo.open(workdir, Remote(url, branch, credentials))
    tip = repo.fetch()                          # the branch's tip on the server, None if it has none
    repo.fast_import(stream)                    # commits built from a fast-import stream
    repo.push(sha)                              # never forced

Why the git command (see docs/history.md for the measurements): ``git fast-import`` writes a
commit of ten changed files in milliseconds and an initial 10k-file commit in about a second, from
a stream we build in Python without a work tree; OpenSSH does the SSH side with the pinned
``known_hosts`` (``StrictHostKeyChecking=yes``, never trust-on-first-use); libcurl does HTTPS with the
token in an ``Authorization`` header passed through the environment, never the command line.

Only ``ssh`` and ``https`` transports are allowed (``GIT_ALLOW_PROTOCOL``: no ``ext::`` or
``file://`` from a tenant's URL); no user or system git configuration is read; no prompt is shown.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jiradrift.history.errors import HistoryError, HistoryReason, classify
from jiradrift.net.hosts import HostAllowlist, internal_reason, is_loopback

TIMEOUT = 120.0  # seconds for one network operation: a hung server is an Unreachable, not a hang
_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")


@dataclass(frozen=True)
class Credentials:
    """From the tenant's history Secret: an SSH deploy key with pinned host keys, or an HTTPS token."""

    ssh_key: str = ""  # private key (OpenSSH PEM)
    known_hosts: str = ""  # known_hosts lines: the pinned host keys
    token: str = ""
    username: str = "x-access-token"  # HTTPS basic-auth user that goes with the token
    ca_pem: str = ""  # extra CA for an HTTPS server with a private CA


@dataclass(frozen=True)
class Remote:
    url: str
    branch: str
    credentials: Credentials

    @property
    def host(self) -> str:
        return remote_host(self.url)

    @property
    def is_ssh(self) -> bool:
        return not self.url.startswith("https://") and not self.is_local

    @property
    def is_local(self) -> bool:
        """A repository on this machine's file system (the CLI's export; never a tenant's URL)."""
        return self.url.startswith("/")


def remote_host(url: str) -> str:
    """The host of an ``ssh://``, ``https://`` or ``user@host:path`` URL; HistoryError otherwise."""
    scp = _SCP_LIKE.match(url)
    if scp:
        return scp.group("host").lower()
    parts = urlsplit(url)
    if parts.scheme not in ("ssh", "https") or not parts.hostname:
        raise HistoryError(
            HistoryReason.INVALID_SPEC,
            f"spec.history.repository {url!r} is not an ssh://, user@host:path or https:// URL",
        )
    return parts.hostname.lower()


def check_remote(remote: Remote, allowlist: HostAllowlist) -> None:
    """The repository's host must be on the admin's allowlist, and the credentials fit the protocol."""
    host = remote.host
    internal = None if is_loopback(host) else internal_reason(host)
    if internal or not allowlist.allows_host(host):
        raise HistoryError(
            HistoryReason.INVALID_SPEC,
            f"spec.history.repository: host {host!r} is not on the operator's allowed history hosts "
            f"({allowlist}); ask the cluster admin to add it (chart value history.allowedHosts)",
        )
    creds = remote.credentials
    if remote.is_local:
        raise HistoryError(HistoryReason.INVALID_SPEC, "spec.history.repository must be an ssh or https URL")
    if remote.is_ssh and not (creds.ssh_key and creds.known_hosts):
        raise HistoryError(
            HistoryReason.INVALID_SPEC,
            "an SSH repository needs the Secret keys ssh-privatekey (the deploy key) and known_hosts "
            "(the server's pinned host keys)",
        )
    if not remote.is_ssh and not creds.token:
        raise HistoryError(HistoryReason.INVALID_SPEC, "an https repository needs the Secret key token")
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", remote.branch) or ".." in remote.branch:
        raise HistoryError(HistoryReason.INVALID_SPEC, f"spec.history.branch {remote.branch!r} is not a branch name")


class GitRepo:
    """A bare local repository that mirrors one remote branch and builds commits on it."""

    def __init__(self, path: Path, remote: Remote) -> None:
        self.path = path
        self.remote = remote
        self._env = self._environment()

    @classmethod
    def open(cls, path: Path, remote: Remote) -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path, remote)
        if not (path / "HEAD").exists():
            repo.git("init", "--quiet", "--bare", str(path), cwd=path.parent)
        return repo

    @property
    def local_ref(self) -> str:
        return f"refs/heads/{self.remote.branch}"

    @property
    def remote_ref(self) -> str:
        return f"refs/remotes/origin/{self.remote.branch}"

    def _environment(self) -> dict[str, str]:
        private = self.path.parent / (self.path.name + ".auth")
        private.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(private),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_ALLOW_PROTOCOL": "file" if self.remote.is_local else "ssh:https",
            "LC_ALL": "C",
        }
        config: list[tuple[str, str]] = [("credential.helper", ""), ("core.askPass", "/bin/false")]
        creds = self.remote.credentials
        if self.remote.is_ssh:
            key, known = private / "id", private / "known_hosts"
            _write_private(key, creds.ssh_key.rstrip("\n") + "\n")
            _write_private(known, creds.known_hosts.rstrip("\n") + "\n")
            ssh = [
                "ssh", "-F", os.devnull, "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", f"GlobalKnownHostsFile={os.devnull}",
                "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no", "-o", "ConnectTimeout=15",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=2",
            ]  # fmt: skip
            env["GIT_SSH_COMMAND"] = shlex.join(ssh)
            env["GIT_SSH_VARIANT"] = "ssh"
        elif not self.remote.is_local:
            basic = base64.b64encode(f"{creds.username}:{creds.token}".encode()).decode()
            config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
            config.append(("http.lowSpeedLimit", "1"))
            config.append(("http.lowSpeedTime", "30"))
            if creds.ca_pem:
                ca = private / "ca.crt"
                _write_private(ca, creds.ca_pem)
                config.append(("http.sslCAInfo", str(ca)))
        # In the environment, not on the command line: a token in argv is visible to every process.
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (k, v) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"] = k
            env[f"GIT_CONFIG_VALUE_{i}"] = v
        return env

    def git(
        self, *args: str, input: bytes | None = None, cwd: Path | None = None, timeout: float = TIMEOUT
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git; a failure is a :class:`HistoryError` whose reason comes from git's stderr."""
        command = ["git", *args] if cwd is not None else ["git", f"--git-dir={self.path}", *args]
        try:
            done = subprocess.run(
                command, input=input, capture_output=True, env=self._env, cwd=cwd or self.path, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise HistoryError(
                HistoryReason.UNREACHABLE, f"git {args[0]} gave no answer within {timeout:g} s"
            ) from None
        if done.returncode != 0:
            raise classify(done.stderr.decode(errors="replace"), f"git {args[0]} ({self.remote.url})")
        return done

    def fetch(self) -> str | None:
        """The branch's tip on the server (also stored as the remote ref), None when it has no such branch."""
        try:
            self.git("fetch", "--quiet", "--no-tags", self.remote.url, f"+{self.local_ref}:{self.remote_ref}")
        except HistoryError as exc:
            if "couldn't find remote ref" not in exc.stderr:
                raise
            self.git("update-ref", "-d", self.remote_ref)
            return None
        return self.rev(self.remote_ref)

    def rev(self, ref: str) -> str | None:
        done = subprocess.run(
            ["git", f"--git-dir={self.path}", "rev-parse", "--verify", "--quiet", ref + "^{commit}"],
            capture_output=True,
            env=self._env,
        )
        return done.stdout.decode().strip() or None

    def set_ref(self, ref: str, sha: str | None) -> None:
        if sha is None:
            self.git("update-ref", "-d", ref)
        else:
            self.git("update-ref", ref, sha)

    def read_file(self, rev: str | None, path: str) -> bytes | None:
        if rev is None:
            return None
        done = subprocess.run(
            ["git", f"--git-dir={self.path}", "cat-file", "blob", f"{rev}:{path}"], capture_output=True, env=self._env
        )
        return done.stdout if done.returncode == 0 else None

    def read_dir(self, rev: str | None, directory: str) -> dict[str, bytes]:
        """Path -> content of the files directly in ``directory`` at ``rev`` (two git calls in all)."""
        if rev is None:
            return {}
        listing = self.git("ls-tree", "-z", rev, "--", directory + "/").stdout.split(b"\0")
        blobs = []
        for row in listing:
            meta, _, raw_path = row.partition(b"\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == b"blob":
                blobs.append((parts[2].decode(), raw_path.decode()))
        if not blobs:
            return {}
        out = self.git("cat-file", "--batch", input=b"".join(oid.encode() + b"\n" for oid, _ in blobs)).stdout
        found: dict[str, bytes] = {}
        at = 0
        for _, name in blobs:
            header_end = out.index(b"\n", at)
            size = int(out[at:header_end].split()[2])
            found[name] = out[header_end + 1 : header_end + 1 + size]
            at = header_end + 1 + size + 1
        return found

    def history(self, rev: str | None, trailers: tuple[str, ...]) -> list[CommitInfo]:
        """Commits reachable from ``rev``, newest first, with the values of ``trailers``."""
        if rev is None:
            return []
        keys = "".join(f"%(trailers:key={t},valueonly,separator=%x1f)%x1e" for t in trailers)
        out = self.git("log", "--format=%H%x1e%an%x1e%cn%x1e%ce%x1e%at%x1e" + keys + "%x1d", rev).stdout.decode()
        found = []
        for record in out.split("\x1d"):
            fields = record.strip("\n").split("\x1e")
            if len(fields) < 5 + len(trailers):
                continue
            values = {t: [v.strip() for v in fields[5 + i].split("\x1f") if v.strip()] for i, t in enumerate(trailers)}
            found.append(CommitInfo(fields[0], fields[1], fields[2], fields[3], int(fields[4]), values))
        return found

    def fast_import(self, stream: bytes) -> None:
        self.git("fast-import", "--quiet", "--done", "--force", input=stream, timeout=600)  # local scratch ref

    def push(self, sha: str) -> None:
        """Push ``sha`` to the branch; never forced: a branch that moved is refused (HistoryReason.RACE)."""
        try:
            self.git("push", "--quiet", self.remote.url, f"{sha}:{self.local_ref}")
        except HistoryError as exc:
            if exc.reason is HistoryReason.GIT_FAILED and re.search(
                r"\(fetch first\)|\(non-fast-forward\)|stale info|\[rejected\]", exc.stderr
            ):
                raise HistoryError(HistoryReason.RACE, exc.message) from None
            raise

    def gc(self) -> None:
        self.git("gc", "--auto", "--quiet")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    committer: str
    committer_email: str
    author_time: int
    trailers: dict[str, list[str]]


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
