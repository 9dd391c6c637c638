"""QA cases for the instant-messaging tests: one app, one condition each.

A case runs one IM test (``censorscope run whatsapp`` ...) from a QA ISP
while the censor applies the case's actions to the app's hostnames or
addresses, and expects

* the probe's verdict: the values of chosen test keys
  (``registration_server_status``, ``telegram_tcp_blocking`` ...);
* the scored verdict, from :func:`censorscope.scoring.score` as ingestion
  computes it.  ``truth`` is what the lab did; where scoring knowingly says
  something else (it follows OONI's fastpath, which has gaps the lab
  exposes), ``scoring_gap`` pins what it says today and ``note`` says why,
  like the web cases pin classic v0.4's known limits.  Fixing the scoring
  rule makes such a case fail until the gap is removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from censorscope.lab import addressing as plan
from censorscope.lab.apps import check_app
from censorscope.lab.censor import Action, CensorAction
from censorscope.lab.probe import PROBE_TIMEOUT, ProbeRun
from censorscope.lab.qa import (
    CASES,
    DNS_BLOCK,
    HTTP_BLOCK,
    NOT_BLOCKED,
    OTHER_SITE,
    TCP_BLOCK,
    TLS_BLOCK,
    Case,
    Truth,
    shown,
)

A = Action
# A timeout shorter than the lab's usual 3 s for cases that blackhole every
# address a test contacts: the test waits for each connect in turn.
SHORT_TIMEOUT = 1.5
_DIAGNOSTIC_SUFFIXES = ("_status", "_failure", "_blocking", "_blocked")


@dataclass(frozen=True)
class AppCase:
    """One app measured under one condition, and the verdicts expected."""

    name: str
    app: str  # the nettest's name
    actions: tuple[CensorAction, ...]
    expected: tuple[tuple[str, Any], ...]  # test keys and their values
    truth: Truth  # what the censor did, as a scored verdict
    scoring_gap: Truth | None = None  # what scoring says instead (known)
    note: str = ""
    source: str = "lab"
    timeout: float = PROBE_TIMEOUT

    @property
    def expected_probe(self) -> dict[str, Any]:
        return dict(self.expected)

    @property
    def expected_scored(self) -> Truth:
        return self.scoring_gap or self.truth

    def probe_run(self, isp: str, workdir: Path) -> ProbeRun:
        output = workdir / f"{self.name}.jsonl"
        return ProbeRun(isp, [], output, timeout=self.timeout, target=self.app)

    def probe_verdict(self, measurement: Mapping[str, Any]) -> object:
        keys = measurement.get("test_keys") or {}
        return {name: keys.get(name) for name, _ in self.expected}

    def recorded_keys(self, measurement: Mapping[str, Any]) -> dict[str, Any]:
        keys = measurement.get("test_keys") or {}
        found = {k: v for k, v in keys.items() if k.endswith(_DIAGNOSTIC_SUFFIXES)}
        return {"test_name": measurement.get("test_name"), **found}

    def show_probe(self, value: object) -> str:
        """The keys that say something is wrong, without the app's prefix."""
        if not isinstance(value, Mapping):
            return shown(value)
        shown_keys = [
            f"{key.removeprefix(self.app.split('_')[0] + '_')}={_short(item)}"
            for key, item in value.items()
            if item not in (None, False, "ok", [])
        ]
        return ", ".join(shown_keys) or "all ok"


def _short(value: object) -> str:
    if isinstance(value, list):
        return f"{len(value)} hosts" if len(value) > 2 else ",".join(value)
    return shown(value)


def _case(  # noqa: PLR0917 - one positional row per case keeps the table legible
    name: str,
    app: str,
    actions: Sequence[CensorAction],
    expected: Mapping[str, Any],
    truth: Truth,
    scoring_gap: Truth | None = None,
    note: str = "",
    timeout: float = PROBE_TIMEOUT,
) -> AppCase:
    return AppCase(
        name, check_app(app), tuple(actions), tuple(expected.items()), truth,
        scoring_gap, note, timeout=timeout,
    )  # fmt: skip


def _act(action: Action, target: str, addresses: tuple[str, ...] = ()) -> CensorAction:
    return CensorAction(action, target, addresses=addresses)


def _whatsapp(
    registration: str | None = None,
    web: str | None = None,
    endpoints: Sequence[str] = (),
) -> dict[str, Any]:
    """WhatsApp's keys: each service's failure (None when it worked)."""
    return {
        "registration_server_status": "blocked" if registration else "ok",
        "registration_server_failure": registration,
        "whatsapp_web_status": "blocked" if web else "ok",
        "whatsapp_web_failure": web,
        "whatsapp_endpoints_status": "blocked" if endpoints else "ok",
        "whatsapp_endpoints_blocked": sorted(endpoints),
    }


