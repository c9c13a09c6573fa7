"""Every command against the common mistakes: one clear line, the documented exit code, no traceback.

Reported: connection refused took 122 s, ~1,050 connect attempts and 100 lines, exit 3 where --help
documents 1; wrong credentials printed the same 401 paragraph 28 times; without a kubeconfig
`accept`, `drift list` and `auth login` ended in a traceback; `sim --port <busy>` waited 32 s and
printed 65 lines. Each case here runs the real `jiradrift` entry point in a subprocess, as a user
would, with an empty HOME and no KUBECONFIG.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jiradrift.sim.emulator import Emulator

# Seconds a mistake may take to be reported, the interpreter's start included: that start takes
# up to ~15 s with four of them at once on a busy two-core machine, and the probe of a dead site
# gives up after one 1-2 s retry. The reported connection refused took 122 s, the DNS failure 129 s.
ANSWER_WITHIN = 45.0


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]
    code: int
    says: str  # a phrase the one line must contain
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kubeconfig_for(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
        f'clusters:\n- name: k\n  cluster: {{server: "{server}"}}\n'
        "users:\n- name: u\n  user: {token: abc}\n"
    )
    return path


@dataclass(frozen=True)
class Where:
    """What the cases point at: a scratch directory, the emulator, and ports in known states."""

    tmp: Path
    site: str
    email: str
    busy_port: int
    dead_port: int

    @property
    def dead_kubeconfig(self) -> Path:
        return self.tmp / "dead-kubeconfig"


def cases(at: Where) -> list[Case]:
    tmp, dead_api = at.tmp, str(at.dead_kubeconfig)
    dead_site = f"http://127.0.0.1:{at.dead_port}"
    basic = ["--auth", "basic", "--email", at.email, "--type", "fields"]
    token = {"JIRA_API_TOKEN": "not-the-token"}
    no_kube = "no kubeconfig"
    quiet = ["--metrics-port", "0", "--liveness", ""]  # the operator's ports: not shared with a neighbour
    unreachable = "cannot reach the Kubernetes API server"
    return [
        # no kubeconfig at all
        Case("accept/no-kubeconfig", ["accept", "--tenant", "acme", "-n", "ns"], 2, no_kube),
        Case("drift-list/no-kubeconfig", ["drift", "list", "--tenant", "acme", "-n", "ns"], 2, no_kube),
        Case("unaccepted/no-kubeconfig", ["drift", "list", "--unaccepted", "--tenant", "acme", "-n", "ns"], 2, no_kube),
        Case("auth-login/no-kubeconfig", ["auth", "login", "--tenant", "acme", "-n", "ns"], 2, no_kube),
        Case("refresh-tokens/no-kubeconfig", ["refresh-tokens"], 2, no_kube),
        Case("run/no-kubeconfig", ["run", "--all-namespaces", *quiet], 2, no_kube),
        Case(
            "accept/kubeconfig-missing",
            ["accept", "--tenant", "acme", "-n", "ns", "--kubeconfig", str(tmp / "nope")],
            2,
            "kubeconfig not found",
        ),
        # a context the kubeconfig does not have (was: "no kubeconfig", although there was one)
        Case(
            "accept/unknown-context",
            ["accept", "acme", "-n", "ns", "--kubeconfig", dead_api, "--context", "nope"],
            2,
            "context 'nope' not found in kubeconfig",
        ),
        Case(
            "unaccepted-all/unknown-context",
            ["drift", "list", "--unaccepted", "-A", "--context", "nope"],
            2,
            "(contexts: c)",
            {"KUBECONFIG": dead_api},
        ),
        # the API server cannot be reached
        Case(
            "accept/api-unreachable",
            ["accept", "--tenant", "acme", "-n", "ns", "--kubeconfig", dead_api],
            1,
            unreachable,
        ),
        Case(
            "drift-list/api-unreachable",
            ["drift", "list", "--tenant", "acme", "-n", "ns"],
            1,
            unreachable,
            {"KUBECONFIG": dead_api},
        ),
        Case(
            "unaccepted/api-unreachable",
            ["drift", "list", "--unaccepted", "--tenant", "acme", "-n", "ns"],
            1,
            unreachable,
            {"KUBECONFIG": dead_api},
        ),
        Case(
            "auth-login/api-unreachable",
            ["auth", "login", "--tenant", "acme", "-n", "ns", "--kubeconfig", dead_api],
            1,
            unreachable,
        ),
        Case("run/api-unreachable", ["run", "--all-namespaces", *quiet], 1, unreachable, {"KUBECONFIG": dead_api}),
        # the Jira site cannot be read at all
        Case(
            "snapshot/connection-refused",
            ["snapshot", "--site", dead_site, *basic, "--out", str(tmp / "refused")],
            1,
            "check the site URL",
            token,
        ),
        Case(
            "snapshot/unknown-host",
            ["snapshot", "--site", "https://no-such-site.invalid", *basic, "--out", str(tmp / "dns")],
            1,
            "check the site URL",
            token,
        ),
        Case(
            "snapshot/wrong-credentials",
            ["snapshot", "--site", at.site, *basic, "--out", str(tmp / "wrong-token")],
            1,
            "HTTP 401",
            token,
        ),
        Case("snapshot/no-token", ["snapshot", "--site", at.site, *basic, "--out", str(tmp / "o")], 2, "API token"),
        # a busy port
        Case("sim/busy-port", ["sim", "--port", str(at.busy_port)], 2, "pick another --port"),
        # a missing store
        Case("diff/missing-store", ["diff", str(tmp / "no-store")], 2, "is not a jiradrift store"),
        Case("drift-list/missing-store", ["drift", "list", str(tmp / "no-store")], 2, "is not a jiradrift store"),
        # bad flag values
        Case("snapshot/bad-rps", ["snapshot", "--site", at.site, "--out", "x", "--rps", "-1"], 2, "--rps"),
        Case("snapshot/bad-type", ["snapshot", "--site", at.site, "--out", "x", "--type", "nope"], 2, "nope"),
        Case("diff/bad-format", ["diff", str(tmp), "--format", "xml"], 2, "--format"),
        Case("drift-list/bad-limit", ["drift", "list", str(tmp), "--limit", "many"], 2, "--limit"),
        Case("compare/missing-store", ["compare", str(tmp / "a"), str(tmp / "b")], 2, "neither a store directory"),
        Case("accept/bad-tenant", ["accept", "--tenant", "Not_A_Name"], 2, "expected a JiraTenant name"),
        Case("sim/bad-size", ["sim", "--size", "enormous", "--port", "0"], 2, "enormous"),
        Case("run/no-namespace", ["run"], 2, "--namespace"),
        Case("unknown-command", ["snapshots"], 2, "No such command"),
        Case("unknown-flag", ["diff", str(tmp), "--kubeconfg", "x"], 2, "No such option"),
    ]


def run_cli(args: list[str], home: Path, extra: dict[str, str]) -> Outcome:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "JIRA_", "JIRADRIFT_", "AWS_"))}
    env.update(HOME=str(home), COLUMNS="100", **extra)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "jiradrift", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Case], dict[str, Outcome]]]:
    tmp = tmp_path_factory.mktemp("mistakes")
    home = tmp / "home"
    home.mkdir()
    with Emulator(size="small").running() as sim, socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        at = Where(tmp, sim.base_url, sim.credentials.email, busy.getsockname()[1], closed_port())
        kubeconfig_for(at.dead_kubeconfig, f"https://127.0.0.1:{at.dead_port}")
        todo = {c.name: c for c in cases(at)}
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {name: pool.submit(run_cli, c.args, home, c.env) for name, c in todo.items()}
            yield todo, {name: f.result() for name, f in futures.items()}


def documented_exit_codes() -> dict[int, str]:
    """The exit codes `jiradrift --help` documents, code -> what it says."""
    done = subprocess.run(
        [sys.executable, "-m", "jiradrift", "--help"],
        env={**os.environ, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", done.stdout).split())
    section = text.split("Exit codes:", 1)[1].strip()
    return {int(code): what for code, what in re.findall(r"(?:^|; )(\d) (.+?)(?=; \d |\. --debug|$)", section)}


def test_help_documents_the_exit_codes() -> None:
    codes = documented_exit_codes()
    assert set(codes) == {0, 1, 2, 3}
    assert "could not be read at all" in codes[1] and "bad flag value" in codes[2] and "incomplete" in codes[3]


CASE_NAMES = [c.name for c in cases(Where(Path("/unused"), "http://unused", "unused", 0, 0))]


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_a_mistake_is_one_line_with_the_documented_code(
    case_name: str, outcomes: tuple[dict[str, Case], dict[str, Outcome]]
) -> None:
    todo, results = outcomes
    case, got = todo[case_name], results[case_name]
    everything = got.stdout + got.stderr
    assert "Traceback" not in everything, everything
    lines = [line for line in got.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), everything
    assert case.says in lines[0], lines[0]
    assert got.code == case.code, everything
    assert got.seconds < ANSWER_WITHIN, f"{case_name} took {got.seconds:.1f} s"


def test_a_site_that_cannot_be_read_leaves_no_snapshot_behind(
    outcomes: tuple[dict[str, Case], dict[str, Outcome]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Wrong credentials used to write eight 0-item snapshots: now nothing is stored."""
    todo, results = outcomes
    for name in ("snapshot/wrong-credentials", "snapshot/connection-refused", "snapshot/unknown-host"):
        out = Path(todo[name].args[todo[name].args.index("--out") + 1])
        assert results[name].code == 1 and not out.exists(), name


@pytest.mark.parametrize("switch", [["--debug"], []], ids=["flag", "env"])
def test_debug_shows_the_traceback_the_boundary_hides(switch: list[str], tmp_path: Path) -> None:
    extra = {} if switch else {"JIRADRIFT_DEBUG": "1"}
    got = run_cli([*switch, "accept", "--tenant", "acme", "-n", "ns"], tmp_path, extra)
    assert got.code != 0 and "Traceback" in got.stderr and "ConfigException" in got.stderr, got.stderr
