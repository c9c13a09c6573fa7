"""A child process's own peak RSS, for the tests that hold a child to a memory limit.

``ru_maxrss`` from ``wait4`` is not the child's own: Python starts children with vfork, and Linux's
exec records the old (the parent's) memory high-water mark as the new program's ``maxrss``; a child
started late in the suite, with pytest already at 338 MiB, reported 338 MiB whatever it used.
``VmHWM`` in the child's ``/proc/self/status`` counts only the memory of the program exec started;
the child writes it to a file at exit (:data:`AT_EXIT`, run first in the child).

    env = {**os.environ, PEAK_FILE: str(tmp / "peak")}
    cmd = [sys.executable, "-c", AT_EXIT + "from jiradrift.cli import main; main()", ...]
    ...
    peak = own_peak(tmp / "peak", usage.ru_maxrss * 1024)
"""

from __future__ import annotations

from pathlib import Path

PEAK_FILE = "JIRADRIFT_TEST_PEAK_FILE"

AT_EXIT = f"""
import atexit as _atexit, os as _os
def _write_peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(_os.environ["{PEAK_FILE}"], "w") as out:
        out.write(kib)
if _os.environ.get("{PEAK_FILE}"):
    _atexit.register(_write_peak)
"""


def own_peak(path: Path, fallback: int) -> int:
    """The child's own peak RSS in bytes; ``fallback`` (``ru_maxrss``, an upper bound) when the
    child wrote none (killed before exit)."""
    try:
        return int(path.read_text()) * 1024
    except (OSError, ValueError):
        return fallback
