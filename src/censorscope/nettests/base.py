"""The contract between the probe runner and the network tests.

A network test measures one input (or none) and returns its test keys; the
runner wraps them in a measurement (base keys, times, network identity,
privacy scrubbing), stores and uploads it.  Tests never see the probe's IP.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar


class InputPolicy(Enum):
    """Whether a test takes an input (OONI's input policies)."""

    REQUIRED = "required"  # web_connectivity, urlgetter: one measurement per input
    NONE = "none"  # IM and middlebox tests: one measurement, input null
    OPTIONAL = "optional"  # dnscheck, stunreachability: built-in defaults if none


@dataclass(frozen=True)
class TestContext:
    """What a test needs from the probe session.

    ``endpoints`` holds per-test overrides of hostnames, addresses and ports
    (keyed by test name); every test has today's real values as defaults so
    that the lab can point a test at its own servers.

    ``resolver`` names the DNS server the tests use instead of the system
    resolver (``"IP:PORT"``, ``"udp://..."``, ``"tcp://..."``, ``"https://..."``;
    None = getaddrinfo); a test's ``endpoints[test]["resolver"]`` overrides it.
    ``asn_lookup`` maps an IP to ``(asn, organisation)`` (0 when unknown); tests
    that compare networks (web_connectivity, facebook_messenger) use it.
    """

    __test__ = False  # not a pytest test class, despite the name

    test_helpers: tuple[str, ...] = ("https://0.th.ooni.org/",)
    ca_bundle: str | None = None
    endpoints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    timeout: float = 10.0
    resolver_ip: str = "127.0.0.2"
    options: Mapping[str, str] = field(default_factory=dict)
    resolver: str | None = None
    asn_lookup: Callable[[str], tuple[int, str]] | None = None

    def endpoint(self, test_name: str, key: str, default: Any) -> Any:
        """The configured endpoint value for ``test_name``, or the default."""
        return self.endpoints.get(test_name, {}).get(key, default)


@dataclass
class TestResult:
    """What one run of a test produced."""

    __test__ = False  # not a pytest test class, despite the name

    test_keys: dict[str, Any]
    test_helpers: dict[str, Any] = field(default_factory=dict)
    extensions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    """The probe-side verdict shown in progress bars and ``results list``."""

    anomaly: bool
    detail: dict[str, Any] = field(default_factory=dict)


class NetTest(abc.ABC):
    """One OONI network test."""

    name: ClassVar[str]
    version: ClassVar[str]
    input_policy: ClassVar[InputPolicy]

    def default_inputs(self) -> list[str]:
        """Inputs used when the user gives none (InputPolicy.OPTIONAL)."""
        return []

    @abc.abstractmethod
    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure ``input`` and return the test keys."""

    @abc.abstractmethod
    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Condense test keys into the probe-side verdict."""
