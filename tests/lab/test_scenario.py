"""Scenario files: validation, policy windows and campaign instants (no root)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from censorscope.lab.censor import Action, DnsPlace
from censorscope.lab.scenario import (
    ScenarioError,
    bundled_scenarios,
    load_scenario,
    scenario_from_dict,
)


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "s",
        "start": "2024-01-01",
        "end": "2024-01-02",
        "networks": [{"name": "a", "asn": 1, "cc": "ml"}],
        "targets": ["https://x.example/"],
    }
    data.update(changes)
    return data


def test_the_bundled_two_isp_scenario_loads() -> None:
    assert "two-isps" in bundled_scenarios()
    scenario = load_scenario("two-isps")
    assert [n.name for n in scenario.networks] == ["isp-a", "isp-b"]
    assert len(list(scenario.run_times())) == 12


def test_actions_are_in_force_from_start_inclusive_to_end_exclusive() -> None:
    scenario = load_scenario("two-isps")
    at = dt.datetime
    assert scenario.actions_at("isp-a", at(2024, 3, 2, 5, 59)) == []
    in_force = scenario.actions_at("isp-a", at(2024, 3, 2, 6))
    assert [(a.action, a.via) for a in in_force] == [
        (Action.TLS_RESET, DnsPlace.RESOLVER),
        (Action.DNS_NXDOMAIN, DnsPlace.PATH),
    ]
    assert scenario.actions_at("isp-a", at(2024, 3, 2, 18)) == []
    assert scenario.actions_at("isp-b", at(2024, 3, 2, 12)) == []


def test_runs_per_day_spaces_the_instants_evenly() -> None:
    scenario = scenario_from_dict(minimal(runs_per_day=3))
    assert [t.hour for t in scenario.run_times()] == [0, 8, 16]
    assert scenario.networks[0].cc == "ML"


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"networks": []}, "networks"),
        ({"networks": [{"name": "a", "asn": "x", "cc": "ML"}]}, "networks[0]"),
        ({"networks": [{"name": "a", "asn": 1, "cc": "MLI"}]}, "networks[0]"),
        ({"end": "2023-12-31"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"runs_per_day": 0}, "runs_per_day"),
        ({"policies": {"b": []}}, "policies.b"),
        (
            {"policies": {"a": [{"start": "2024-01-01", "end": "2024-01-02",
                                 "actions": [{"action": "nuke", "target": "x"}]}]}},
            "policies.a[0].actions[0]",
        ),
        (
            {"policies": {"a": [{"start": "2024-01-02", "end": "2024-01-01",
                                 "actions": []}]}},
            "policies.a[0]",
        ),
        ({"apps": ["icq"]}, "apps"),
        ({"targets": ["app:myspace"]}, "apps"),
        ({"targets": []}, "targets"),
        ({"extra_times": ["2024-01-02 00:00"]}, "extra_times[0]"),
    ],
)  # fmt: skip
def test_invalid_scenarios_are_rejected_with_their_location(
    changes: dict[str, Any], where: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(minimal(**changes))
    assert caught.value.where == where


def test_an_unknown_scenario_name_is_an_error() -> None:
    with pytest.raises(ScenarioError):
        load_scenario("no-such-scenario")


def test_apps_come_from_their_own_list_and_from_app_targets() -> None:
    scenario = scenario_from_dict(
        minimal(apps=["whatsapp"], targets=["app:telegram", "https://x.example/"])
    )
    assert scenario.apps == ("whatsapp", "telegram")
    assert scenario.targets == ("https://x.example/",)
    only_apps = minimal(apps=["signal"])
    del only_apps["targets"]
    assert scenario_from_dict(only_apps).targets == ()


def test_extra_times_join_the_daily_grid_in_order() -> None:
    extra = ["2024-01-01 19:08", "2024-01-01 08:00", "2024-01-01 01:00"]
    scenario = scenario_from_dict(minimal(runs_per_day=2, extra_times=extra))
    assert [t.strftime("%H:%M") for t in scenario.run_times()] == [
        "00:00", "01:00", "08:00", "12:00", "19:08",
    ]  # fmt: skip


def test_the_bundled_mali_scenario_blocks_on_orange_mali_only() -> None:
    scenario = load_scenario("mali-2018")
    assert [(n.name, n.asn) for n in scenario.networks] == [
        ("orange-mali", 30985), ("sotelma", 21271),
    ]  # fmt: skip
    assert scenario.apps == ("whatsapp", "facebook_messenger")
    assert len(list(scenario.run_times())) == 3 * 4 + 7
    evening = dt.datetime(2018, 7, 29, 19, 8)
    targets = {a.target for a in scenario.actions_at("orange-mali", evening)}
    assert {"web.whatsapp.com", "v.whatsapp.net", "twitter.com"} <= targets
    assert scenario.actions_at("sotelma", evening) == []
    assert scenario.actions_at("orange-mali", dt.datetime(2018, 7, 29, 19, 30)) == []
