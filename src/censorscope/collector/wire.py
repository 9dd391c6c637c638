"""Request bodies as they arrive: bounded reading, decompression, JSON.

Limits apply twice: to the bytes on the wire and to the bytes after
decompression, so a small compressed body cannot expand without bound.
"""

from __future__ import annotations

import io
import zlib
from typing import Any, Final

import orjson
import zstandard
from fastapi import Request

from censorscope.collector.errors import CollectorError, bad_request

_GZIP_WBITS: Final = 31
_IDENTITY: Final = frozenset({"", "identity"})


def _too_large(limit: int, what: str) -> CollectorError:
    return CollectorError(
        413, "body_too_large", f"{what} exceeds the limit of {limit} bytes"
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw request body, refused with 413 as soon as it passes ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, f"request body of {declared} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, "request body")
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(body: bytes, limit: int) -> bytes:
    output = bytearray()
    remaining = body
    # Concatenated gzip members are one valid gzip stream.
    while remaining:
        decoder = zlib.decompressobj(wbits=_GZIP_WBITS)
        output += decoder.decompress(remaining, limit + 1 - len(output))
        if len(output) > limit or decoder.unconsumed_tail:
            raise _too_large(limit, "decompressed body")
        if not decoder.eof:
            raise bad_request("bad_encoding", "gzip body is truncated")
        remaining = decoder.unused_data
    return bytes(output)


def _unzstd(body: bytes, limit: int) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(body), read_across_frames=True
    )
    output = reader.read(limit + 1)
    if len(output) > limit:
        raise _too_large(limit, "decompressed body")
    return output


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, zstd or none) within ``limit`` bytes."""
    encoding = (content_encoding or "").strip().lower()
    try:
        if encoding in _IDENTITY:
            return body
        if encoding in ("gzip", "x-gzip"):
            return _gunzip(body, limit)
        if encoding == "zstd":
            return _unzstd(body, limit)
    except (zlib.error, zstandard.ZstdError) as error:
        raise bad_request(
            "bad_encoding", f"cannot decode {encoding} body: {error}"
        ) from None
    raise CollectorError(
        415, "unsupported_encoding", f"Content-Encoding {encoding!r} (use gzip or zstd)"
    )


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; 400 ``invalid_json`` naming the position."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise bad_request("invalid_json", f"body is not valid JSON: {error}") from None


async def read_json(request: Request, limit: int) -> Any:
    """Read, decode and parse a JSON request body."""
    body = await read_body(request, limit)
    decoded = decode_body(body, request.headers.get("content-encoding"), limit)
    return parse_json(decoded)
