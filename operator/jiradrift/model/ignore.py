"""User ignore rules: which changes a drift report should leave out.

A rule is ``KEY_GLOB`` or ``KEY_GLOB:PATH_GLOB``::

    field/customfield_10*                 ignore these items entirely (added, removed, changed)
    field/*:description                   ignore description changes of every field
    workflow/*:transitions[*].description any transition's description
    screen/*:tabs[id=10000]               anything in the tab with id 10000 (a rule covers what is below it)
    project/*:**.avatarUrls               avatarUrls at any depth

``KEY_GLOB`` is matched against the whole item key (``<kind>/<id>``) with shell-style wildcards
(``*`` may span ``/``). The rule splits at the first ``:``; write ``?`` for a ``:`` inside a key.

``PATH_GLOB`` is matched against change paths (``transitions[id=3].name``, ``statuses[2]``): ``*``
matches within one segment (never ``.`` or ``[``), ``**`` matches anything, ``[*]`` matches any list
element (an index, or a selector such as ``[id=3]``; see ``jiradrift.snapshot.diff``) and ``?``
one character of a segment. A rule matches a path when it matches the whole path or a prefix of it
that ends at a segment boundary. A rule with a path never hides a whole item being added or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jiradrift.model.globmatch import Glob, key_glob, path_glob

# Whitespace stripped around a rule: what Go's unicode.IsSpace calls space, so the CRD's CEL
# ``trim()`` and this parser agree on which rules are empty (Python's str.strip would also strip
# the ASCII separators U+001C..U+001F).
WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
SEGMENT_BOUNDARY = ".["


class InvalidIgnoreRule(ValueError):
    """An ignore rule cannot be parsed."""


def rule_problem(text: str) -> str | None:
    """Why ``text`` is not a rule, or None when it parses (the CRD's CEL rule says the same)."""
    key_glob_text, sep, path_glob_text = text.strip(WHITESPACE).partition(":")
    if not key_glob_text or (sep and not path_glob_text):
        return (
            f"ignore rule {text!r} is not KEY_GLOB or KEY_GLOB:PATH_GLOB "
            f"(e.g. 'field/*:description' or 'workflow/*:transitions[*].description')"
        )
    return None


@dataclass(frozen=True)
class IgnoreRule:
    text: str
    key: Glob
    path: Glob | None  # None: the whole item

    @classmethod
    def parse(cls, text: str) -> IgnoreRule:
        problem = rule_problem(text)
        if problem:
            raise InvalidIgnoreRule(problem)
        key_glob_text, sep, path_glob_text = text.strip(WHITESPACE).partition(":")
        return cls(text=text, key=key_glob(key_glob_text), path=path_glob(path_glob_text) if sep else None)


class IgnoreRules:
    """A compiled set of rules; ``for_key`` narrows them once per item so paths test quickly."""

    def __init__(self, rules: Sequence[str] = ()) -> None:
        self.rules = [IgnoreRule.parse(r) for r in rules]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def for_key(self, key: str) -> ItemIgnore:
        matching = [r for r in self.rules if r.key.matches(key)]
        whole = any(r.path is None for r in matching)
        return ItemIgnore(whole, [r.path for r in matching if r.path is not None])


@dataclass(frozen=True)
class ItemIgnore:
    whole_item: bool
    paths: list[Glob]

    def hides(self, path: str) -> bool:
        """True when a change at ``path`` of this item is ignored ("" is the whole item)."""
        if self.whole_item:
            return True
        return bool(path) and any(p.matches_prefix(path, SEGMENT_BOUNDARY) for p in self.paths)
