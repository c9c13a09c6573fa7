"""A git server for the demo: git's smart HTTP (``git http-backend``) over HTTPS with a token.

    GIT_TOKEN=... python3 git_https.py --root /srv/git --repo acme.git --cert tls.crt --key tls.key --port 8443

Standalone (the standard library and the ``git`` command only), so the demo runs it as a pod from
the operator's image, which has Debian's git but not ``jiradrift.dev``: the demo puts this file in a
ConfigMap. It creates the bare repository ``--repo`` (branch ``main``, pushes over HTTP allowed),
then serves every repository under ``--root``; a request without the token (HTTP basic auth, user
``x-access-token``) gets 401. ``tests/plugins/git.py`` serves the history tests with the same server
on loopback.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import ssl
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

USERNAME = "x-access-token"


class GitHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, token: str) -> None:
        super().__init__(address, Handler)
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{USERNAME}:{token}".encode()).decode()


class Handler(BaseHTTPRequestHandler):
    server: GitHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"git-https {self.command} {self.path.partition('?')[0]}\n")

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _cgi(self) -> None:
        if self.headers.get("Authorization") != self.server.expected:
            self._reply(401, [("WWW-Authenticate", 'Basic realm="git"')], b"token required\n")
            return
        body = self._body() if self.command == "POST" else b""
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": USERNAME,
            "REMOTE_ADDR": self.client_address[0],
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        done = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, timeout=120)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self._reply(status, headers, payload)

    do_GET = _cgi
    do_POST = _cgi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, required=True, help="Directory of the bare repositories.")
    parser.add_argument("--repo", required=True, help="The bare repository to create, e.g. acme.git.")
    parser.add_argument("--cert", type=Path, required=True, help="PEM certificate of the server's name.")
    parser.add_argument("--key", type=Path, required=True, help="PEM private key of that certificate.")
    parser.add_argument("--port", type=int, default=8443)
    args = parser.parse_args(argv)
    token = os.environ.get("GIT_TOKEN", "")
    if not token:
        print("git-https: set GIT_TOKEN", file=sys.stderr)
        return 2
    repo = args.root / args.repo
    if not repo.exists():
        subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(repo)], check=True)
        subprocess.run(["git", f"--git-dir={repo}", "config", "http.receivepack", "true"], check=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    server = GitHttpServer(("0.0.0.0", args.port), args.root, token)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"git-https serving {args.root} on :{args.port} (repository {args.repo})", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
