"""Peak RSS of a capture on a `large` vs an `xl` site (target: growth < 64 MiB).

    .venv/bin/python bench/capture_memory.py

Each capture runs in its own subprocess (the emulator in yet another), which reports its own
``ru_maxrss``; the baseline is the `large` capture measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from capture_common import capture_all, emulator_process


def child(base_url: str, email: str, token: str) -> None:
    from jiradrift.model.snapshot_types import SnapshotType

    info = {"base_url": base_url, "credentials": {"email": email, "api_token": token}}
    result = asyncio.run(capture_all(info, [t.value for t in SnapshotType], concurrency=16, rps=1000))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "peak_mib": peak_kib / 1024,
                "items": result["items"],
                "complete": result["complete"],
                "seconds": result["seconds"],
                "requests": result["stats"]["requests_total"],
            }
        )
    )


def measure(size: str) -> dict[str, float]:
    with emulator_process(size, 0) as info:
        c = info["credentials"]
        out = subprocess.run(
            [sys.executable, __file__, "--child", info["base_url"], c["email"], c["api_token"]],
            check=True,
            capture_output=True,
            text=True,
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
        return
    large = measure("large")
    xl = measure("xl")
    growth = xl["peak_mib"] - large["peak_mib"]
    for name, r in (("large", large), ("xl", xl)):
        print(
            f"{name + ':':6s} peak RSS {r['peak_mib']:.1f} MiB, {r['items']} items, "
            f"{r['requests']} requests, {r['seconds']:.0f}s, complete={r['complete']}"
        )
    ratio = xl["peak_mib"] / large["peak_mib"]
    print(f"growth large -> xl: {growth:.1f} MiB (target < 64 MiB); ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