def _telegram(datacenters: bool = False, web: str | None = None) -> dict[str, Any]:
    return {
        "telegram_tcp_blocking": datacenters,
        "telegram_http_blocking": datacenters,
        "telegram_web_status": "blocked" if web else "ok",
        "telegram_web_failure": web,
    }


def _signal(failure: str | None = None) -> dict[str, Any]:
    status = "blocked" if failure else "ok"
    return {"signal_backend_status": status, "signal_backend_failure": failure}


def _facebook(dns: bool = False, tcp: bool = False, **services: Any) -> dict[str, Any]:
    keys = {"facebook_dns_blocking": dns, "facebook_tcp_blocking": tcp}
    keys.update({f"facebook_{key}": value for key, value in services.items()})
    return keys


TIMEOUT, RESET = "generic_timeout_error", "connection_reset"
ENDPOINTS = tuple(f"e{n}.whatsapp.net" for n in range(1, 17))
# The mechanism scoring names when a failure string alone does not tell it
# (fastpath records none for WhatsApp, and only a score for Telegram).
_NO_MECHANISM = (
    "scoring reads the failure string alone, which names no mechanism: "
    "http-failure by default"
)

APP_CASES: tuple[AppCase, ...] = (
    # WhatsApp.
    _case("whatsapp-ok", "whatsapp", [], _whatsapp(), NOT_BLOCKED),
    _case("whatsapp-registration-blackhole", "whatsapp",
          [_act(A.IP_BLACKHOLE, "v.whatsapp.net")], _whatsapp(registration=TIMEOUT),
          TCP_BLOCK, HTTP_BLOCK, _NO_MECHANISM),
    _case("whatsapp-web-sni-reset", "whatsapp",
          [_act(A.TLS_RESET, "web.whatsapp.com")], _whatsapp(web=RESET),
          TLS_BLOCK, HTTP_BLOCK, _NO_MECHANISM),
    _case("whatsapp-web-sni-drop", "whatsapp",
          [_act(A.TLS_DROP, "web.whatsapp.com")], _whatsapp(web=TIMEOUT),
          TLS_BLOCK, HTTP_BLOCK, _NO_MECHANISM),
    _case("whatsapp-endpoints-blackhole", "whatsapp",
          [_act(A.IP_BLACKHOLE, host) for host in ENDPOINTS],
          _whatsapp(endpoints=ENDPOINTS), TCP_BLOCK, NOT_BLOCKED,
          "fastpath counts every tcp_connect entry, the registration and web "
          "fetches' own connects included, so the endpoints never all fail "
          "while those work"),
    # Telegram.
    _case("telegram-ok", "telegram", [], _telegram(), NOT_BLOCKED),
    _case("telegram-datacenters-blackhole", "telegram",
          [_act(A.IP_BLACKHOLE, address) for address in plan.TELEGRAM_DATACENTERS],
          _telegram(datacenters=True), TCP_BLOCK, timeout=SHORT_TIMEOUT),
    _case("telegram-web-sni-reset", "telegram",
          [_act(A.TLS_RESET, "web.telegram.org")], _telegram(web=RESET), TLS_BLOCK,
          HTTP_BLOCK, _NO_MECHANISM),
    # Signal.
    _case("signal-ok", "signal", [], _signal(), NOT_BLOCKED),
    _case("signal-backend-reset", "signal", [_act(A.TLS_RESET, "chat.signal.org")],
          _signal(RESET), TLS_BLOCK, Truth(True, "unknown", False),
          "scoring reads the failure string (and failed_operation, which our "
          "signal test does not set): a reset names no mechanism"),
    # Facebook Messenger.
    _case("facebook-ok", "facebook_messenger", [], _facebook(), NOT_BLOCKED),
    _case("facebook-dns-lie", "facebook_messenger",
          [_act(A.DNS_LIE, "b-api.facebook.com", (OTHER_SITE,))],
          _facebook(dns=True, b_api_dns_consistent=False, b_api_reachable=None),
          DNS_BLOCK),
    _case("facebook-tcp-blackhole", "facebook_messenger",
          [_act(A.IP_BLACKHOLE, "b-graph.facebook.com")],
          _facebook(tcp=True, b_graph_reachable=False, b_api_reachable=False),
          TCP_BLOCK, timeout=SHORT_TIMEOUT),
)  # fmt: skip


def all_cases() -> list[Case]:
    """The whole QA suite: the website cases, then the app cases."""
    return [*CASES, *APP_CASES]
