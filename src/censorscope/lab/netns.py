"""Linux network namespaces: create, populate, enter and remove them.

Everything the lab creates is named ``<prefix><run id>-<role>`` so that it
can be found and removed again, even after a crash (``remove_leftovers``).
Links are created directly inside namespaces (``ip -n``), so nothing of the
lab ever appears in the host's own namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "cs-"
NETNS_RUN_DIR = Path("/run/netns")
NETNS_ETC_DIR = Path("/etc/netns")

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
# setns() switches the calling thread only; serialise switches per process
# so that two threads never interleave their enter/leave pairs.
_setns_lock = threading.Lock()


class CommandFailedError(RuntimeError):
    """A system command the lab relies on failed."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(argv)} exited {returncode}: {stderr.strip()}")
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr


def run(argv: Sequence[str], check: bool = True, stdin: str | None = None) -> str:
    """Run a command, return its stdout; raise CommandFailedError if it fails."""
    logger.debug("run %s", " ".join(argv))
    done = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise CommandFailedError(argv, done.returncode, done.stderr)
    return done.stdout


def in_namespace(namespace: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` inside ``namespace``."""
    return ["ip", "netns", "exec", namespace, *argv]


def list_namespaces() -> list[str]:
    """Names of all network namespaces known to iproute2."""
    names = []
    for line in run(["ip", "netns", "list"]).splitlines():
        if line.strip():
            names.append(line.split()[0])
    return names


def create_namespace(name: str) -> None:
    """Create ``name`` with its loopback up."""
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "dev", "lo", "up"])


def namespace_pids(name: str) -> list[int]:
    """Processes living in namespace ``name`` (started by the lab)."""
    output = run(["ip", "netns", "pids", name], check=False)
    return [int(word) for word in output.split() if word.isdigit()]


def delete_namespace(name: str) -> None:
    """Kill what still runs inside ``name``, delete it and its /etc/netns dir.

    Deleting a namespace also deletes the veth ends inside it and, with them,
    their peers.  Processes inside would otherwise keep it alive.
    """
    for pid in namespace_pids(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run(["ip", "netns", "del", name], check=False)
    shutil.rmtree(NETNS_ETC_DIR / name, ignore_errors=True)


def leftovers(prefix: str = PREFIX) -> list[str]:
    """Namespaces and /etc/netns folders whose name starts with ``prefix``."""
    names = {name for name in list_namespaces() if name.startswith(prefix)}
    if NETNS_ETC_DIR.is_dir():
        names |= {p.name for p in NETNS_ETC_DIR.iterdir() if p.name.startswith(prefix)}
    return sorted(names)


def remove_leftovers(prefix: str = PREFIX) -> list[str]:
    """Remove every namespace and /etc/netns folder starting with ``prefix``."""
    removed = leftovers(prefix)
    for name in removed:
        delete_namespace(name)
    return removed


def add_veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    """Create a veth pair with one end in each namespace, both up."""
    link = ["ip", "-n", ns_a, "link", "add", "name", name_a, "type", "veth"]
    run([*link, "peer", "name", name_b, "netns", ns_b])
    run(["ip", "-n", ns_a, "link", "set", "dev", name_a, "up"])
    run(["ip", "-n", ns_b, "link", "set", "dev", name_b, "up"])


def add_address(namespace: str, device: str, cidr: str) -> None:
    """Assign ``cidr`` (e.g. ``10.11.1.10/24``) to ``device``."""
    run(["ip", "-n", namespace, "addr", "add", cidr, "dev", device])


def add_route(namespace: str, destination: str, via: str) -> None:
    """Route ``destination`` (``default`` or a prefix) through ``via``."""
    run(["ip", "-n", namespace, "route", "add", destination, "via", via])


def sysctl(namespace: str, key: str, value: str) -> None:
    """Set a per-namespace sysctl such as ``net.ipv4.ip_forward``."""
    run(in_namespace(namespace, ["sysctl", "-q", "-w", f"{key}={value}"]))


def write_resolv_conf(namespace: str, nameserver: str, options: str) -> Path:
    """Give ``namespace`` its own resolv.conf (seen by ``ip netns exec``)."""
    folder = NETNS_ETC_DIR / namespace
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "resolv.conf"
    path.write_text(f"nameserver {nameserver}\noptions {options}\n")
    return path


@contextlib.contextmanager
def entered(namespace: str) -> Iterator[None]:
    """Run the body with the current thread inside ``namespace``.

    Sockets created in the body stay in that namespace for their whole life,
    which is how one process serves many namespaces at once.
    """
    with _setns_lock:
        target = os.open(NETNS_RUN_DIR / namespace, os.O_RDONLY)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def socket_in(
    namespace: str, kind: socket.SocketKind = socket.SOCK_STREAM
) -> socket.socket:
    """A new IPv4 socket that belongs to ``namespace``."""
    with entered(namespace):
        return socket.socket(socket.AF_INET, kind)
