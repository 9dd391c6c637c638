"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The real reference data beside the repository (never copied into it)."""
    override = os.environ.get("CENSORSCOPE_SHARED_DATA")
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"reference data not found at {path}; set CENSORSCOPE_SHARED_DATA")
    return path


# --- The lab must really run in CI --------------------------------------------
# Lab tests skip themselves when not root.  In CI (CI=true, root) a skipped or
# missing lab test would hide a broken lab behind a green build, so the session
# fails if any test marked `lab` was skipped or none ran at all.

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.skipped:
        _outcomes[report.nodeid] = report.outcome


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _in_ci() or session.config.option.collectonly:
        return
    # The marker, not the keyword: every test under tests/lab/ has the folder
    # name "lab" as a keyword, including tests that need no root.
    lab = [item.nodeid for item in session.items if item.get_closest_marker("lab")]
    if not lab:
        return  # a run limited to other tests (-k, a path) is not the full suite
    not_run = sorted(
        node for node in lab if _outcomes.get(node, "skipped") == "skipped"
    )
    if not_run:
        print(f"\nCI check failed: {len(not_run)} lab tests did not run in CI:")
        for node in not_run[:20]:
            print(f"  {node}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
