"""What the production commands load: modules in ``sys.modules`` and the CLI's start-up time.

    .venv/bin/python bench/cli_import_bench.py            # this tree
    .venv/bin/python bench/cli_import_bench.py --repeat 9

Baseline: issue 25 ("production code alone on the production path"): before lazy commands,
``jiradrift run --help`` loaded 136 of the package's 139 modules, the Jira emulator (``jiradrift.sim``)
and the developer tooling (``jiradrift.dev``) among them. For each production path it prints the
``jiradrift`` modules, all modules, and whether any ``jiradrift.sim`` / ``jiradrift.dev`` / synchronous
``kubernetes`` module was loaded; then the median wall time of ``jiradrift --version`` and
``jiradrift run --help`` as fresh processes (what a container start pays).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

# Each probe runs in a fresh interpreter: the CLI entry as the console script calls it.
PROBE = """
import json, sys
from jiradrift.cli import main
argv = {argv!r}
sys.argv = ["jiradrift", *argv]
try:
    main()
except SystemExit:
    pass
mods = sorted(sys.modules)
ours = [m for m in mods if m == "jiradrift" or m.startswith("jiradrift.")]
unwanted = [m for m in mods if m.startswith(("jiradrift.sim", "jiradrift.dev")) or m.split(".")[0] == "kubernetes"]
print(json.dumps({{"ours": len(ours), "all": len(mods), "unwanted": unwanted}}), file=sys.__stderr__)
"""

PATHS = {
    "jiradrift run --help (the image's command)": ["run", "--help"],
    "jiradrift refresh-tokens --help (the token CronJob's entry)": ["refresh-tokens", "--help"],
}


def probe(argv: list[str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


def package_modules() -> int:
    """Every module the ``jiradrift`` package has (what could be loaded)."""
    import pkgutil

    import jiradrift

    return 1 + sum(1 for _ in pkgutil.walk_packages(jiradrift.__path__, "jiradrift."))


def median_seconds(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jiradrift", *argv], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (the median is printed)")
    args = parser.parse_args()
    print(f"jiradrift package: {package_modules()} modules")
    for label, argv in PATHS.items():
        seen = probe(argv)
        unwanted = seen["unwanted"]
        assert isinstance(unwanted, list)
        shown = ", ".join(unwanted[:4]) + (" ..." if len(unwanted) > 4 else "")
        print(
            f"{label}: {seen['ours']} jiradrift modules, {seen['all']} modules in all; "
            f"sim/dev/kubernetes loaded: {len(unwanted)} ({shown})"
        )
    for argv in (["--version"], ["run", "--help"]):
        print(f"jiradrift {' '.join(argv)}: median {median_seconds(argv, args.repeat):.3f}s of {args.repeat} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
