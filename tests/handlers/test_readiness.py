"""handlers/readiness.py: what the readiness endpoint answers in each state, over a real socket."""

from __future__ import annotations

import re
import socket

import httpx
import pytest

from jiradrift.handlers.readiness import Readiness, parse_endpoint, serve_readiness


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_waiting_ready_stopping() -> None:
    readiness = Readiness()
    url = f"http://127.0.0.1:{_port()}/readyz"
    runner = await serve_readiness(url, readiness)
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(url)
            assert r.status_code == 503 and r.json() == {"ready": False, "waiting": "startup"}
            readiness.waiting("the caches")
            assert (await client.get(url)).json()["waiting"] == "the caches"
            readiness.ready()
            r = await client.get(url)
            assert r.status_code == 200 and r.json() == {"ready": True}
            assert readiness.is_ready
            readiness.stopping()
            r = await client.get(url)
            assert r.status_code == 503 and "stopping" in r.json()["waiting"]
            assert (await client.get(url.replace("/readyz", "/other"))).status_code == 404
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("bad", ["", "0.0.0.0:8081", "https://0.0.0.0:8081/readyz", "http://0.0.0.0/readyz"])
def test_a_bad_endpoint_names_the_flag(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape("--readiness must look like http://0.0.0.0:8081/readyz")):
        parse_endpoint(bad)
