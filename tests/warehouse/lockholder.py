"""Another process holding a DuckDB file open, for the concurrency tests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Holds the file open (read-write or read-only) until its stdin closes.
HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
sys.stdin.read()
con.close()
"""


@contextmanager
def held(path: Path, *, read_only: bool = False) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``path`` open until the block ends."""
    mode = "ro" if read_only else "rw"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.stdin.close()
        process.wait(30)


def release_later(holder: subprocess.Popen[str], started: threading.Event) -> None:
    """Let ``holder`` go once the waiting call has started."""
    started.wait(30)
    time.sleep(0.3)  # let the call meet the lock (not asserted on)
    assert holder.stdin is not None
    holder.stdin.close()
