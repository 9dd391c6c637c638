"""Scenarios: networks, targets, and each network's censorship over time.

A scenario file (YAML) declares the ISPs (name, ASN, country), the targets
(website URLs and instant-messaging apps), the campaign's simulated period
and frequency (plus any extra instants), and per ISP a list of policy
windows -- UTC ``start`` (inclusive) and ``end`` (exclusive) with the
censor's actions in force between them.  ``actions_at`` answers "what does
this ISP block at this instant", which is all a campaign needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from censorscope.lab.apps import UnknownAppError, check_app
from censorscope.lab.censor import Action, CensorAction, DnsPlace
from censorscope.lab.topology import IspSpec

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
APP_PREFIX = "app:"  # a target naming an app instead of a URL: ``app:whatsapp``


class ScenarioError(ValueError):
    """A scenario file is missing something or contradicts itself."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class PolicyWindow:
    """Actions in force from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: dt.datetime
    end: dt.datetime
    actions: tuple[CensorAction, ...]

    def covers(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, validated."""

    name: str
    description: str
    start: dt.datetime
    end: dt.datetime
    runs_per_day: int
    networks: tuple[IspSpec, ...]
    targets: tuple[str, ...]  # website URLs
    policies: Mapping[str, tuple[PolicyWindow, ...]] = field(default_factory=dict)
    apps: tuple[str, ...] = ()  # IM apps, by the name of the test measuring them
    extra_times: tuple[dt.datetime, ...] = ()  # instants beyond the daily grid

    def actions_at(self, network: str, instant: dt.datetime) -> list[CensorAction]:
        """The censor's actions on ``network`` at ``instant`` (UTC)."""
        windows = self.policies.get(network, ())
        return [a for w in windows if w.covers(instant) for a in w.actions]

    def run_times(self) -> Iterator[dt.datetime]:
        """The simulated instants: evenly spaced per day, plus the extra ones."""
        step = dt.timedelta(days=1) / self.runs_per_day
        grid = []
        instant = self.start
        while instant < self.end:
            grid.append(instant)
            instant += step
        yield from sorted(set(grid) | set(self.extra_times))


def parse_time(value: Any, where: str) -> dt.datetime:
    """A UTC instant from ``YYYY-MM-DD[ HH:MM[:SS]]`` (YAML dates accepted)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise ScenarioError(where, f"not a UTC time: {value!r}") from None


def format_time(instant: dt.datetime) -> str:
    return instant.strftime(TIME_FORMAT)


def _require(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise ScenarioError(where, f"missing {key!r}")
    return data[key]


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(where, "expected a mapping")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(where, "expected a list")
    return value


def _network(data: Any, where: str) -> IspSpec:
    entry = _mapping(data, where)
    asn = _require(entry, "asn", where)
    if not isinstance(asn, int) or asn <= 0:
        raise ScenarioError(where, f"asn must be a positive integer, not {asn!r}")
    cc = str(_require(entry, "cc", where))
    if len(cc) != 2 or not cc.isalpha():
        raise ScenarioError(where, f"cc must be two letters, not {cc!r}")
    name = str(_require(entry, "name", where))
    return IspSpec(name, asn, cc.upper(), str(entry.get("network_name", name)))


def _action(data: Any, where: str) -> CensorAction:
    entry = _mapping(data, where)
    try:
        action = Action(str(_require(entry, "action", where)))
        via = DnsPlace(str(entry.get("via", DnsPlace.RESOLVER)))
    except ValueError as error:
        raise ScenarioError(where, str(error)) from None
    addresses = tuple(str(a) for a in _list(entry.get("addresses", []), where))
    ports = tuple(int(p) for p in _list(entry.get("ports", []), where))
    target = str(_require(entry, "target", where))
    return CensorAction(
        action, target, via, addresses, ports, str(entry.get("rate", "64kbit"))
    )


def _window(data: Any, where: str) -> PolicyWindow:
    entry = _mapping(data, where)
    start = parse_time(_require(entry, "start", where), f"{where}.start")
    end = parse_time(_require(entry, "end", where), f"{where}.end")
    if end <= start:
        raise ScenarioError(where, "end must come after start")
    raw = _list(_require(entry, "actions", where), f"{where}.actions")
    actions = tuple(_action(a, f"{where}.actions[{i}]") for i, a in enumerate(raw))
    return PolicyWindow(start, end, actions)


def _targets(root: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(URLs, apps) from ``targets`` (``app:NAME`` entries) and ``apps``."""
    entries = [str(t) for t in _list(root.get("targets", []), "targets")]
    named = [str(a) for a in _list(root.get("apps", []), "apps")]
    urls = tuple(t for t in entries if not t.startswith(APP_PREFIX))
    named += [t.removeprefix(APP_PREFIX) for t in entries if t.startswith(APP_PREFIX)]
    try:
        apps = tuple(dict.fromkeys(check_app(name) for name in named))
    except UnknownAppError as error:
        raise ScenarioError("apps", str(error)) from None
    if not urls and not apps:
        raise ScenarioError("targets", "need at least one URL or app")
    return urls, apps


