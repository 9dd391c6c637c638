"""The QA suite: single-condition cases with the verdicts each must produce.

Every case is one URL measured from one ISP while the censor applies the
case's actions (none for the cases that are not censorship).  Each case
expects two verdicts:

* the probe's ``blocking``/``accessible``: those of the classic v0.4
  web-connectivity rules, which our probe implements for OONI compatibility:
  the v0.4 column of OONI's QA table where a row has one (``ooni #N``), else
  what the classic tree gives.  Where that is not the truth (classic calls a
  dead site ``tcp_ip``, cannot decide when the test helper fails too...),
  ``note`` says so and gives the LTE column: these pin classic's known
  limits, they do not endorse them;
* the scored verdict (:class:`Truth`: anomaly, mechanism, down) that the
  platform stores, from :func:`censorscope.scoring.score` with OONI's
  fingerprints, exactly as ingestion computes it: this one states the truth
  (censorship is an anomaly with its mechanism; a dead, misconfigured or
  challenging site is not, and a dead one is ``down``).

Cases run in parallel lanes: the QA lab has several identical ISPs and each
lane applies one case at a time to its own router, so cases never see each
other's censorship.  Conditions of the internet itself (a name that exists
nowhere, a dead server) are distinct names in the standard internet.

The cases here measure websites; ``qa_apps`` has the instant-messaging
cases.  Both kinds are a :class:`Case`: how to run the probe, which probe
verdict to expect and how to read it from the measurement.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from censorscope.lab import addressing as plan
from censorscope.lab.censor import Action, CensorAction, DnsPlace
from censorscope.lab.internet import TEST_HELPER_NAME
from censorscope.lab.probe import ProbeError, ProbeRun, run_probe, verdict
from censorscope.lab.topology import IspSpec, Lab
from censorscope.scoring import FingerprintDB, score

logger = logging.getLogger(__name__)

EXAMPLE = "www.example.com"
OTHER_SITE = "10.200.7.10"  # the "Yandex" host: another AS, another certificate
UNTRUSTED_SITE = "10.200.6.10"  # the bad-TLS host, default cert from an unknown CA
RESOLVER, PATH = DnsPlace.RESOLVER, DnsPlace.PATH
Blocking = str | bool | None


class Truth(NamedTuple):
    """A scored verdict: interference (with its mechanism), and site down."""

    anomaly: bool
    blocking: str | None
    down: bool

    def __str__(self) -> str:
        if self.anomaly:
            return f"anomaly {self.blocking}" + (" (down)" if self.down else "")
        return "down" if self.down else "not blocked"


def shown(value: object) -> str:
    """A verdict value as the QA table prints it (``null``, ``true``...)."""
    return "null" if value is None else str(value).lower()


class Case(Protocol):
    """What the QA runner needs of a case, whatever the probe measures."""

    @property
    def name(self) -> str: ...

    @property
    def actions(self) -> tuple[CensorAction, ...]: ...

    @property
    def source(self) -> str: ...

    @property
    def note(self) -> str: ...

    @property
    def truth(self) -> Truth:
        """What the censor did, as a scored verdict."""

    @property
    def expected_probe(self) -> object:
        """The probe verdict expected, comparable with ``probe_verdict``."""

    @property
    def expected_scored(self) -> Truth:
        """The scored verdict expected."""

    def probe_run(self, isp: str, workdir: Path) -> ProbeRun:
        """The probe invocation measuring the case from ``isp``."""

    def probe_verdict(self, measurement: Mapping[str, Any]) -> object:
        """The probe's verdict, read from its measurement."""

    def recorded_keys(self, measurement: Mapping[str, Any]) -> dict[str, Any]:
        """The test keys worth showing when the case fails."""

    def show_probe(self, value: object) -> str:
        """A probe verdict as one table cell."""


