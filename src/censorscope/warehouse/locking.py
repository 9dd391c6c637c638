"""Taking turns on one DuckDB file: open with retry, name whoever holds it.

DuckDB lets one process open a database file for writing (an exclusive
``fcntl`` lock on the file), or several for reading (shared locks), and
refuses at once, without waiting, when the lock is taken.  Every censorscope
process therefore opens the warehouse only for the duration of one unit of
work (a batch, a query) and :func:`open_file` retries a refused open with
exponential backoff until a deadline, then raises
:class:`~censorscope.warehouse.base.WarehouseBusyError` naming the holder
(its PID and command line, read from ``/proc``).

DuckDB's refusal is immediate and the kernel queues nobody, so a writer
that reopens the file as soon as it closed it (a fast ingest) could keep a
polling waiter out indefinitely.  Waiters therefore announce themselves
with a shared ``flock`` on ``<file>.waiters`` (created beside the database,
empty) while they retry, and every opener that is not itself waiting first
yields, up to half a second, while anyone is announced.

Inside one process the threads take turns too: every store on a file takes
:func:`process_lock` for the file (one per resolved path) while it has the
file open, which also keeps DuckDB from meeting the same file attached twice
in one process.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb

from censorscope.warehouse.base import WarehouseBusyError, WarehouseError

logger = logging.getLogger(__name__)

WRITE_TIMEOUT: Final = 60.0
"""Seconds a writer (ingest, rescore) waits for the lock before giving up."""
READ_TIMEOUT: Final = 10.0
"""Seconds a reader (CLI queries, the read endpoints) waits for the lock."""

_FIRST_DELAY: Final = 0.002
# Short enough that a waiter finds the gap between two ingest batches
# (the holder typically keeps the file 50-200 ms, then scores for longer).
_MAX_DELAY: Final = 0.05
_SLOW_WAIT: Final = 5.0
_MAX_YIELD: Final = 0.5
_YIELD_STEP: Final = 0.005
WAITERS_SUFFIX: Final = ".waiters"
_CONFLICT: Final = "Could not set lock on file"
_HOLDER_RE: Final = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")

_process_locks: dict[str, threading.RLock] = {}
_registry_lock = threading.Lock()


def process_lock(path: str | Path) -> threading.RLock:
    """The lock serialising this process's connections to the file ``path``."""
    key = os.path.realpath(path)
    with _registry_lock:
        return _process_locks.setdefault(key, threading.RLock())


def describe_holder(message: str) -> str:
    """'PID n (command line)' of the lock holder named in a DuckDB error."""
    match = _HOLDER_RE.search(message)
    if match is None:
        return "another process"
    program, pid = match.group(1), int(match.group(2))
    if pid == os.getpid():
        return f"this process (PID {pid}, another DuckDB instance)"
    return f"PID {pid} ({_command_line(pid) or program})"


def _command_line(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    words = [word.decode(errors="replace") for word in raw.split(b"\0") if word]
    return " ".join(words) or None


def is_lock_conflict(error: duckdb.Error) -> bool:
    """Whether DuckDB refused an open because another process holds the file."""
    return isinstance(error, duckdb.IOException) and _CONFLICT in str(error)


def open_file(
    path: str,
    attach: Callable[[], None],
    *,
    timeout: float,
    lock: threading.RLock,
) -> None:
    """Run ``attach`` (which opens ``path``), retrying while another process holds it.

    Each attempt is made holding ``lock`` (the file's :func:`process_lock`),
    which is still held on return: the caller releases it after closing the
    file.  Between attempts the lock is free, so other threads of this
    process can take their turn.  Raises :class:`WarehouseBusyError` (naming
    the holder) after ``timeout`` seconds of refusals, :class:`WarehouseError`
    for any other failure.
    """
    _yield_to_waiters(path)
    backoff = _Backoff(path, timeout)
    announced: int | None = None
    try:
        while (error := _attempt(path, attach, lock, backoff)) is not None:
            if announced is None:
                announced = _announce(path)
            backoff.wait(str(error))
    finally:
        if announced is not None:
            os.close(announced)  # releases the announcement


@dataclass
class _Backoff:
    """Exponential backoff with jitter until a deadline, for one open."""

    path: str
    timeout: float
    started: float = field(default_factory=time.monotonic)
    delay: float = _FIRST_DELAY
    warned: bool = False

    def wait(self, error: str) -> None:
        """Sleep before the next attempt, or raise when the time is spent."""
        holder = describe_holder(error)
        waited = time.monotonic() - self.started
        if waited + self.delay > self.timeout:
            raise WarehouseBusyError(self.path, holder, waited)
        if self.delay == _FIRST_DELAY:
            logger.debug("%s is locked by %s; retrying", self.path, holder)
        if waited > _SLOW_WAIT and not self.warned:
            self.warned = True
            logger.warning("waiting for %s: locked by %s", self.path, holder)
        # Jitter: two waiters retrying in step would collide again.
        time.sleep(self.delay * random.uniform(0.5, 1.0))
        self.delay = min(self.delay * 2, _MAX_DELAY)


def _waiters_file(path: str) -> int | None:
    """A descriptor of ``<path>.waiters`` (created if possible), or None."""
    name = path + WAITERS_SUFFIX
    try:
        return os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError:
        try:  # a read-only directory: the file may still be there
            return os.open(name, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            logger.debug("no %s: taking turns without announcing", name)
            return None


def _announce(path: str) -> int | None:
    """Announce this process as waiting for ``path`` (until the fd is closed)."""
    fd = _waiters_file(path)
    if fd is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)  # someone is checking right now: announce next time
        return None
    return fd


def _yield_to_waiters(path: str) -> None:
    """Wait (up to ``_MAX_YIELD``) while another opener is announced as waiting."""
    fd = _waiters_file(path)
    if fd is None:
        return
    deadline = time.monotonic() + _MAX_YIELD
    try:
        if _someone_waits(fd):
            logger.debug("yielding to another opener waiting for %s", path)
            while _someone_waits(fd) and time.monotonic() < deadline:
                time.sleep(_YIELD_STEP)
    finally:
        os.close(fd)


def _someone_waits(fd: int) -> bool:
    """Whether an announcement (a shared flock) is held on the waiters file."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _attempt(
    path: str,
    attach: Callable[[], None],
    lock: threading.RLock,
    backoff: _Backoff,
) -> duckdb.Error | None:
    """None when ``attach`` succeeded (``lock`` kept), else the lock conflict."""
    left = backoff.started + backoff.timeout - time.monotonic()
    if not lock.acquire(timeout=max(left, 0.0)):
        waited = time.monotonic() - backoff.started
        raise WarehouseBusyError(path, "another thread of this process", waited)
    try:
        attach()
    except duckdb.Error as error:
        lock.release()
        if not is_lock_conflict(error):
            raise WarehouseError(f"cannot open warehouse {path}: {error}") from error
        return error
    except BaseException:
        lock.release()
        raise
    return None
