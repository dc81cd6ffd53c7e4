"""Write one benchmark's Markdown section into docs/benchmarks.md, replacing its previous version."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import platform
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEvery section is written by a script in `bench/`; rerun the command shown to refresh it.\n"


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


def write_section(name: str, title: str, body: str, command: str | None = None) -> None:
    """Insert or replace the section ``name`` (delimited by HTML comments) in docs/benchmarks.md."""
    command = command or "python " + " ".join(sys.argv)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"<!-- bench:{name} -->\n## {title}\n\n"
             f"- date: {stamp}\n- machine: {machine()}\n- command: `{command}`\n\n{body.strip()}\n"
             f"<!-- /bench:{name} -->")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    # Benchmarks finish concurrently: read-modify-write under a lock, replace atomically.
    with open(DOC.with_name(".benchmarks.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = DOC.read_text() if DOC.exists() else HEADER
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        tmp = DOC.with_name(f".benchmarks.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(DOC)
