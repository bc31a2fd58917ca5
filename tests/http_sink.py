"""A real HTTP server on loopback that records what is POSTed to it (a webhook receiver)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HttpSink:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._changed = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._changed:
                    sink.requests.append((self.path, dict(self.headers), body))
                    sink._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_json(self, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The first ``count`` JSON bodies, waiting up to ``timeout`` seconds for them."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.requests) >= count, timeout)
            assert arrived, f"{len(self.requests)} of {count} requests arrived in {timeout} s"
            return [json.loads(body) for _, _, body in self.requests[:count]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    try:
        yield sink
    finally:
        sink.close()
