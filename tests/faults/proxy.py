"""A fault proxy: a real HTTP/1.1 proxy between an agent and the server that spoils chosen answers.

Every request goes through to the server and is answered there (so its effect on the server is
real); a rule then decides what the agent gets back: the answer, a 502 instead of it, the answer
late, or the answer cut off mid-body with the connection closed. Rules match a method and a path
fragment and, optionally, a piece of the answer's body (``"assignments":[{`` for a poll that
carries work), and fire a set number of times. What fired is recorded, so a test can assert
that its fault happened.
"""

from __future__ import annotations

import socketserver
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler

import httpx

_PASSED_HEADERS = ("content-type", "x-suanli-expected-offset")


class Fault(Enum):
    BAD_GATEWAY = "answer 502 instead"  # the answer is lost, as a proxy reports it
    DELAY = "answer late"
    CUT = "cut the answer mid-body"  # headers and half the body, then the connection closes


@dataclass
class Rule:
    fault: Fault
    method: str
    path: str  # a fragment of the path, e.g. "/agent/assignments"
    body: bytes = b""  # the answer must contain this (b"": any answer)
    times: int = 1
    delay_s: float = 0.0
    fired: int = 0

    def matches(self, method: str, path: str, answer: bytes) -> bool:
        return self.fired < self.times and method == self.method and self.path in path and self.body in answer


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    log: list[tuple[str, str, Fault]] = field(default_factory=list)  # what fired: (method, path, fault)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        proxy = self
        self._client = httpx.Client(base_url=self.upstream, timeout=120)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the agent's client expects

            def log_message(self, format: str, *args: object) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except OSError:  # the agent gave up on its request (a timeout): nothing to answer
                    self.close_connection = True

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                try:
                    answer = proxy._client.request(self.command, self.path, headers=headers, content=body)
                except httpx.HTTPError:
                    self._send(502, b'{"detail": "the server does not answer"}', {})
                    return
                rule = proxy._fire(self.command, self.path, answer.content)
                if rule is not None and rule.fault is Fault.BAD_GATEWAY:
                    self._send(502, b"<html>502 Bad Gateway</html>", {"Content-Type": "text/html"})
                    return
                if rule is not None and rule.fault is Fault.DELAY:
                    time.sleep(rule.delay_s)
                keep = {
                    k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "x-suanli-expected-offset")
                }
                if rule is not None and rule.fault is Fault.CUT:
                    self.send_response(answer.status_code)
                    for key, value in keep.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(answer.content[: len(answer.content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(answer.status_code, answer.content, keep)

            def _send(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def _fire(self, method: str, path: str, answer: bytes) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path, answer):
                    rule.fired += 1
                    self.log.append((method, path, rule.fault))
                    return rule
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()
