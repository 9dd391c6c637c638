"""The QA suite: single-condition cases with the verdict each must produce.

Every case is one URL measured from one ISP while the censor applies the
case's actions (none for the cases that are not censorship).  Expected
verdicts are those of the classic v0.4 web-connectivity rules, which our
probe implements: the v0.4 column of OONI's QA table where a row has one
(``ooni #N``), else what the classic decision tree gives for that condition.
Where that differs from the truth (classic calls a dead site ``tcp_ip``,
cannot decide when the test helper fails too...), ``note`` says so and gives
the LTE column: those cases pin classic's known limits, not endorse them.

Cases run in parallel lanes: the QA lab has several identical ISPs and each
lane applies one case at a time to its own router, so cases never see each
other's censorship.  Conditions of the internet itself (a name that exists
nowhere, a dead server) are distinct names in the standard internet.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from censorscope.lab import addressing as plan
from censorscope.lab.censor import Action, CensorAction, DnsPlace
from censorscope.lab.internet import TEST_HELPER_NAME
from censorscope.lab.probe import ProbeError, ProbeRun, run_probe, verdict
from censorscope.lab.topology import IspSpec, Lab

logger = logging.getLogger(__name__)

EXAMPLE = "www.example.com"
OTHER_SITE = "10.200.7.10"  # the "Yandex" host: another AS, another certificate
UNTRUSTED_SITE = "10.200.6.10"  # the bad-TLS host, default cert from an unknown CA
RESOLVER, PATH = DnsPlace.RESOLVER, DnsPlace.PATH
Blocking = str | bool | None


@dataclass(frozen=True)
class QaCase:
    """One condition, the URL measured under it, and the verdict expected."""

    name: str
    url: str
    actions: tuple[CensorAction, ...]
    blocking: Blocking
    accessible: bool | None
    source: str  # "ooni #N" (reference QA table row) or "lab"
    note: str = ""  # where classic v0.4's verdict is not the truth


def _act(
    action: Action,
    target: str = EXAMPLE,
    via: DnsPlace = RESOLVER,
    addresses: tuple[str, ...] = (),
    ports: tuple[int, ...] = (),
) -> CensorAction:
    return CensorAction(action, target, via, addresses, ports)


def _case(  # noqa: PLR0917 - one positional row per case keeps the table legible
    name: str,
    url: str,
    actions: Sequence[CensorAction],
    blocking: Blocking,
    accessible: bool | None,
    source: str = "lab",
    note: str = "",
) -> QaCase:
    return QaCase(name, url, tuple(actions), blocking, accessible, source, note)


HTTP, HTTPS = f"http://{EXAMPLE}/", f"https://{EXAMPLE}/"
_REFUSED_EVERYWHERE = "refused for the TH too: classic false positive; LTE: false/false"
_CONTROL_FAILS_TOO = "the TH's fetch fails too, classic cannot decide; LTE: false/false"
TO_HTTP, TO_HTTPS = "https://bit.ly/32447", "https://bit.ly/21645"
A = Action

CASES: tuple[QaCase, ...] = (
    # No interference.
    _case("success-http", HTTP, [], False, True, "ooni #40"),
    _case("success-https", HTTPS, [], False, True, "ooni #41"),
    # DNS blocking.
    _case("dns-nxdomain-resolver", HTTPS, [_act(A.DNS_NXDOMAIN)], "dns", False,
          "ooni #11"),
    _case("dns-nxdomain-injected", HTTP, [_act(A.DNS_NXDOMAIN, via=PATH)], "dns",
          False),
    _case("dns-bogon-resolver", HTTPS, [_act(A.DNS_BOGON)], "dns", False, "ooni #10"),
    _case("dns-bogon-injected", HTTP, [_act(A.DNS_BOGON, via=PATH)], "dns", False),
    _case("dns-hijack-blockpage-http", HTTP, [_act(A.DNS_HIJACK)], "dns", False),
    _case("dns-hijack-blockpage-https", HTTPS, [_act(A.DNS_HIJACK, via=PATH)], "dns",
          False),
    _case("dns-lie-unknown-authority", HTTPS,
          [_act(A.DNS_LIE, addresses=(UNTRUSTED_SITE,))], "dns", False, "ooni #4"),
    _case("dns-localhost-injected-http", HTTP, [_act(A.DNS_LOCALHOST, via=PATH)],
          "dns", False, "ooni #12"),
    _case("dns-localhost-injected-https", HTTPS, [_act(A.DNS_LOCALHOST, via=PATH)],
          "dns", False, "ooni #13"),
    _case("dns-no-answer-resolver", HTTPS, [_act(A.DNS_NO_ANSWER)], None, None,
          note="no address, no request: classic cannot decide; truth: dns"),
    _case("dns-to-transparent-proxy-http", HTTP, [_act(A.DNS_PROXY)], False, True,
          "ooni #14"),
    _case("ghost-dns-https", "https://itsat.info/",
          [_act(A.DNS_HIJACK, "itsat.info", PATH)], "dns", False, "ooni #17"),
    # TCP/IP blocking.
    _case("tcp-blackhole-https", HTTPS, [_act(A.IP_BLACKHOLE, ports=(443,))],
          "tcp_ip", False, "ooni #42"),
    _case("tcp-blackhole-http", HTTP, [_act(A.IP_BLACKHOLE, ports=(80,))], "tcp_ip",
          False),
    _case("tcp-refused-http", HTTP, [_act(A.IP_REJECT, ports=(80,))], "tcp_ip",
          False),
    _case("tcp-refused-https", HTTPS, [_act(A.IP_REJECT, ports=(443,))], "tcp_ip",
          False),
    _case("tcp-refused-inconsistent-dns", "http://www.example.org/",
          [_act(A.DNS_HIJACK, "www.example.org"),
           _act(A.IP_REJECT, plan.BLOCKPAGE, ports=(80,))], "dns", False,
          "ooni #43"),
    _case("ip-reset-https", HTTPS, [_act(A.IP_RESET, ports=(443,))], "http-failure",
          False),
    # TLS blocking.
    _case("tls-sni-reset", HTTPS, [_act(A.TLS_RESET)], "http-failure", False,
          "ooni #46"),
    _case("tls-sni-drop", HTTPS, [_act(A.TLS_DROP)], "http-failure", False),
    _case("tls-sni-reset-inconsistent-dns", HTTPS,
          [_act(A.TLS_RESET), _act(A.DNS_LIE, addresses=(OTHER_SITE,))], "dns",
          False, "ooni #47"),
    # HTTP blocking.
    _case("http-reset", HTTP, [_act(A.HTTP_RESET)], "http-failure", False,
          "ooni #18"),
    _case("http-blockpage", HTTP, [_act(A.HTTP_BLOCKPAGE)], "http-diff", False,
          "ooni #19"),
    _case("http-blockpage-inconsistent-dns", HTTP,
          [_act(A.HTTP_BLOCKPAGE), _act(A.DNS_LIE, addresses=(OTHER_SITE,))], "dns",
          False, "ooni #20"),
    _case("http-redirect-to-blockpage", HTTP, [_act(A.HTTP_REDIRECT)], "http-diff",
          False),
    # Redirects to a blocked destination.
    _case("redirect-then-refused-http", TO_HTTP,
          [_act(A.IP_REJECT, ports=(80, 443))], "http-failure", False, "ooni #29"),
    _case("redirect-then-refused-https", TO_HTTPS,
          [_act(A.IP_REJECT, ports=(80, 443))], "http-failure", False, "ooni #30"),
    _case("redirect-then-reset-http", TO_HTTP,
          [_act(A.HTTP_RESET), _act(A.TLS_RESET)], "http-failure", False,
          "ooni #31"),
    _case("redirect-then-reset-https", TO_HTTPS,
          [_act(A.HTTP_RESET), _act(A.TLS_RESET)], "http-failure", False,
          "ooni #32"),
    _case("redirect-then-nxdomain", TO_HTTPS, [_act(A.DNS_NXDOMAIN, via=PATH)],
          "dns", False, "ooni #33"),
    _case("redirect-then-timeout-https", TO_HTTPS, [_act(A.TLS_DROP)],
          "http-failure", False, "ooni #37"),
    # Throttling.
    _case("throttling-https", "https://largefile.com/",
          [CensorAction(A.THROTTLE, "largefile.com", rate="16kbit")],
          "http-failure", False, "ooni #45"),
    # Not censorship: the website is down or misconfigured.
    _case("website-down-nxdomain", "http://www.example.xyz/", [], False, True,
          "ooni #48", "classic calls NXDOMAIN everywhere accessible; LTE: false/false"),
    _case("website-down-no-addresses", "http://noaddrs.example.net/", [], "dns",
          False, "ooni #49", "getaddrinfo says EAI_NONAME for a CNAME without A, "
          "the TH finds no address: classic false positive; LTE: false/false"),
    _case("website-down-tcp-refused", "http://www.example.com:444/", [], "tcp_ip",
          False, "ooni #50", _REFUSED_EVERYWHERE),
    _case("website-down-no-server", "http://down.example.net/", [], "tcp_ip", False,
          note=_REFUSED_EVERYWHERE),
    _case("website-server-error", "http://www.example.net/", [], False, True),
    _case("localhost-http", "http://localhost.example.net/", [], "tcp_ip", False,
          "ooni #25", _REFUSED_EVERYWHERE),
    _case("localhost-https", "https://localhost.example.net/", [], "tcp_ip", False,
          "ooni #26", _REFUSED_EVERYWHERE),
    # Bad certificates are the site's problem, not censorship.
    _case("bad-cert-unknown-authority", "https://untrusted-root.badssl.com/", [],
          None, None, "ooni #1", _CONTROL_FAILS_TOO),
    _case("bad-cert-expired", "https://expired.badssl.com/", [], None, None,
          "ooni #2", _CONTROL_FAILS_TOO),
    _case("bad-cert-wrong-name", "https://wrong.host.badssl.com/", [], None, None,
          "ooni #3", _CONTROL_FAILS_TOO),
    # Pages that must not be called blocked.
    _case("captcha-http", "http://www.cloudflare-cache.com/", [], "http-diff",
          False, "ooni #5"),
    _case("captcha-https", "https://www.cloudflare-cache.com/", [], False, True,
          "ooni #6"),
    _case("large-file-http", "http://largefile.com/", [], False, True, "ooni #23"),
    _case("large-file-https", "https://largefile.com/", [], False, True,
          "ooni #24"),
    _case("idna-lowercase", "http://яндекс.рф/", [], False, True, "ooni #21"),
    _case("idna-uppercase", "http://Яндекс.рф/", [], False, True, "ooni #22"),
    _case("too-many-redirects", "http://httpbin.com/redirect/15", [], None, None,
          "ooni #38", "classic maps no verdict to this failure; LTE: false/false"),
    _case("broken-redirect-http", "http://httpbin.com/broken-redirect-http", [],
          "http-failure", False, "ooni #27",
          "classic v0.4.3 maps no verdict to this failure; we follow LTE"),
    # The test helper itself is blocked.
    _case("control-failure-http", "http://www.example.org/",
          [_act(A.TLS_RESET, TEST_HELPER_NAME)], None, None, "ooni #7"),
    _case("control-failure-https", "https://www.example.org/",
          [_act(A.TLS_RESET, TEST_HELPER_NAME)], False, True, "ooni #8"),
)  # fmt: skip


@dataclass
class QaOutcome:
    """What the probe said for one case."""

    case: QaCase
    blocking: Blocking = None
    accessible: bool | None = None
    error: str | None = None
    seconds: float = 0.0
    test_keys: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and self.blocking == self.case.blocking
            and self.accessible == self.case.accessible
        )


def qa_isps(lanes: int) -> list[IspSpec]:
    """The identical ISPs whose routers the QA lanes use."""
    return [
        IspSpec(f"qa{n}", 65000 + n, "IT", f"Lab QA Telecom {n}")
        for n in range(1, lanes + 1)
    ]


def select_cases(names: Sequence[str] = ()) -> list[QaCase]:
    """All cases, or those whose name contains one of ``names``."""
    if not names:
        return list(CASES)
    return [case for case in CASES if any(name in case.name for name in names)]


def run_case(lab: Lab, isp: str, case: QaCase, workdir: Path) -> QaOutcome:
    """Apply the case's censorship on ``isp``, run the probe, clear the censor."""
    censor = lab.isp(isp).censor
    started = time.monotonic()
    outcome = QaOutcome(case)
    try:
        censor.apply(case.actions)
        run = ProbeRun(isp, [case.url], workdir / f"{case.name}.jsonl")
        measurements = run_probe(lab, run)
        if len(measurements) != 1:
            outcome.error = f"expected 1 measurement, got {len(measurements)}"
        else:
            outcome.blocking, outcome.accessible = verdict(measurements[0])
            outcome.test_keys = _key_results(measurements[0])
    except ProbeError as error:
        outcome.error = str(error)
    finally:
        censor.clear()
    outcome.seconds = time.monotonic() - started
    return outcome


_KEYS = (
    "dns_experiment_failure", "dns_consistency", "control_failure",
    "http_experiment_failure", "body_length_match", "status_code_match",
    "headers_match", "title_match",
)  # fmt: skip


def _key_results(measurement: dict[str, Any]) -> dict[str, Any]:
    keys = measurement.get("test_keys") or {}
    return {name: keys.get(name) for name in _KEYS}


def run_qa(
    lab: Lab,
    cases: Sequence[QaCase],
    workdir: Path,
    on_done: Callable[[QaOutcome], None] = lambda outcome: None,
) -> list[QaOutcome]:
    """Run ``cases`` over all of the lab's ISPs in parallel, in table order."""
    pending: queue.Queue[tuple[int, QaCase]] = queue.Queue()
    for position, case in enumerate(cases):
        pending.put((position, case))
    results: dict[int, QaOutcome] = {}
    lock = threading.Lock()

    def lane(isp: str) -> None:
        while True:
            try:
                position, case = pending.get_nowait()
            except queue.Empty:
                return
            outcome = run_case(lab, isp, case, workdir)
            with lock:
                results[position] = outcome
                on_done(outcome)

    threads = [threading.Thread(target=lane, args=(name,)) for name in lab.isps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[position] for position in sorted(results)]