@dataclass(frozen=True)
class QaCase:
    """One condition, the URL measured under it, and the verdicts expected."""

    name: str
    url: str
    actions: tuple[CensorAction, ...]
    blocking: Blocking  # the probe's classic verdict
    accessible: bool | None
    truth: Truth  # the scored verdict
    source: str  # "ooni #N" (reference QA table row) or "lab"
    note: str = ""  # where classic v0.4's verdict is not the truth

    @property
    def expected_probe(self) -> tuple[Blocking, bool | None]:
        return self.blocking, self.accessible

    @property
    def expected_scored(self) -> Truth:
        return self.truth

    def probe_run(self, isp: str, workdir: Path) -> ProbeRun:
        return ProbeRun(isp, [self.url], workdir / f"{self.name}.jsonl")

    def probe_verdict(self, measurement: Mapping[str, Any]) -> object:
        return verdict(measurement)

    def recorded_keys(self, measurement: Mapping[str, Any]) -> dict[str, Any]:
        keys = measurement.get("test_keys") or {}
        return {name: keys.get(name) for name in _KEYS}

    def show_probe(self, value: object) -> str:
        blocking, accessible = value if isinstance(value, tuple) else (None, None)
        return f"{shown(blocking)} / {shown(accessible)}"


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
    truth: Truth,
    source: str = "lab",
    note: str = "",
) -> QaCase:
    return QaCase(name, url, tuple(actions), blocking, accessible, truth, source, note)


HTTP, HTTPS = f"http://{EXAMPLE}/", f"https://{EXAMPLE}/"
_REFUSED_EVERYWHERE = "refused for the TH too: classic false positive; LTE: false/false"
_CONTROL_FAILS_TOO = "the TH's fetch fails too, classic cannot decide; LTE: false/false"
TO_HTTP, TO_HTTPS = "https://bit.ly/32447", "https://bit.ly/21645"
A = Action
# The truth, as the scored verdict must state it.
NOT_BLOCKED, DOWN = Truth(False, None, False), Truth(False, None, True)
DNS_BLOCK, TCP_BLOCK = Truth(True, "dns", False), Truth(True, "tcp_ip", False)
TLS_BLOCK, BLOCKPAGE = Truth(True, "tls", False), Truth(True, "http-diff", False)
HTTP_BLOCK = Truth(True, "http-failure", False)

