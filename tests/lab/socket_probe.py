"""A minimal client run inside a lab namespace: no censorscope code at all.

Usage: ``python socket_probe.py resolve NAME`` | ``fetch URL CA_BUNDLE`` |
``query SERVER NAME`` | ``connect HOST PORT``.  Prints one JSON object: what
a plain socket client sees, with errors named by kind (``timeout``,
``reset``, ``refused``...), so the lab's network can be tested independently
of the probe.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit

import dns.exception
import dns.message
import dns.query
import dns.rcode

TIMEOUT = 2.0


def resolve(name: str) -> dict[str, object]:
    try:
        infos = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as error:
        return {"error": f"gaierror {error.errno}"}
    return {"addresses": sorted({info[4][0] for info in infos})}


def _error_kind(error: BaseException) -> str:
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ssl.SSLCertVerificationError):
        return "certificate"
    return type(error).__name__


def fetch(url: str, ca_bundle: str) -> dict[str, object]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + TIMEOUT
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET)[0][4][0]
        sock = socket.create_connection((address, port), timeout=TIMEOUT)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_bundle)
            sock = context.wrap_socket(sock, server_hostname=host)
        request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}\r\n\r\n"
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if time.monotonic() > deadline:
                raise TimeoutError("too slow")
    except (OSError, ssl.SSLError) as error:
        return {"error": _error_kind(error)}
    head, _, body = data.partition(b"\r\n\r\n")
    title = re.search(rb"<title>([^<]*)</title>", body)
    location = re.search(rb"\r\nLocation: ([^\r]*)", head)
    return {
        "status": int(head.split(b" ")[1]),
        "title": title.group(1).decode() if title else None,
        "location": location.group(1).decode() if location else None,
    }


def connect(host: str, port: str) -> dict[str, object]:
    """A TCP connect and nothing more, like the IM tests' endpoint checks."""
    try:
        address = socket.getaddrinfo(host, int(port), socket.AF_INET)[0][4][0]
        socket.create_connection((address, int(port)), timeout=TIMEOUT).close()
    except OSError as error:
        return {"error": _error_kind(error)}
    return {"connected": address}


def query(server: str, name: str) -> dict[str, object]:
    message = dns.message.make_query(name, "A")
    try:
        response = dns.query.udp(message, server, timeout=TIMEOUT)
    except dns.exception.Timeout:
        return {"error": "timeout"}
    addresses = [item.to_text() for rrset in response.answer for item in rrset]
    return {"rcode": dns.rcode.to_text(response.rcode()), "addresses": addresses}


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    functions = {"resolve": resolve, "fetch": fetch, "query": query, "connect": connect}
    print(json.dumps(functions[command](*arguments)))
