"""Parsing the ``run`` options that are more than plain values.

Each parser raises :class:`OptionError` naming the option and what is wrong,
for the CLI to print as one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from censorscope.measurement.model import parse_time


class OptionError(ValueError):
    """An option value that cannot be used."""


def parse_pairs(values: Iterable[str], option: str) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> dict (``--annotation``, ``--option``)."""
    pairs = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"{option} expects KEY=VALUE, got {value!r}")
        pairs[key.strip()] = text
    return pairs


def parse_clock(text: str | None) -> datetime | None:
    """``--time "YYYY-MM-DD HH:MM:SS"`` (UTC) -> aware datetime."""
    if text is None:
        return None
    parsed = parse_time(text)
    if parsed is None:
        raise OptionError(f'--time expects "YYYY-MM-DD HH:MM:SS", got {text!r}')
    return parsed


def load_endpoints(path: Path | None) -> Mapping[str, Mapping[str, Any]]:
    """Per-test endpoint overrides from a JSON or YAML file.

    The file maps test names to objects, e.g.
    ``{"whatsapp": {"registration_url": "https://10.0.0.5/"}}``.
    """
    if path is None:
        return {}
    try:
        # YAML is a superset of JSON, so one parser reads both.
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise OptionError(f"--endpoints {path}: {error}") from error
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, dict) for v in value.values()
    ):
        raise OptionError(
            f"--endpoints {path}: expected a mapping of test name to mapping"
        )
    return value