CASES: tuple[QaCase, ...] = (
    # No interference.
    _case("success-http", HTTP, [], False, True, NOT_BLOCKED, "ooni #40"),
    _case("success-https", HTTPS, [], False, True, NOT_BLOCKED, "ooni #41"),
    # DNS blocking.
    _case("dns-nxdomain-resolver", HTTPS, [_act(A.DNS_NXDOMAIN)], "dns", False,
          DNS_BLOCK, "ooni #11"),
    _case("dns-nxdomain-injected", HTTP, [_act(A.DNS_NXDOMAIN, via=PATH)], "dns",
          False, DNS_BLOCK),
    _case("dns-bogon-resolver", HTTPS, [_act(A.DNS_BOGON)], "dns", False, DNS_BLOCK,
          "ooni #10"),
    _case("dns-bogon-injected", HTTP, [_act(A.DNS_BOGON, via=PATH)], "dns", False,
          DNS_BLOCK),
    _case("dns-hijack-blockpage-http", HTTP, [_act(A.DNS_HIJACK)], "dns", False,
          DNS_BLOCK),
    _case("dns-hijack-blockpage-https", HTTPS, [_act(A.DNS_HIJACK, via=PATH)], "dns",
          False, DNS_BLOCK),
    _case("dns-lie-unknown-authority", HTTPS,
          [_act(A.DNS_LIE, addresses=(UNTRUSTED_SITE,))], "dns", False, DNS_BLOCK,
          "ooni #4"),
    _case("dns-localhost-injected-http", HTTP, [_act(A.DNS_LOCALHOST, via=PATH)],
          "dns", False, DNS_BLOCK, "ooni #12"),
    _case("dns-localhost-injected-https", HTTPS, [_act(A.DNS_LOCALHOST, via=PATH)],
          "dns", False, DNS_BLOCK, "ooni #13"),
    _case("dns-no-answer-resolver", HTTPS, [_act(A.DNS_NO_ANSWER)], None, None,
          DNS_BLOCK, note="no address, no request: classic cannot decide"),
    # The page arrives intact through the ISP's proxy: interception, no block.
    _case("dns-to-transparent-proxy-http", HTTP, [_act(A.DNS_PROXY)], False, True,
          NOT_BLOCKED, "ooni #14"),
    _case("ghost-dns-https", "https://itsat.info/",
          [_act(A.DNS_HIJACK, "itsat.info", PATH)], "dns", False, DNS_BLOCK,
          "ooni #17"),
    # TCP/IP blocking.
    _case("tcp-blackhole-https", HTTPS, [_act(A.IP_BLACKHOLE, ports=(443,))],
          "tcp_ip", False, TCP_BLOCK, "ooni #42"),
    _case("tcp-blackhole-http", HTTP, [_act(A.IP_BLACKHOLE, ports=(80,))], "tcp_ip",
          False, TCP_BLOCK),
    _case("tcp-refused-http", HTTP, [_act(A.IP_REJECT, ports=(80,))], "tcp_ip",
          False, TCP_BLOCK),
    _case("tcp-refused-https", HTTPS, [_act(A.IP_REJECT, ports=(443,))], "tcp_ip",
          False, TCP_BLOCK),
    _case("tcp-refused-inconsistent-dns", "http://www.example.org/",
          [_act(A.DNS_HIJACK, "www.example.org"),
           _act(A.IP_REJECT, plan.BLOCKPAGE, ports=(80,))], "dns", False,
          DNS_BLOCK, "ooni #43"),
    # Reset on the first data to the address: seen as a reset in the handshake.
    _case("ip-reset-https", HTTPS, [_act(A.IP_RESET, ports=(443,))], "http-failure",
          False, TLS_BLOCK),
    # TLS blocking.
    _case("tls-sni-reset", HTTPS, [_act(A.TLS_RESET)], "http-failure", False,
          TLS_BLOCK, "ooni #46"),
    _case("tls-sni-drop", HTTPS, [_act(A.TLS_DROP)], "http-failure", False,
          TLS_BLOCK),
    _case("tls-sni-reset-inconsistent-dns", HTTPS,
          [_act(A.TLS_RESET), _act(A.DNS_LIE, addresses=(OTHER_SITE,))], "dns",
          False, DNS_BLOCK, "ooni #47"),
    # HTTP blocking.
    _case("http-reset", HTTP, [_act(A.HTTP_RESET)], "http-failure", False,
          HTTP_BLOCK, "ooni #18"),
    _case("http-blockpage", HTTP, [_act(A.HTTP_BLOCKPAGE)], "http-diff", False,
          BLOCKPAGE, "ooni #19"),
    _case("http-blockpage-inconsistent-dns", HTTP,
          [_act(A.HTTP_BLOCKPAGE), _act(A.DNS_LIE, addresses=(OTHER_SITE,))], "dns",
          False, DNS_BLOCK, "ooni #20"),
    _case("http-redirect-to-blockpage", HTTP, [_act(A.HTTP_REDIRECT)], "http-diff",
          False, BLOCKPAGE),
    # Redirects to a blocked destination: the mechanism is the last hop's.
    _case("redirect-then-refused-http", TO_HTTP,
          [_act(A.IP_REJECT, ports=(80, 443))], "http-failure", False, TCP_BLOCK,
          "ooni #29"),
    _case("redirect-then-refused-https", TO_HTTPS,
          [_act(A.IP_REJECT, ports=(80, 443))], "http-failure", False, TCP_BLOCK,
          "ooni #30"),
    _case("redirect-then-reset-http", TO_HTTP,
          [_act(A.HTTP_RESET), _act(A.TLS_RESET)], "http-failure", False,
          HTTP_BLOCK, "ooni #31"),
    _case("redirect-then-reset-https", TO_HTTPS,
          [_act(A.HTTP_RESET), _act(A.TLS_RESET)], "http-failure", False,
          TLS_BLOCK, "ooni #32"),
    _case("redirect-then-nxdomain", TO_HTTPS, [_act(A.DNS_NXDOMAIN, via=PATH)],
          "dns", False, DNS_BLOCK, "ooni #33"),
    _case("redirect-then-timeout-https", TO_HTTPS, [_act(A.TLS_DROP)],
          "http-failure", False, TLS_BLOCK, "ooni #37"),
    # Throttling.
    _case("throttling-https", "https://largefile.com/",
          [CensorAction(A.THROTTLE, "largefile.com", rate="16kbit")],
          "http-failure", False, HTTP_BLOCK, "ooni #45"),
    # Not censorship: the website is down or misconfigured.
    _case("website-down-nxdomain", "http://www.example.xyz/", [], False, True, DOWN,
          "ooni #48", "classic calls NXDOMAIN everywhere accessible; LTE: false/false"),
    _case("website-down-no-addresses", "http://noaddrs.example.net/", [], "dns",
          False, DOWN, "ooni #49", "getaddrinfo says EAI_NONAME for a CNAME "
          "without A, the TH finds no address: classic false positive; LTE: "
          "false/false"),
    _case("website-down-tcp-refused", "http://www.example.com:444/", [], "tcp_ip",
          False, DOWN, "ooni #50", _REFUSED_EVERYWHERE),
    _case("website-down-no-server", "http://down.example.net/", [], "tcp_ip", False,
          DOWN, note=_REFUSED_EVERYWHERE),
    _case("website-server-error", "http://www.example.net/", [], False, True, DOWN,
          note="a 500 for the TH too: classic calls it accessible"),
    _case("localhost-http", "http://localhost.example.net/", [], "tcp_ip", False,
          DOWN, "ooni #25", _REFUSED_EVERYWHERE),
    _case("localhost-https", "https://localhost.example.net/", [], "tcp_ip", False,
          DOWN, "ooni #26", _REFUSED_EVERYWHERE),
    # Bad certificates are the site's problem, not censorship.
    _case("bad-cert-unknown-authority", "https://untrusted-root.badssl.com/", [],
          None, None, DOWN, "ooni #1", _CONTROL_FAILS_TOO),
    _case("bad-cert-expired", "https://expired.badssl.com/", [], None, None, DOWN,
          "ooni #2", _CONTROL_FAILS_TOO),
    _case("bad-cert-wrong-name", "https://wrong.host.badssl.com/", [], None, None,
          DOWN, "ooni #3", _CONTROL_FAILS_TOO),
    # Pages that must not be called blocked.
    _case("captcha-http", "http://www.cloudflare-cache.com/", [], "http-diff",
          False, NOT_BLOCKED, "ooni #5",
          "a CDN's browser check, not a blockpage: OONI fp fingerprint"),
    _case("captcha-https", "https://www.cloudflare-cache.com/", [], False, True,
          NOT_BLOCKED, "ooni #6"),
    _case("large-file-http", "http://largefile.com/", [], False, True, NOT_BLOCKED,
          "ooni #23"),
    _case("large-file-https", "https://largefile.com/", [], False, True,
          NOT_BLOCKED, "ooni #24"),
    _case("idna-lowercase", "http://яндекс.рф/", [], False, True, NOT_BLOCKED,
          "ooni #21"),
    _case("idna-uppercase", "http://Яндекс.рф/", [], False, True, NOT_BLOCKED,
          "ooni #22"),
    _case("too-many-redirects", "http://httpbin.com/redirect/15", [], None, None,
          DOWN, "ooni #38", "classic maps no verdict to this failure; LTE: "
          "false/false"),
    # The server answers the probe's network differently: LTE and OONI's QA
    # call it http-failure, and nothing tells it from a middlebox doing so.
    _case("broken-redirect-http", "http://httpbin.com/broken-redirect-http", [],
          "http-failure", False, HTTP_BLOCK, "ooni #27",
          "classic v0.4.3 maps no verdict to this failure; we follow LTE"),
    # The test helper itself is blocked: the probe cannot compare.
    _case("control-failure-http", "http://www.example.org/",
          [_act(A.TLS_RESET, TEST_HELPER_NAME)], None, None, NOT_BLOCKED,
          "ooni #7"),
    _case("control-failure-https", "https://www.example.org/",
          [_act(A.TLS_RESET, TEST_HELPER_NAME)], False, True, NOT_BLOCKED,
          "ooni #8"),
)  # fmt: skip


