"""Glob matching in time linear in the text, whatever the pattern: no regular expression is built.

    key_glob("field/customfield_10*").matches("field/customfield_10001")   # fnmatch semantics
    path_glob("transitions[*].name").matches_prefix("transitions[id=3].name.en")  # ignore-rule paths

A pattern compiles to a list of tokens, each a character class that is consumed once or repeated
(a star). Matching runs the pattern as a set-of-states automaton (bit-parallel "Shift-And": bit
``i`` set means the first ``i`` tokens matched the text read so far), so each character costs a
few integer operations on a ``len(pattern)``-bit number and nothing ever backtracks. The
pathological ``**?**?**?...~`` that took a backtracking regex half a minute is as cheap as any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CharTest = Callable[[str], bool]
_CACHE_LIMIT = 4096  # distinct characters remembered per pattern (bounds memory on odd input)


@dataclass(frozen=True)
class _Token:
    accepts: CharTest
    star: bool = False  # zero or more characters of the class, instead of exactly one


def _literal(c: str) -> _Token:
    return _Token(c.__eq__)


class Glob:
    """A compiled glob. ``matches`` is a whole-text match; ``matches_prefix`` also accepts a match of
    a prefix that is followed by one of ``boundary``'s characters."""

    def __init__(self, pattern: str, tokens: list[_Token]) -> None:
        self.pattern = pattern
        self._tests = [t.accepts for t in tokens]
        self._stars = sum(1 << i for i, t in enumerate(tokens) if t.star)
        self._plain = ~self._stars
        self._accept = 1 << len(tokens)
        self._masks: dict[str, int] = {}
        self._chain = _longest_star_run(tokens)
        self._start = self._close(1)

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"

    def _close(self, state: int) -> int:
        # A star may match nothing: being before it is being after it. Repeated stars are merged,
        # so a run of adjacent (different) stars is at most a couple long.
        for _ in range(self._chain):
            state |= (state & self._stars) << 1
        return state

    def _mask(self, ch: str) -> int:
        mask = self._masks.get(ch)
        if mask is None:
            mask = sum(1 << i for i, test in enumerate(self._tests) if test(ch))
            if len(self._masks) < _CACHE_LIMIT:
                self._masks[ch] = mask
        return mask

    def _step(self, state: int, ch: str) -> int:
        live = state & self._mask(ch)
        return self._close(((live & self._plain) << 1) | (live & self._stars))

    def matches(self, text: str) -> bool:
        state = self._start
        for ch in text:
            state = self._step(state, ch)
            if not state:
                return False
        return bool(state & self._accept)

    def matches_prefix(self, text: str, boundary: str) -> bool:
        """True when the pattern matches ``text`` or a prefix of it followed by a ``boundary`` character
        (or by a final newline, as a regex ``$`` would allow)."""
        state = self._start
        last = len(text) - 1
        for k, ch in enumerate(text):
            if state & self._accept and (ch in boundary or (ch == "\n" and k == last)):
                return True
            state = self._step(state, ch)
            if not state:
                return False
        return bool(state & self._accept)


def _longest_star_run(tokens: list[_Token]) -> int:
    longest = run = 0
    for token in tokens:
        run = run + 1 if token.star else 0
        longest = max(longest, run)
    return longest


def _merge_repeats(tokens: list[_Token]) -> list[_Token]:
    """``X*X*`` matches what ``X*`` does: drop a star that repeats the one before it."""
    out: list[_Token] = []
    for token in tokens:
        if not (token.star and out and out[-1] is token):
            out.append(token)
    return out


# ------------------------------------------------------------------ fnmatch (item keys)


def _bracket_chunks(pat: str, i: int, j: int) -> list[str]:
    """The pieces of ``[...]`` between hyphens, exactly as ``fnmatch.translate`` splits them
    (empty ranges removed); a range runs from the last character of one chunk to the first of the next."""
    if "-" not in pat[i:j]:
        return [pat[i:j]]
    chunks: list[str] = []
    k = i + 2 if pat[i] == "!" else i + 1
    while True:
        k = pat.find("-", k, j)
        if k < 0:
            break
        chunks.append(pat[i:k])
        i = k + 1
        k = k + 3
    chunk = pat[i:j]
    if chunk:
        chunks.append(chunk)
    else:
        chunks[-1] += "-"
    for k in range(len(chunks) - 1, 0, -1):
        if chunks[k - 1][-1] > chunks[k][0]:
            chunks[k - 1] = chunks[k - 1][:-1] + chunks[k][1:]
            del chunks[k]
    return chunks


def _bracket_test(chunks: list[str]) -> CharTest:
    negated = chunks[0].startswith("!")
    if negated:
        chunks = [chunks[0][1:], *chunks[1:]]
    singles = frozenset("".join(chunks))
    ranges = tuple((chunks[k - 1][-1], chunks[k][0]) for k in range(1, len(chunks)))

    def test(ch: str) -> bool:
        inside = ch in singles or any(lo <= ch <= hi for lo, hi in ranges)
        return inside != negated

    return test


def _anything(ch: str) -> bool:
    return True


_KEY_RUN = _Token(_anything, star=True)
_KEY_ONE = _Token(_anything)


def key_glob(pattern: str) -> Glob:
    """Shell-style ``fnmatch`` semantics, case-sensitive: ``*`` (any run, ``/`` included), ``?``,
    ``[seq]``, ``[!seq]``, ranges; an unclosed ``[`` is a literal."""
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            tokens.append(_KEY_RUN)
        elif c == "?":
            tokens.append(_KEY_ONE)
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                tokens.append(_literal("["))
            else:
                tokens.append(_Token(_bracket_test(_bracket_chunks(pattern, i, j))))
                i = j + 1
        else:
            tokens.append(_literal(c))
    return Glob(pattern, _merge_repeats(tokens))


# ------------------------------------------------------------------ change paths


def _in_segment(ch: str) -> bool:
    return ch not in ".["


def _in_selector(ch: str) -> bool:
    return ch != "]"


def _not_newline(ch: str) -> bool:
    return ch != "\n"


_ANY_RUN = _Token(_not_newline, star=True)  # like the regex ``.*`` it replaced: stops at a newline
_SEGMENT_RUN = _Token(_in_segment, star=True)


def path_glob(pattern: str) -> Glob:
    """Ignore-rule path syntax: ``**`` any run, ``*`` a run within a segment (never ``.`` or ``[``),
    ``[*]`` any list element (an index ``[3]`` or a selector ``[id=3]``), ``?`` one character of a
    segment; everything else literal."""
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**", i):
            tokens.append(_ANY_RUN)
            i += 2
        elif pattern.startswith("[*]", i):
            tokens += [_literal("["), _Token(_in_selector), _Token(_in_selector, star=True), _literal("]")]
            i += 3
        elif pattern[i] == "*":
            tokens.append(_SEGMENT_RUN)
            i += 1
        elif pattern[i] == "?":
            tokens.append(_Token(_in_segment))
            i += 1
        else:
            tokens.append(_literal(pattern[i]))
            i += 1
    return Glob(pattern, _merge_repeats(tokens))
