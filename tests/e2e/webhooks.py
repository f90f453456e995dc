"""A local webhook receiver for the notification tests, and helpers to point a ScheduledJob at it."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes import client


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Delivery:
    path: str
    body: dict[str, Any]
    received: float
    """time.time() when the request arrived."""


class WebhookServer:
    """An HTTP server on 127.0.0.1 that records every POST and responds with status after delay seconds."""

    def __init__(self, port: int | None = None, *, delay: float = 0.0, status: int = 200) -> None:
        self.port = port or free_port()
        self.delay = delay
        self.status = status
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server interface)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.deliveries.append(Delivery(self.path, body, time.time()))
                if owner.delay:
                    time.sleep(owner.delay)
                try:
                    self.send_response(owner.status)
                    self.end_headers()
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the http.server interface)
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self, event: str | None = None, run: str | None = None) -> list[Delivery]:
        """Return the deliveries, optionally only those of one event and one run (JSON bodies)."""
        with self._lock:
            found = list(self.deliveries)
        if event is not None:
            found = [d for d in found if d.body.get("event") == event]
        if run is not None:
            found = [d for d in found if d.body.get("run") == run]
        return found


def create_url_secret(core: client.CoreV1Api, namespace: str, name: str, urls: dict[str, str]) -> None:
    """Create a Secret whose keys hold webhook URLs."""
    data = {key: base64.b64encode(url.encode()).decode() for key, url in urls.items()}
    core.create_namespaced_secret(namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=name), data=data))


def sink(name: str, events: list[str], secret: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "events": events, "urlSecretRef": {"name": secret, "key": key}, **extra}
