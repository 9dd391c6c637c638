"""The lab's fixtures: one shared lab for the session, and a leftover check.

Lab tests need root and Linux namespaces; without them they are skipped
with the reason.  Whatever the outcome, the session ends by asserting that
no namespace or /etc/netns folder created during it is left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from censorscope.lab import netns
from censorscope.lab.qa import qa_isps
from censorscope.lab.topology import Lab, missing_requirements

LANES = 4
SOCKET_PROBE = Path(__file__).with_name("socket_probe.py")


def lab_skip_reason() -> str | None:
    problems = missing_requirements()
    return "lab tests skipped: " + "; ".join(problems) if problems else None


@pytest.fixture(scope="session", autouse=True)
def no_leftover_namespaces() -> Iterator[None]:
    """After every lab test: nothing of ours in ``ip netns list`` or /etc/netns."""
    if lab_skip_reason():
        yield
        return
    before = set(netns.leftovers())
    yield
    left = set(netns.leftovers()) - before
    assert not left, f"lab left namespaces behind: {sorted(left)}"


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """One lab (QA ISPs, internet, test helper) shared by all lab tests."""
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    with Lab(qa_isps(LANES)) as shared:
        yield shared


def socket_probe(lab: Lab, isp: str, *arguments: str) -> dict[str, Any]:
    """Run tests/lab/socket_probe.py in ``isp``'s client namespace."""
    argv = lab.client_argv(isp, [sys.executable, str(SOCKET_PROBE), *arguments])
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result
