"""A resolver the egress tests inject: fixed answers per name, and a record of every lookup
(no /etc/hosts edit, no DNS server)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

Resolve = Callable[[str, int], Awaitable[Sequence[str]]]


def fake_resolver(answers: dict[str, Sequence[str]]) -> tuple[list[str], Resolve]:
    """``(asked, resolve)``: ``resolve`` answers from ``answers``; ``asked`` lists the names looked up."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return answers[host]

    return asked, resolve
