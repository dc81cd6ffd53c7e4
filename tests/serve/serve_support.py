"""A real uvicorn server on 127.0.0.1 (in a thread of the test process) for the serving tests."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """Serves ``app`` with uvicorn on a free port until :meth:`stop`."""

    def __init__(self, app, timeout: float = 20.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, **{"timeout": 30.0, **kw})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
