"""Support of the fault-injection suite: scripted servers on 127.0.0.1, tiny data, CLI runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SERVER = Path(__file__).with_name("fake_server.py")
ROOT = Path(__file__).resolve().parents[2]


class FakeServer:
    """A :mod:`fake_server` subprocess: ``with FakeServer(tmp_path, "hang") as s: s.base_url``.

    Every request is logged; :attr:`requests` reads the log. The process serves at most
    ``max_requests`` requests and lives at most ``lifetime`` seconds.
    """

    def __init__(self, folder: Path, mode: str = "ok", max_requests: int = 20, lifetime: float = 30.0,
                 **opts: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"server-{mode}-{os.urandom(4).hex()}.jsonl"
        self.log.touch()
        cmd = [sys.executable, str(SERVER), "--mode", mode, "--log", str(self.log),
               "--max-requests", str(max_requests), "--lifetime", str(lifetime)]
        for k, v in opts.items():
            cmd += [f"--{k.replace('_', '-')}", str(v)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.port = int(line)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.strip()]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: bytes | None = None,
        timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``llm4rec ARGS`` in a subprocess with this checkout's sources first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    return subprocess.run([sys.executable, "-c", "from llm4rec.cli import entry; entry()", *args],
                          cwd=cwd, env=full_env, input=stdin, capture_output=True, timeout=timeout,
                          text=stdin is None)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A non-zero exit with an ``error:`` line naming ``needles`` and no traceback."""
    err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
    assert proc.returncode != 0, f"exit 0; stderr: {err[-800:]}"
    assert "Traceback" not in err, err[-2000:]
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert lines, err[-800:]
    for n in needles:
        assert n in lines[-1], (n, lines[-1])


def cli_inprocess(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``llm4rec ARGS`` through :func:`llm4rec.cli.entry` in this process (no interpreter start-up):
    exit code and captured stdout/stderr as a :class:`subprocess.CompletedProcess`."""
    import contextlib
    import io
    from unittest import mock

    from llm4rec.cli import entry

    out, err = io.StringIO(), io.StringIO()
    code = 0
    stdin_stream = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    with (mock.patch.object(sys, "argv", ["llm4rec", *args]), mock.patch.object(sys, "stdin", stdin_stream),
          contextlib.redirect_stdout(out), contextlib.redirect_stderr(err)):
        try:
            entry()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(["llm4rec", *args], code, out.getvalue(), err.getvalue())
