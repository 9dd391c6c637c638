"""``fingerprints update`` against a local mirror of the upstream repository."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from censorscope.scoring.fingerprints import FingerprintDB, FingerprintError
from censorscope.scoring.update import update_fingerprints


@pytest.fixture
def mirror(tmp_path: Path, fingerprints_dir: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a copy of the CSVs."""
    root = tmp_path / "mirror"
    root.mkdir()
    for name in ("fingerprints_dns.csv", "fingerprints_http.csv"):
        shutil.copy(fingerprints_dir / name, root / name)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", root
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_update_installs_the_published_csvs(
    mirror: tuple[str, Path], tmp_path: Path, fingerprints: FingerprintDB
) -> None:
    url, _ = mirror
    target = tmp_path / "data" / "fingerprints"
    database = update_fingerprints(target, base_url=url)
    assert database.version == fingerprints.version
    assert FingerprintDB.load(target).version == fingerprints.version


def test_a_failed_update_keeps_the_previous_fingerprints(
    mirror: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = mirror
    target = tmp_path / "fingerprints"
    update_fingerprints(target, base_url=url)
    before = FingerprintDB.load(target).version
    (root / "fingerprints_http.csv").unlink()
    (root / "fingerprints_dns.csv").write_text("not,a,fingerprint,file\n")
    with pytest.raises(FingerprintError):
        update_fingerprints(target, base_url=url)
    assert FingerprintDB.load(target).version == before


def test_the_update_command_reports_what_it_installed(
    mirror: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = mirror
    command = [
        sys.executable, "-c", "from censorscope.cli import main; main()",
        "fingerprints", "update", "--dir", str(tmp_path / "fp"), "--base-url", url,
    ]  # fmt: skip
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "fingerprints (fp-" in result.stderr
