"""What each test measures: the run's list of jobs.

* Tests that require input (web_connectivity) measure ``--input`` URLs and
  the lines of ``--input-file`` files, or else the Citizen Lab test lists for
  the probe's country (optionally filtered by category).
* Tests that take no input (IM, middlebox) run once with ``input: null``.
* Tests with optional input use the given inputs, their built-in defaults,
  or run once without input.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from censorscope.nettests.base import InputPolicy, NetTest
from censorscope.probe.testlists import UrlEntry

logger = logging.getLogger(__name__)

# Loads test-list entries for a country; the runner decides where from.
TestListLoader = Callable[[str], Awaitable[list[UrlEntry]]]


class InputError(ValueError):
    """Inputs that cannot be used (unreadable file, input for a no-input test)."""


@dataclass(frozen=True)
class Job:
    """One measurement to make."""

    test: NetTest
    input: str | None
    category_code: str | None = None


@dataclass(frozen=True)
class InputSources:
    """Where inputs come from, as the user gave them."""

    inputs: tuple[str, ...] = ()
    input_files: tuple[Path, ...] = ()
    limit: int | None = None


def read_input_file(path: Path) -> list[str]:
    """One input per line; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read input file {path}: {error}") from error
    inputs = [line.strip() for line in text.splitlines()]
    inputs = [line for line in inputs if line and not line.startswith("#")]
    if not inputs:
        raise InputError(f"input file {path} holds no inputs")
    return inputs


def explicit_inputs(sources: InputSources) -> list[str]:
    """``--input`` values then input-file lines, without duplicates."""
    inputs = list(sources.inputs)
    for path in sources.input_files:
        inputs += read_input_file(path)
    return list(dict.fromkeys(inputs))


async def _jobs_for(
    test: NetTest, given: list[str], country_code: str, load_lists: TestListLoader
) -> list[Job]:
    policy = test.input_policy
    if policy is InputPolicy.NONE:
        return [Job(test, None)]
    if given:
        return [Job(test, value) for value in given]
    if policy is InputPolicy.OPTIONAL:
        defaults = test.default_inputs()
        return [Job(test, value) for value in defaults] or [Job(test, None)]
    entries = await load_lists(country_code)
    if not entries:
        raise InputError(f"{test.name} needs inputs and the test lists gave none")
    return [Job(test, e.url, e.category_code) for e in entries]


async def plan_jobs(
    tests: Sequence[NetTest],
    sources: InputSources,
    country_code: str,
    load_lists: TestListLoader,
) -> list[Job]:
    """Every job of the run, test by test, inputs in order."""
    given = explicit_inputs(sources)
    if given and all(t.input_policy is InputPolicy.NONE for t in tests):
        names = ", ".join(t.name for t in tests)
        raise InputError(f"{names} takes no input")
    jobs = []
    for test in tests:
        planned = await _jobs_for(test, given, country_code, load_lists)
        jobs += planned[: sources.limit] if sources.limit else planned
    return jobs
