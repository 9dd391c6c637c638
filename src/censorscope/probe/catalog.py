"""Which tests a ``run`` target names: a group, a registered test, or a class.

Targets are looked up in ``censorscope.nettests.REGISTRY`` and ``GROUPS``.
A target of the form ``package.module:ClassName`` runs a NetTest subclass
that is not (yet) registered, which is how researchers try new tests.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from censorscope.nettests.base import NetTest

logger = logging.getLogger(__name__)

GROUP_NAMES = ("websites", "im", "middlebox", "experimental")


class UnknownTestError(LookupError):
    """A target that names no group, test or importable NetTest class."""


@dataclass(frozen=True)
class Catalog:
    """The registered tests and groups."""

    registry: Mapping[str, type[NetTest]] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every group and test name, for error messages and help."""
        return sorted(set(self.groups) | set(self.registry))


def load_catalog() -> Catalog:
    """The registry of ``censorscope.nettests`` (empty while it has none)."""
    try:
        module = importlib.import_module("censorscope.nettests")
    except ImportError as error:
        logger.warning("network tests unavailable: %s", error)
        return Catalog()
    registry = getattr(module, "REGISTRY", {})
    groups = getattr(module, "GROUPS", {})
    return Catalog(registry=registry, groups=groups)


def _import_class(target: str) -> type[NetTest]:
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownTestError(f"cannot import {module_name}: {error}") from error
    candidate = getattr(module, class_name, None)
    if not (isinstance(candidate, type) and issubclass(candidate, NetTest)):
        raise UnknownTestError(f"{target} is not a NetTest subclass")
    return candidate


def resolve_target(target: str, catalog: Catalog) -> list[type[NetTest]]:
    """The test classes ``target`` stands for, in run order."""
    if target in catalog.groups:
        missing = [n for n in catalog.groups[target] if n not in catalog.registry]
        if missing:
            raise UnknownTestError(f"group {target} names unknown tests: {missing}")
        return [catalog.registry[name] for name in catalog.groups[target]]
    if target in catalog.registry:
        return [catalog.registry[target]]
    if ":" in target:
        return [_import_class(target)]
    known = ", ".join(catalog.names()) or "none registered yet"
    raise UnknownTestError(f"unknown test or group {target!r} (known: {known})")