@dataclass
class QaOutcome:
    """What the probe said for one case, and how the platform scored it."""

    case: Case
    probe: object = None  # the case's probe verdict, as ``probe_verdict`` reads it
    scored: Truth | None = None
    error: str | None = None
    seconds: float = 0.0
    test_keys: dict[str, Any] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)  # the scoring rules that fired

    @property
    def probe_passed(self) -> bool:
        return self.error is None and self.probe == self.case.expected_probe

    @property
    def scored_passed(self) -> bool:
        return self.error is None and self.scored == self.case.expected_scored

    @property
    def passed(self) -> bool:
        return self.probe_passed and self.scored_passed


def qa_isps(lanes: int) -> list[IspSpec]:
    """The identical ISPs whose routers the QA lanes use."""
    return [
        IspSpec(f"qa{n}", 65000 + n, "IT", f"Lab QA Telecom {n}")
        for n in range(1, lanes + 1)
    ]


def select_cases(
    names: Sequence[str] = (), cases: Sequence[Case] = CASES
) -> list[Case]:
    """All ``cases``, or those whose name contains one of ``names``."""
    if not names:
        return list(cases)
    return [case for case in cases if any(name in case.name for name in names)]


def run_case(
    lab: Lab, isp: str, case: Case, workdir: Path, fingerprints: FingerprintDB
) -> QaOutcome:
    """Apply the case's censorship on ``isp``, run the probe, clear the censor.

    The measurement is scored by the platform's own scoring function with
    ``fingerprints``, as ingestion would score it.
    """
    censor = lab.isp(isp).censor
    started = time.monotonic()
    outcome = QaOutcome(case)
    try:
        censor.apply(case.actions)
        measurements = run_probe(lab, case.probe_run(isp, workdir))
        if len(measurements) != 1:
            outcome.error = f"expected 1 measurement, got {len(measurements)}"
        else:
            _record(outcome, measurements[0], fingerprints)
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


