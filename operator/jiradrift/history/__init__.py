"""The history sink: every changed Snapshot becomes one git commit (issue 28).

Pure parts (no I/O): :mod:`layout` (a file per object, named by its natural key, safely encoded),
:mod:`render` (deterministic YAML), :mod:`message` (the commit message, its authors and trailers),
:mod:`plan` (which files one snapshot adds, changes and removes). The git side: :mod:`gitcli` (the
``git`` command: fast-import, fetch, push, with pinned SSH host keys or an HTTPS token) and
:mod:`sink` (exactly once, in order, across replicas and failures).
"""