def _extra_times(
    data: Any, start: dt.datetime, end: dt.datetime
) -> tuple[dt.datetime, ...]:
    times = []
    for number, value in enumerate(_list(data or [], "extra_times")):
        where = f"extra_times[{number}]"
        instant = parse_time(value, where)
        if not start <= instant < end:
            raise ScenarioError(where, "outside the scenario's start..end")
        times.append(instant)
    return tuple(times)


def _policies(
    data: Any, networks: tuple[IspSpec, ...]
) -> dict[str, tuple[PolicyWindow, ...]]:
    known = {network.name for network in networks}
    policies = {}
    for name, windows in _mapping(data or {}, "policies").items():
        if name not in known:
            raise ScenarioError(f"policies.{name}", "no network of that name")
        where = f"policies.{name}"
        policies[name] = tuple(
            _window(w, f"{where}[{i}]") for i, w in enumerate(_list(windows, where))
        )
    return policies


def scenario_from_dict(data: Any, source: str = "scenario") -> Scenario:
    """Validate a parsed scenario file (raises ScenarioError)."""
    root = _mapping(data, source)
    networks = tuple(
        _network(n, f"networks[{i}]")
        for i, n in enumerate(_list(_require(root, "networks", source), "networks"))
    )
    if len({n.name for n in networks}) != len(networks) or not networks:
        raise ScenarioError("networks", "need at least one, with distinct names")
    if "targets" not in root and "apps" not in root:
        raise ScenarioError(source, "missing 'targets'")
    targets, apps = _targets(root)
    start = parse_time(_require(root, "start", source), "start")
    end = parse_time(_require(root, "end", source), "end")
    runs = root.get("runs_per_day", 4)
    if not isinstance(runs, int) or not 1 <= runs <= 24 * 60:
        raise ScenarioError("runs_per_day", f"must be 1..1440, not {runs!r}")
    if end <= start:
        raise ScenarioError("end", "must come after start")
    return Scenario(
        str(_require(root, "name", source)), str(root.get("description", "")),
        start, end, runs, networks, targets,
        _policies(root.get("policies"), networks), apps,
        _extra_times(root.get("extra_times"), start, end),
    )  # fmt: skip


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped with censorscope."""
    folder = resources.files("censorscope.lab") / "scenarios"
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_scenario(name_or_path: str) -> Scenario:
    """Load a scenario file, or a bundled scenario by name."""
    path = Path(name_or_path)
    if path.is_file():
        text, source = path.read_text(), str(path)
    elif name_or_path in bundled_scenarios():
        bundled = resources.files("censorscope.lab") / "scenarios"
        text = (bundled / f"{name_or_path}.yaml").read_text()
        source = f"{name_or_path}.yaml"
    else:
        raise ScenarioError(name_or_path, "no such file or bundled scenario")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScenarioError(source, f"not valid YAML: {error}") from None
    return scenario_from_dict(data, source)
