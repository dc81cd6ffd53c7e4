"""Helpers shared by the language-model tests (a real llama.cpp server, common inputs)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

CONTEXT = ("A user watched these movies in order: Toy Story (1995), Jumanji (1995), Heat (1995), "
           "GoldenEye (1995), Casino (1995). The next movie they watch is")
CANDIDATES = [" Titanic (1997)", " Sense and Sensibility (1995)", " Babe (1995)", " Se7en (1995)"]

N_THREADS = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A llama_cpp.server subprocess serving SmolLM2."""

    def __init__(self, model: Path, n_ctx: int = 512, timeout: float = 120.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        cmd = [sys.executable, "-m", "llm4rec.lm.llama_server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", str(N_THREADS),
               "--n_threads_batch", str(N_THREADS), "--logits_all", "True", "--verbose", "False"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ""
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}: {err}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"llama_cpp.server not ready after {timeout} s")
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only this server dies
        self.proc.wait(timeout=10)
