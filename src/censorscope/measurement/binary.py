"""Bodies and header values that may not be UTF-8 ("MaybeBinaryData", df-001).

A value is stored as a plain JSON string when it is valid UTF-8 and otherwise
as ``{"format": "base64", "data": "<base64>"}``.  Certificates always use the
object form.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypedDict


class BinaryData(TypedDict):
    """The JSON object that carries bytes that are not UTF-8."""

    format: str
    data: str


MaybeBinary = str | BinaryData


def encode_binary(raw: bytes) -> BinaryData:
    """Always use the base64 object form (as for certificates)."""
    return {"format": "base64", "data": base64.b64encode(raw).decode("ascii")}


def encode_maybe_binary(raw: bytes) -> MaybeBinary:
    """A plain string when ``raw`` is UTF-8, the base64 object otherwise."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return encode_binary(raw)


def is_binary_object(value: Any) -> bool:
    """Tell whether ``value`` is the ``{"format": "base64", ...}`` object."""
    return (
        isinstance(value, dict)
        and value.get("format") == "base64"
        and isinstance(value.get("data"), str)
    )


class BinaryDecodeError(ValueError):
    """A base64 object whose data is not valid base64."""


def decode_maybe_binary(value: Any) -> bytes | None:
    """Return the bytes a MaybeBinary value stands for, ``None`` if it is null.

    Raises :class:`BinaryDecodeError` for a base64 object with broken data and
    ``TypeError`` for a value that is neither form.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if is_binary_object(value):
        try:
            return base64.b64decode(value["data"], validate=False)
        except binascii.Error as error:
            raise BinaryDecodeError(f"invalid base64 data: {error}") from error
    raise TypeError(f"not a string or base64 object: {type(value).__name__}")
