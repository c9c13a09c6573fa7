"""A webhook receiver on loopback for notification tests: records every request, answers as told.

    with Receiver() as rx:                      # http://127.0.0.1:<port>/hook/<secret path>
        rx.answer(503)                          # every request now gets 503 ...
        rx.answer(200)                          # ... and now 200
        rx.hold()                               # requests wait (up to 60 s) until rx.release()
        rx.requests                             # [Received(path, headers, body), ...]

It runs in a thread (ThreadingHTTPServer), so sync tests that start the operator as a process and
async tests that call the sender directly can both use it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, path: str = "/hook/T000-secret-path-0123456789") -> None:
        self.path = path
        self.requests: list[Received] = []
        self.attempts = 0  # requests seen, including those answered with an error
        self._status = 200
        self._body = b"ok"
        self._headers: dict[str, str] = {}
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts += 1
                    status, answer, headers = receiver._status, receiver._body, dict(receiver._headers)
                receiver._released.wait(60)
                if 200 <= status < 300:
                    with receiver._lock:
                        receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def answer(self, status: int, body: bytes = b"ok", headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._status, self._body, self._headers = status, body, dict(headers or {})

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
