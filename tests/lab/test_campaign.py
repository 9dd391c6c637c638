"""A two-ISP campaign: verdicts flip exactly inside the policy window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from censorscope.lab.campaign import CampaignOptions, run_campaign, scenario_lab
from censorscope.lab.probe import read_measurements
from censorscope.lab.scenario import load_scenario
from tests.lab.conftest import lab_skip_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_skip_reason() is not None, reason=str(lab_skip_reason())),
]

BLOCKED = {
    "https://www.independent-news.ml/": "http-failure",  # SNI reset
    "http://www.opposition-radio.ml/": "dns",  # injected NXDOMAIN
}


def test_verdicts_flip_inside_the_window_on_one_isp_only(tmp_path: Path) -> None:
    scenario = load_scenario("two-isps")
    output = tmp_path / "campaign.jsonl"
    with scenario_lab(scenario) as lab:
        result = run_campaign(lab, scenario, CampaignOptions(output))
    assert result.errors == []

    measurements = read_measurements(output)
    instants = list(scenario.run_times())
    assert len(measurements) == len(instants) * 2 * len(scenario.targets)
    window = scenario.policies["isp-a"][0]
    seen = set()
    for measurement in measurements:
        started = dt.datetime.fromisoformat(measurement["measurement_start_time"])
        instant = max(t for t in instants if t <= started)
        on_a = measurement["probe_asn"] == "AS64510"
        url = measurement["input"]
        censored = on_a and window.covers(instant) and url in BLOCKED
        expected = BLOCKED[url] if censored else False
        assert measurement["test_keys"]["blocking"] == expected, (url, instant, on_a)
        assert measurement["annotations"]["lab_scenario"] == "two-isps"
        assert measurement["probe_cc"] == "ML"
        seen.add((measurement["probe_asn"], instant, url))
    assert len(seen) == len(measurements)


def test_uploaded_measurements_reach_the_lab_collector(tmp_path: Path) -> None:
    scenario = load_scenario("two-isps")
    archive = tmp_path / "archive"
    options = CampaignOptions(tmp_path / "m.jsonl", upload=True, max_runs=1)
    with scenario_lab(scenario, start_collector=True, archive=archive) as lab:
        result = run_campaign(lab, scenario, options)
    assert (result.errors, result.measurements) == ([], 6)
    assert list((archive / "raw").rglob("*webconnectivity*.jsonl.*"))
