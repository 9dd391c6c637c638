"""Fixtures for the network test tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.netx.localnet import LocalCA


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(Path(tmp_path_factory.mktemp("ca")))
