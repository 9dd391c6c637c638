"""``censorscope run`` end to end against local servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from censorscope.measurement.ids import REPORT_ID_RE
from censorscope.measurement.model import check_measurement
from censorscope.probe.results import ResultsStore, RunDirectory
from tests.probe.conftest import Probe
from tests.probe.local_nettests import SlowTest
from tests.probe.servers import Collector, WebServer

TCP = "tests.probe.local_nettests:TcpConnectTest"
SLOW = "tests.probe.local_nettests:SlowTest"


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A TCP port with a listener (connects succeed)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A TCP port nobody listens on (connects are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def only_run(home: Path) -> RunDirectory:
    runs = ResultsStore(home).runs()
    assert len(runs) == 1
    return runs[0]


def stored_docs(home: Path) -> list[dict[str, Any]]:
    return [m.doc for m in only_run(home).measurements()]


def test_a_run_stores_complete_measurements_with_the_probe_network(
    probe: Probe, listening_port: int, closed_port: int
) -> None:
    inputs = [f"tcp://127.0.0.1:{listening_port}", f"tcp://127.0.0.1:{closed_port}"]
    result = probe.run(TCP, "-i", inputs[0], "-i", inputs[1], "-A", "campaign=mali")

    assert result.exit_code == 0, result.output
    docs = {doc["input"]: doc for doc in stored_docs(probe.home)}
    assert set(docs) == set(inputs)
    for doc in docs.values():
        check_measurement(doc)
        assert doc["probe_asn"] == "AS64500"
        assert doc["probe_cc"] == "ML"
        assert doc["probe_network_name"] == "LAB-ISP-ML"
        assert doc["probe_ip"] == "127.0.0.1"
        assert doc["resolver_ip"] == "127.0.0.1"
        assert doc["resolver_asn"] == "AS64501"
        assert REPORT_ID_RE.match(doc["report_id"]) and "_n0_" in doc["report_id"]
        assert doc["annotations"]["engine_name"] == "censorscope"
        assert doc["annotations"]["campaign"] == "mali"
    assert docs[inputs[0]]["test_keys"]["failure"] is None
    assert docs[inputs[1]]["test_keys"]["failure"] == "connection_refused"


def test_results_list_and_show_describe_the_stored_run(
    probe: Probe, listening_port: int, closed_port: int
) -> None:
    probe.run(
        TCP,
        "-i",
        f"tcp://127.0.0.1:{listening_port}",
        "-i",
        f"tcp://127.0.0.1:{closed_port}",
    )
    run = only_run(probe.home)

    listing = probe.results("list")
    shown = probe.results("show", run.run_id[:20])
    one = probe.results("show", run.run_id, "1")
    every = probe.results("show", run.run_id, "--json")

    assert run.run_id[:15] in listing.output and "AS64500" in listing.output
    assert "tcp_connect_probe" in shown.output and "yes" in shown.output
    assert orjson.loads(one.stdout)["test_name"] == "tcp_connect_probe"
    assert len(every.stdout.splitlines()) == 2


def test_measurements_are_also_written_to_the_output_file(
    probe: Probe, tmp_path: Path, listening_port: int
) -> None:
    output = tmp_path / "out" / "report.jsonl"
    probe.run(TCP, "-i", f"tcp://127.0.0.1:{listening_port}", "--output", str(output))

    lines = output.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == stored_docs(probe.home)


def test_uploads_reach_the_collector_one_report_per_test(
    probe: Probe, collector_server: Collector, listening_port: int, closed_port: int
) -> None:
    inputs = [f"tcp://127.0.0.1:{listening_port}", f"tcp://127.0.0.1:{closed_port}"]
    result = probe.run(
        TCP, "-i", inputs[0], "-i", inputs[1], "--collector", collector_server.url
    )

    assert result.exit_code == 0, result.output
    state = collector_server.state
    assert len(state.templates) == 1
    assert state.templates[0]["test_name"] == "tcp_connect_probe"
    assert state.templates[0]["probe_asn"] == "AS64500"
    [(report_id, received)] = state.measurements.items()
    assert sorted(m["input"] for m in received) == sorted(inputs)
    assert state.closed == [report_id]
    run = only_run(probe.home)
    assert run.unsent() == []
    assert {m.doc["report_id"] for m in run.measurements()} == {report_id}


def test_failed_uploads_are_kept_and_sent_later_by_results_upload(
    probe: Probe, collector_server: Collector, listening_port: int
) -> None:
    collector_server.state.failing = True
    inputs = [
        "-i",
        f"tcp://127.0.0.1:{listening_port}",
        "-i",
        f"tcp://localhost:{listening_port}",
    ]
    result = probe.run(
        TCP, *inputs, "--collector", collector_server.url, "--upload-retries", "2"
    )
    assert result.exit_code == 0, result.output
    assert len(only_run(probe.home).unsent()) == 2
    assert collector_server.state.requests == 2  # one open, retried once, then gave up

    collector_server.state.failing = False
    sent = probe.results("upload", "--upload-backoff", "0.01")
    again = probe.results("upload")

    assert sent.exit_code == 0, sent.output
    assert "sent 2, unsent 0" in sent.output
    assert "nothing to upload" in again.output
    received = collector_server.state.all_measurements()
    assert len(received) == 2
    uploads = only_run(probe.home).uploads()
    assert {u["report_id"] for u in uploads.values()} == set(
        collector_server.state.measurements
    )


def test_results_upload_keeps_what_the_collector_still_refuses(
    probe: Probe, collector_server: Collector, listening_port: int
) -> None:
    collector_server.state.failing = True
    probe.run(
        TCP,
        "-i",
        f"tcp://127.0.0.1:{listening_port}",
        "--collector",
        collector_server.url,
    )

    result = probe.results("upload", "--upload-retries", "1")

    assert result.exit_code == 1
    assert "sent 0, unsent 1" in result.output
    assert len(only_run(probe.home).unsent()) == 1


def test_no_upload_keeps_everything_local(
    probe: Probe, collector_server: Collector, listening_port: int
) -> None:
    target = f"tcp://127.0.0.1:{listening_port}"
    probe.run(TCP, "-i", target, "--collector", collector_server.url, "--no-upload")

    assert collector_server.state.requests == 0
    assert "nothing to upload" in probe.results("upload").output


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), ("AS64500", "ML", "LAB-ISP-ML")),
        (("--no-asn",), ("AS0", "ML", "")),
        (("--no-country",), ("AS64500", "ZZ", "LAB-ISP-ML")),
        (("--probe-asn", "30985", "--probe-cc", "sn"), ("AS30985", "SN", "LAB-ISP-ML")),
        (("--probe-asn", "30985", "--no-asn"), ("AS0", "ML", "")),
    ],
)
def test_network_identity_follows_overrides_and_privacy_flags(
    probe: Probe,
    collector_server: Collector,
    listening_port: int,
    flags: tuple[str, ...],
    expected: tuple[str, str, str],
) -> None:
    target = f"tcp://127.0.0.1:{listening_port}"
    probe.run(TCP, "-i", target, "--collector", collector_server.url, *flags)

    [doc] = stored_docs(probe.home)
    assert (doc["probe_asn"], doc["probe_cc"], doc["probe_network_name"]) == expected
    template = collector_server.state.templates[0]
    assert (template["probe_asn"], template["probe_cc"]) == expected[:2]
    if "--no-asn" in flags:
        assert (doc["resolver_asn"], doc["resolver_network_name"]) == ("AS0", "")


def test_geolocation_failure_is_not_fatal_and_blocks_uploading(
    probe: Probe, web: WebServer, collector_server: Collector, listening_port: int
) -> None:
    probe.base[probe.base.index("--ip-discovery") + 1] = web.url("/nowhere")
    target = f"tcp://127.0.0.1:{listening_port}"

    result = probe.run(TCP, "-i", target, "--collector", collector_server.url)

    assert result.exit_code == 0, result.output
    assert "probe IP unknown" in result.output
    [doc] = stored_docs(probe.home)
    assert (doc["probe_asn"], doc["probe_cc"]) == ("AS0", "ZZ")
    assert collector_server.state.requests == 0
    assert "probe IP was unknown" in probe.results("upload").output


def test_simulated_time_sets_the_measurement_clock(
    probe: Probe, listening_port: int
) -> None:
    target = f"tcp://127.0.0.1:{listening_port}"
    probe.run(TCP, "-i", target, "--time", "2018-07-29 17:43:58")

    [doc] = stored_docs(probe.home)
    assert doc["test_start_time"] == "2018-07-29 17:43:58"
    assert doc["measurement_start_time"].startswith("2018-07-29 17:4")
    assert doc["annotations"]["simulated_clock"] == "true"
    assert doc["report_id"].startswith("20180729T174358Z_tcpconnectprobe_ML_64500_n0_")


def test_endpoints_options_resolver_and_asn_lookup_reach_the_test(
    probe: Probe, tmp_path: Path, listening_port: int
) -> None:
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(
        f"endpoint_probe:\n  host: 127.0.0.1\n  port: {listening_port}\n"
    )
    target = "tests.probe.local_nettests:EndpointTest"
    extra = [
        "--endpoints",
        str(endpoints),
        "-O",
        "mode=lab",
        "--resolver",
        "10.0.0.53:53",
    ]

    result = probe.run(target, *extra)

    assert result.exit_code == 0, result.output
    [doc] = stored_docs(probe.home)
    assert doc["input"] is None
    assert doc["test_keys"] == {
        "resolver": "10.0.0.53:53",
        "neighbour_asn": [64500, "LAB-ISP-ML"],
        "host": "127.0.0.1",
        "port": listening_port,
        "failure": None,
        "options": {"mode": "lab"},
    }


def test_parallel_bounds_how_many_measurements_run_at_once(probe: Probe) -> None:
    SlowTest.most_in_flight = 0
    inputs = [arg for i in range(12) for arg in ("-i", f"slow://{i}")]

    probe.run(SLOW, *inputs, "--parallel", "3", "-O", "delay=0.05")

    assert SlowTest.most_in_flight == 3
    assert len(stored_docs(probe.home)) == 12


def test_max_runtime_stops_starting_new_inputs(probe: Probe) -> None:
    inputs = [arg for i in range(40) for arg in ("-i", f"slow://{i}")]

    result = probe.run(
        SLOW, *inputs, "--parallel", "1", "-O", "delay=0.1", "--max-runtime", "0.3"
    )

    assert result.exit_code == 0, result.output
    run = only_run(probe.home)
    assert 1 <= len(stored_docs(probe.home)) < 40
    assert run.read_metadata()["status"] == "max_runtime"


def test_a_crashing_test_is_counted_as_failed_and_the_run_goes_on(probe: Probe) -> None:
    target = "tests.probe.local_nettests:CrashingTest"

    result = probe.run(target, "-i", "x://ok-1", "-i", "x://crash", "-i", "x://ok-2")

    assert result.exit_code == 0
    assert sorted(doc["input"] for doc in stored_docs(probe.home)) == [
        "x://ok-1",
        "x://ok-2",
    ]
    metadata = only_run(probe.home).read_metadata()
    assert metadata["failed"] == 1
    assert "bug in the test" in metadata["errors"][0]


def test_inputs_come_from_the_test_lists_filtered_by_category(
    probe: Probe, shared_data: Path
) -> None:
    lists = shared_data / "test-lists"
    target = "tests.probe.local_nettests:InputRecorderTest"

    result = probe.run(
        target, "--test-list-dir", str(lists), "--category", "HUMR", "--limit", "5"
    )

    assert result.exit_code == 0, result.output
    docs = stored_docs(probe.home)
    assert len(docs) == 5
    assert all(doc["input"].startswith(("http://", "https://")) for doc in docs)


def test_input_files_add_to_input_options(probe: Probe, tmp_path: Path) -> None:
    listing = tmp_path / "inputs.txt"
    listing.write_text("# comment\nx://b\n\nx://c\nx://a\n")

    probe.run(
        SLOW, "-i", "x://a", "-f", str(listing), "-O", "delay=0", "--parallel", "1"
    )

    assert [doc["input"] for doc in stored_docs(probe.home)] == [
        "x://a",
        "x://b",
        "x://c",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no_such_test",), "unknown test or group"),
        (("tests.probe.local_nettests:EndpointTest", "-i", "x"), "takes no input"),
        ((TCP, "--annotation", "novalue", "-i", "x"), "KEY=VALUE"),
        ((TCP, "--time", "yesterday", "-i", "x"), "--time expects"),
        ((TCP, "--probe-cc", "MLI", "-i", "x"), "two-letter"),
    ],
)
def test_bad_requests_fail_with_one_clear_line(
    probe: Probe, args: tuple[str, ...], message: str
) -> None:
    result = probe.run(*args)

    assert result.exit_code == 2
    assert message in result.output
    assert ResultsStore(probe.home).runs() == []


def test_the_progress_bar_and_summary_table_are_shown(probe: Probe) -> None:
    base = [arg for arg in probe.base if arg != "--quiet"]
    inputs = ["-i", "x://plain", "-i", "x://anomaly"]

    result = probe.invoke("run", SLOW, *inputs, "-O", "delay=0", *base)

    assert result.exit_code == 0, result.output
    assert "2/2" in result.output and "1 anomalies" in result.output
    assert "Run summary (completed)" in result.output


def test_the_censorscope_command_offers_run_and_results(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from censorscope.cli import app

    runner = CliRunner()
    listing = runner.invoke(app, ["results", "list", "--home", str(tmp_path)])
    help_text = runner.invoke(app, ["run", "--help"])

    assert listing.exit_code == 0 and "no runs" in listing.output
    assert "--test-helper" in help_text.output


def test_runs_go_to_censorscope_home_when_no_home_is_given(
    probe: Probe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "env-home"
    monkeypatch.setenv("CENSORSCOPE_HOME", str(home))
    base = probe.base[2:]  # without --home

    probe.invoke("run", SLOW, "-i", "x://1", "-O", "delay=0", *base)

    assert len(ResultsStore(home).runs()) == 1
    assert "x://1" not in probe.invoke("results", "list").output  # a table of runs
    assert ResultsStore(home).runs()[0].run_id in probe.invoke("results", "list").output
