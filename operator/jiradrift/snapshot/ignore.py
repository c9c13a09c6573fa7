"""User ignore rules: which changes a drift report should leave out.

A rule is ``KEY_GLOB`` or ``KEY_GLOB:PATH_GLOB``::

    field/customfield_10*                 ignore these items entirely (added, removed, changed)
    field/*:description                   ignore description changes of every field
    workflow/*:transitions[*].description any transition's description
    screen/*:tabs[0]                      anything in the first tab (a rule covers what is below it)
    project/*:**.avatarUrls               avatarUrls at any depth

``KEY_GLOB`` is matched against the whole item key (``<kind>/<id>``) with shell-style wildcards
(``*`` may span ``/``). The rule splits at the first ``:``; write ``?`` for a ``:`` inside a key.

``PATH_GLOB`` is matched against change paths (``transitions[3].name``): ``*`` matches within one
segment (never ``.`` or ``[``), ``**`` matches anything, ``[*]`` matches any list index and ``?``
one character of a segment. A rule matches a path when it matches the whole path or a prefix of it
that ends at a segment boundary. A rule with a path never hides a whole item being added or removed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass


class InvalidIgnoreRule(ValueError):
    """An ignore rule cannot be parsed."""


def _path_regex(glob: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob.startswith("[*]", i):
            out.append(r"\[\d+\]")
            i += 3
        elif glob[i] == "*":
            out.append(r"[^.\[]*")
            i += 1
        elif glob[i] == "?":
            out.append(r"[^.\[]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("(?:" + "".join(out) + r")(?:$|(?=[.\[]))")


@dataclass(frozen=True)
class IgnoreRule:
    text: str
    key: re.Pattern[str]
    path: re.Pattern[str] | None  # None: the whole item

    @classmethod
    def parse(cls, text: str) -> IgnoreRule:
        key_glob, sep, path_glob = text.strip().partition(":")
        if not key_glob or (sep and not path_glob):
            raise InvalidIgnoreRule(
                f"ignore rule {text!r} is not KEY_GLOB or KEY_GLOB:PATH_GLOB "
                f"(e.g. 'field/*:description' or 'workflow/*:transitions[*].description')"
            )
        return cls(
            text=text,
            key=re.compile(fnmatch.translate(key_glob)),
            path=_path_regex(path_glob) if sep else None,
        )


class IgnoreRules:
    """A compiled set of rules; ``for_key`` narrows them once per item so paths test quickly."""

    def __init__(self, rules: Sequence[str] = ()) -> None:
        self.rules = [IgnoreRule.parse(r) for r in rules]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def for_key(self, key: str) -> ItemIgnore:
        matching = [r for r in self.rules if r.key.match(key)]
        whole = any(r.path is None for r in matching)
        return ItemIgnore(whole, [r.path for r in matching if r.path is not None])


@dataclass(frozen=True)
class ItemIgnore:
    whole_item: bool
    paths: list[re.Pattern[str]]

    def hides(self, path: str) -> bool:
        """True when a change at ``path`` of this item is ignored ("" is the whole item)."""
        if self.whole_item:
            return True
        return bool(path) and any(p.match(path) for p in self.paths)
