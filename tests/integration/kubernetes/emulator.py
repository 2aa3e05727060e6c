"""kmock's Kubernetes API emulator served over HTTP for the official client: an in-memory
API server with no controllers, no scheduler and no pods, so tests move a Job's status
themselves (as the Job controller would). Imported by the fixtures only when kmock is there."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import kmock
from kubernetes import client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatedApiServer:
    """kmock's KubernetesEmulator served on one port from a loop thread; ``stop``/``start`` take
    the HTTP server away and back on the same port while the stored objects stay."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._emulator: Any = self._run(self._enter(kmock.KubernetesEmulator()))
        self._server: Any = None
        self.start()
        configuration = client.Configuration()
        configuration.host = self.url
        # Any: the tests send plain dicts, which the client accepts and its types do not.
        self.api: Any = client.ApiClient(configuration)
        self.batch: Any = client.BatchV1Api(self.api)
        self.core: Any = client.CoreV1Api(self.api)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    @staticmethod
    async def _enter(thing: Any) -> Any:
        return await thing.__aenter__()

    def start(self) -> None:
        self._server = self._run(self._enter(kmock.Server(self._emulator, port=self.port)))

    def stop(self) -> None:
        if self._server is not None:
            self._run(self._server.__aexit__(None, None, None))
            self._server = None

    def close(self) -> None:
        self.stop()
        self._run(self._emulator.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # -- what the Job controller would do ---------------------------------------------------

    def job(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self.api.sanitize_for_serialization(self.batch.read_namespaced_job(name, namespace)))

    def set_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.batch.patch_namespaced_job_status(name, namespace, {"status": status})
