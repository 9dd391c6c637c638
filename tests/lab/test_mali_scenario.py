"""The Mali 2018 election night, replayed: Orange Mali blocks, SOTELMA does not.

One campaign of the bundled ``mali-2018`` scenario, cut to election day on a
compact grid (midnight plus the report's own measurement times), measures
three websites, WhatsApp and Facebook Messenger from both ISPs.  The verdicts
must follow the scenario's policy windows exactly, reproduce the rows of
OONI's report, and be scored as anomalies by the platform exactly when the
censor was acting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from censorscope.lab.campaign import CampaignOptions, run_campaign, scenario_lab
from censorscope.lab.censor import Action
from censorscope.lab.probe import read_measurements
from censorscope.lab.scenario import Scenario, load_scenario
from censorscope.scoring import FingerprintDB, score
from tests.lab.conftest import lab_skip_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_skip_reason() is not None, reason=str(lab_skip_reason())),
]

ORANGE, SOTELMA = "AS30985", "AS21271"
TIMEOUT, RESET = "generic_timeout_error", "connection_reset"
# The failure the probe records for what the censor does to a name.
FAILURE: dict[Action | None, str | None] = {
    None: None,
    Action.TLS_RESET: RESET,
    Action.TLS_DROP: TIMEOUT,
    Action.IP_BLACKHOLE: TIMEOUT,
}
WINDOW = (dt.datetime(2018, 7, 29, 17), dt.datetime(2018, 7, 29, 19, 30))
# The report's WhatsApp table (AS30985, local time = UTC): registration
# server, endpoints, web.whatsapp.com; None is OK.
REPORT_WHATSAPP = {
    "17:43": (None, "ok", RESET),
    "19:08": (TIMEOUT, "ok", TIMEOUT),
    "19:18": (None, "ok", TIMEOUT),
    "19:26": (TIMEOUT, "ok", None),
}
# The report's website table: accessible at 01:00, failing in the evening.
REPORT_SITES = {
    ("01:00", "https://twitter.com/"): False,
    ("01:00", "https://guardianproject.info/"): False,
    ("01:00", "http://www.anonymizer.ru/"): False,
    ("17:37", "https://twitter.com/"): "http-failure",
    ("19:14", "https://guardianproject.info/"): "http-failure",
    ("19:14", "http://www.anonymizer.ru/"): "http-failure",
}


@dataclasses.dataclass(frozen=True)
class Campaign:
    scenario: Scenario
    instants: list[dt.datetime]
    measurements: list[dict[str, Any]]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    """Election day only: midnight plus the scenario's extra instants."""
    day = dt.datetime(2018, 7, 29)
    scenario = dataclasses.replace(
        load_scenario("mali-2018"),
        start=day, end=day + dt.timedelta(days=1), runs_per_day=1,
    )  # fmt: skip
    output = tmp_path_factory.mktemp("mali") / "campaign.jsonl"
    with scenario_lab(scenario) as lab:
        result = run_campaign(lab, scenario, CampaignOptions(output))
    assert result.errors == []
    yield Campaign(scenario, list(scenario.run_times()), read_measurements(output))


def instant_of(campaign: Campaign, measurement: dict[str, Any]) -> dt.datetime:
    started = dt.datetime.fromisoformat(measurement["measurement_start_time"])
    return max(t for t in campaign.instants if t <= started)


def censored_targets(
    campaign: Campaign, measurement: dict[str, Any]
) -> dict[str, Action]:
    """What Orange Mali's censor did to which name when this was measured."""
    if measurement["probe_asn"] != ORANGE:
        return {}
    in_force = campaign.scenario.actions_at(
        "orange-mali", instant_of(campaign, measurement)
    )
    return {action.target: action.action for action in in_force}


def expected_keys(
    censored: dict[str, Action], test_name: str, url: str | None
) -> dict[str, Any]:
    """The probe's verdict keys under that policy."""
    if test_name == "web_connectivity":
        host = urlsplit(url or "").hostname or ""
        return {"blocking": "http-failure" if host in censored else False}
    if test_name == "facebook_messenger":
        return {"facebook_dns_blocking": False, "facebook_tcp_blocking": False}
    return {
        "registration_server_failure": FAILURE[censored.get("v.whatsapp.net")],
        "whatsapp_web_failure": FAILURE[censored.get("web.whatsapp.com")],
        "whatsapp_endpoints_status": "ok",
    }


def test_every_network_measured_every_target_at_every_instant(
    campaign: Campaign,
) -> None:
    assert len(campaign.instants) == 1 + 7
    per_instant = len(campaign.scenario.targets) + len(campaign.scenario.apps)
    assert len(campaign.measurements) == len(campaign.instants) * 2 * per_instant
    assert {m["probe_asn"] for m in campaign.measurements} == {ORANGE, SOTELMA}
    assert {m["probe_cc"] for m in campaign.measurements} == {"ML"}
    assert {m["probe_network_name"] for m in campaign.measurements} == {
        "Orange Mali",
        "SOTELMA",
    }


def test_verdicts_follow_orange_malis_policy_and_sotelma_never_blocks(
    campaign: Campaign,
) -> None:
    for measurement in campaign.measurements:
        censored = censored_targets(campaign, measurement)
        expected = expected_keys(
            censored, measurement["test_name"], measurement["input"]
        )
        keys = measurement["test_keys"]
        found = {name: keys.get(name) for name in expected}
        when = instant_of(campaign, measurement)
        assert found == expected, (measurement["probe_asn"], when, measurement["input"])


def test_the_reports_rows_are_reproduced(campaign: Campaign) -> None:
    whatsapp: dict[str, tuple[Any, ...]] = {}
    sites: dict[tuple[str, str], Any] = {}
    for m in campaign.measurements:
        if m["probe_asn"] != ORANGE or instant_of(campaign, m).day != 29:
            continue
        clock, keys = instant_of(campaign, m).strftime("%H:%M"), m["test_keys"]
        if m["test_name"] == "whatsapp":
            whatsapp[clock] = (
                keys["registration_server_failure"],
                keys["whatsapp_endpoints_status"],
                keys["whatsapp_web_failure"],
            )
        if m["test_name"] == "web_connectivity":
            sites[(clock, m["input"])] = keys["blocking"]
    assert {clock: whatsapp[clock] for clock in REPORT_WHATSAPP} == REPORT_WHATSAPP
    assert {row: sites[row] for row in REPORT_SITES} == REPORT_SITES


def test_anomalies_are_scored_exactly_inside_the_window_on_orange_mali(
    campaign: Campaign, shared_data: Path
) -> None:
    fingerprints = FingerprintDB.load(shared_data / "fingerprints")
    flagged = set()
    for measurement in campaign.measurements:
        verdict = score(measurement, fingerprints)
        censored = censored_targets(campaign, measurement)
        expected = expected_keys(
            censored, measurement["test_name"], measurement["input"]
        )
        hit = any(value not in (False, None, "ok") for value in expected.values())
        assert verdict.anomaly == hit, (measurement["input"], measurement["test_name"])
        if verdict.anomaly:
            flagged.add((measurement["probe_asn"], instant_of(campaign, measurement)))
    inside = {t for t in campaign.instants if WINDOW[0] <= t < WINDOW[1]}
    assert len(inside) == 6
    assert flagged == {(ORANGE, t) for t in inside}
