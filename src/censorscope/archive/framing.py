"""One compressed frame per JSON line, so files stay plain JSONL and seekable.

A zstd file made of concatenated frames decompresses with ``zstd -d`` (and
``zstandard``'s stream reader) to the concatenated lines; a gzip file of
concatenated members likewise with ``gzip -d``.  Because each line is its
own frame, the index can point at ``(offset, length)`` and one measurement
is read without touching the rest of the file.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

import zstandard

# Frames are small (one measurement), so a modest level costs little CPU
# and the writer stays fast; files can be recompressed when sealed if needed.
_ZSTD_LEVEL: Final = 3
_GZIP_LEVEL: Final = 6
_SCAN_WINDOW: Final = 1 << 16


class FramingError(ValueError):
    """Bytes that are not a whole frame of the expected compression."""


@dataclass(frozen=True)
class Frame:
    """Where one frame sits in a file, with its decompressed bytes."""

    offset: int
    length: int
    data: bytes


class Codec(Protocol):
    """Compression of single frames."""

    suffix: str

    def compress(self, data: bytes) -> bytes:
        """One self-contained frame holding ``data``."""
        ...

    def decompress(self, frame: bytes) -> bytes:
        """The data of exactly one frame; FramingError if it is not one."""
        ...

    def frames(self, blob: bytes) -> Iterator[Frame]:
        """Split a file into frames; FramingError at a damaged or cut frame."""
        ...


class _StreamDecoder(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


class _DecoderFactory(Protocol):
    def __call__(self) -> _StreamDecoder: ...


def _split(blob: bytes, make: _DecoderFactory) -> Iterator[Frame]:
    """Frames of ``blob``; each decoder stops at its frame's end."""
    view = memoryview(blob)
    offset = 0
    while offset < len(blob):
        decoder, window, output = make(), _SCAN_WINDOW, b""
        while True:
            chunk = bytes(view[offset : offset + window])
            output = _decode(decoder, chunk)
            if decoder.eof or offset + window >= len(blob):
                break
            window *= 4
        if not decoder.eof:
            raise FramingError(f"incomplete frame at offset {offset}")
        length = len(chunk) - len(decoder.unused_data)
        yield Frame(offset, length, output)
        offset += length


def _decode(decoder: _StreamDecoder, chunk: bytes) -> bytes:
    try:
        return decoder.decompress(chunk)
    except (zlib.error, zstandard.ZstdError) as error:
        raise FramingError(f"damaged frame: {error}") from error


class ZstdCodec:
    """zstd frames (``.jsonl.zst``).  Like zstandard's objects, not thread-safe."""

    suffix = "zst"

    def __init__(self, level: int = _ZSTD_LEVEL) -> None:
        self._level = level
        self._compressor: zstandard.ZstdCompressor | None = None
        self._decompressor = zstandard.ZstdDecompressor()

    def compress(self, data: bytes) -> bytes:
        # Created on first use: codecs made only for reading never pay for it.
        if self._compressor is None:
            self._compressor = zstandard.ZstdCompressor(level=self._level)
        return self._compressor.compress(data)

    def decompress(self, frame: bytes) -> bytes:
        decoder = self._decompressor.decompressobj()
        data = _decode(decoder, frame)
        if not decoder.eof or decoder.unused_data:
            raise FramingError("not exactly one zstd frame")
        return data

    def frames(self, blob: bytes) -> Iterator[Frame]:
        return _split(blob, self._decompressor.decompressobj)


def _gzip_decoder() -> _StreamDecoder:
    return zlib.decompressobj(wbits=31)


class GzipCodec:
    """gzip members (``.jsonl.gz``)."""

    suffix = "gz"

    def __init__(self, level: int = _GZIP_LEVEL) -> None:
        self._level = level

    def compress(self, data: bytes) -> bytes:
        return gzip.compress(data, compresslevel=self._level, mtime=0)

    def decompress(self, frame: bytes) -> bytes:
        decoder = _gzip_decoder()
        data = _decode(decoder, frame)
        if not decoder.eof or decoder.unused_data:
            raise FramingError("not exactly one gzip member")
        return data

    def frames(self, blob: bytes) -> Iterator[Frame]:
        return _split(blob, _gzip_decoder)


def codec_for(suffix: str) -> Codec:
    """The codec for a file suffix (``zst`` or ``gz``)."""
    if suffix == "zst":
        return ZstdCodec()
    if suffix == "gz":
        return GzipCodec()
    raise ValueError(f"unknown archive compression {suffix!r} (zst or gz)")
