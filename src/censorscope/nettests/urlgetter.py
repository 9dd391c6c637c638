"""urlgetter: measure one target URL (standalone; the IM tests reuse its engine).

Inputs: ``https://...``/``http://...`` (GET following redirects),
``tcpconnect://host:port`` and ``dnslookup://host``.  Options
(``context.options``): ``Method`` (HTTP method), ``NoFollowRedirects``
(``true``/``false``).  Test keys: urlgetter's (``agent``,
``failed_operation``, ``failure``, ``queries``, ``tcp_connect``,
``tls_handshakes``, ``requests``, ``network_events``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from censorscope.nettests.base import (
    InputPolicy,
    NetTest,
    Summary,
    TestContext,
    TestResult,
)
from censorscope.nettests.common import (
    EXTENSIONS,
    InputError,
    Target,
    fetch_options,
    get,
    network_for,
)
from censorscope.netx import Trace

NAME: Final = "urlgetter"
SCHEMES: Final = ("http", "https", "tcpconnect", "dnslookup")


class URLGetter(NetTest):
    """Fetch, connect to or resolve one target and record every step."""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "0.2.0"
    input_policy: ClassVar[InputPolicy] = InputPolicy.REQUIRED

    async def run(self, context: TestContext, input: str | None) -> TestResult:
        """Measure ``input``; raises InputError for an unsupported target."""
        if not input or urlsplit(input).scheme not in SCHEMES:
            raise InputError(f"urlgetter needs one of {', '.join(SCHEMES)}: {input!r}")
        trace = Trace()
        method = context.options.get("Method", "GET")
        follow = context.options.get("NoFollowRedirects", "false").lower() != "true"
        options = fetch_options(context, follow_redirects=follow)
        outcome = await get(
            context, trace, network_for(context, NAME), Target(input, method), options
        )
        keys: dict[str, Any] = {
            "agent": "redirect" if follow else "agent",
            "failed_operation": outcome.failed_operation,
            "failure": outcome.failure,
            **trace.test_keys(),
        }
        return TestResult(keys, {}, dict(EXTENSIONS))

    def summarize(self, test_keys: Mapping[str, Any]) -> Summary:
        """Anomaly when the target failed."""
        failure = test_keys.get("failure")
        return Summary(anomaly=failure is not None, detail={"failure": failure})