def _record(
    outcome: QaOutcome, measurement: dict[str, Any], fingerprints: FingerprintDB
) -> None:
    """The probe's verdict and the scored one."""
    outcome.probe = outcome.case.probe_verdict(measurement)
    outcome.test_keys = outcome.case.recorded_keys(measurement)
    scored = score(measurement, fingerprints)
    outcome.scored = Truth(scored.anomaly, scored.blocking, scored.down)
    outcome.rules = list(scored.evidence.get("rules", []))


def run_qa(
    lab: Lab,
    cases: Sequence[Case],
    workdir: Path,
    fingerprints: FingerprintDB,
    on_done: Callable[[QaOutcome], None] = lambda outcome: None,
) -> list[QaOutcome]:
    """Run ``cases`` over all of the lab's ISPs in parallel, in table order.

    ``fingerprints``: OONI's blocking fingerprints for scoring (the product's
    updated copy, or the shared reference data in tests).
    """
    pending: queue.Queue[tuple[int, Case]] = queue.Queue()
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
            outcome = _run_case_safely(lab, isp, case, workdir, fingerprints)
            with lock:
                results[position] = outcome
                on_done(outcome)

    threads = [threading.Thread(target=lane, args=(name,)) for name in lab.isps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[position] for position in range(len(cases))]


def _run_case_safely(
    lab: Lab, isp: str, case: Case, workdir: Path, fingerprints: FingerprintDB
) -> QaOutcome:
    """Run a case in a lane thread; a crash becomes the case's failed outcome.

    An exception would otherwise end the lane silently and drop the case (and
    every case after it on that lane) from the table.
    """
    try:
        return run_case(lab, isp, case, workdir, fingerprints)
    except Exception as error:
        logger.exception("QA case %s crashed", case.name)
        outcome = QaOutcome(case)
        outcome.error = f"crashed: {error!r}"
        return outcome
