"""The QA suite through the real probe: every case gets both expected verdicts.

For websites the probe's verdict is the classic v0.4 one (OONI
compatibility), for the apps the values of the IM tests' keys; the scored
verdict is computed by the platform's scoring with OONI's fingerprints from
the shared reference data.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from censorscope.lab.apps import APPS
from censorscope.lab.qa import CASES, Case, QaOutcome, run_qa
from censorscope.lab.qa_apps import APP_CASES, all_cases
from censorscope.lab.topology import Lab
from censorscope.scoring import FingerprintDB
from tests.lab.conftest import lab_skip_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_skip_reason() is not None, reason=str(lab_skip_reason())),
]

# Cases where the probe, not the lab, is known to be wrong (reported to the
# probe's authors); remove an entry when the probe is fixed.
KNOWN_PROBE_BUGS: dict[str, str] = {}
NOT_CENSORSHIP = {"website-", "localhost-", "bad-cert-", "captcha-", "large-file-",
                  "idna-", "success-", "too-many-redirects"}  # fmt: skip


def _param(case: Case) -> object:
    marks = []
    if case.name in KNOWN_PROBE_BUGS:
        marks.append(pytest.mark.xfail(reason=KNOWN_PROBE_BUGS[case.name]))
    return pytest.param(case, id=case.name, marks=marks)


@pytest.fixture(scope="module")
def outcomes(
    lab: Lab, tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> dict[str, QaOutcome]:
    """All cases, run once over the shared lab's parallel lanes, then scored."""
    workdir: Path = tmp_path_factory.mktemp("qa")
    fingerprints = FingerprintDB.load(shared_data / "fingerprints")
    return {
        outcome.case.name: outcome
        for outcome in run_qa(lab, all_cases(), workdir, fingerprints)
    }


def test_the_suite_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


def test_conditions_that_are_not_censorship_are_never_expected_as_anomalies() -> None:
    benign = [c for c in CASES if any(c.name.startswith(p) for p in NOT_CENSORSHIP)]
    assert len(benign) >= 15
    assert not any(case.truth.anomaly for case in benign)
    assert all(case.truth.down for case in benign if "down" in case.name)


def test_every_app_has_a_case_without_censorship_and_one_with() -> None:
    names = {case.name for case in all_cases()}
    assert len(names) == len(CASES) + len(APP_CASES)
    for app in APPS:
        cases = [case for case in APP_CASES if case.app == app]
        assert [c.truth.anomaly for c in cases if not c.actions] == [False], app
        assert any(case.truth.anomaly for case in cases), app
    assert all(case.note for case in APP_CASES if case.scoring_gap), "say why"


@pytest.mark.parametrize("case", [_param(case) for case in all_cases()])
def test_case_gets_its_expected_probe_verdict(
    outcomes: dict[str, QaOutcome], case: Case
) -> None:
    outcome = outcomes[case.name]
    assert outcome.error is None, outcome.error
    assert outcome.probe == case.expected_probe, outcome.test_keys


@pytest.mark.parametrize("case", [_param(case) for case in all_cases()])
def test_case_gets_its_expected_scored_verdict(
    outcomes: dict[str, QaOutcome], case: Case
) -> None:
    outcome = outcomes[case.name]
    assert outcome.error is None, outcome.error
    expected = case.expected_scored
    assert outcome.scored == expected, (outcome.rules, outcome.test_keys)
