"""``censorscope run`` and ``censorscope results list|show|upload``."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

from censorscope.nettests.base import TestContext
from censorscope.probe.catalog import UnknownTestError, load_catalog
from censorscope.probe.geolocation import (
    DEFAULT_IP_DISCOVERY,
    DEFAULT_RESOLVER_WHOAMI,
    GeolocationSettings,
    normalize_asn,
    normalize_cc,
)
from censorscope.probe.inputs import InputError, InputSources
from censorscope.probe.options import (
    OptionError,
    load_endpoints,
    parse_clock,
    parse_pairs,
)
from censorscope.probe.progress import (
    ProgressBar,
    QuietObserver,
    measurements_table,
    runs_table,
    summary_table,
)
from censorscope.probe.resend import upload_run
from censorscope.probe.results import (
    ResultsError,
    ResultsStore,
    RunDirectory,
    default_home,
)
from censorscope.probe.runner import INTERRUPTED, RunObserver, RunTally
from censorscope.probe.session import (
    SOFTWARE_VERSION,
    PreparedRun,
    RunRequest,
    prepare_run,
)
from censorscope.probe.testlists import UPSTREAM_LISTS_URL, TestListError
from censorscope.probe.upload import CollectorClient, RetryPolicy

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Errors the user can fix; each is printed as one line.
_USER_ERRORS = (InputError, UnknownTestError, TestListError, ResultsError, OptionError)

results_app = typer.Typer(
    help="Stored results: list, show, upload later.", no_args_is_help=True
)


def _console() -> Console:
    """Plain lines stay whole (soft wrap) so that scripts can read them."""
    return Console(soft_wrap=True, highlight=False)


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    Console(stderr=True, soft_wrap=True, highlight=False).print(
        f"[red]error:[/red] {message}"
    )
    return typer.Exit(code)


def _home(home: Path | None) -> Path:
    return home if home is not None else default_home()


async def _measure(
    request: RunRequest, observer: RunObserver
) -> tuple[PreparedRun, RunTally]:
    """Prepare and execute the run; the first Ctrl-C stops between inputs."""
    prepared = await prepare_run(request, load_catalog())
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            prepared.runner.request_stop()
        elif task is not None:
            task.cancel()  # a second Ctrl-C abandons measurements in flight

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (ValueError, RuntimeError, NotImplementedError):
        logger.debug("no SIGINT handler (not the main thread)")
    try:
        return prepared, await prepared.execute(observer)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _report(prepared: PreparedRun, tally: RunTally, console: Console) -> None:
    console.print(summary_table(tally, prepared.collector is not None))
    metadata = prepared.metadata
    if metadata["upload_requested"] and not metadata["probe_ip_known"]:
        console.print(
            "[yellow]probe IP unknown: nothing was uploaded (cannot scrub)[/yellow]"
        )
    for error in tally.errors:
        console.print(f"[yellow]{error}[/yellow]")
    console.print(f"results: {prepared.run_dir.path}")


def _execute(request: RunRequest, quiet: bool) -> None:
    """Run with a progress bar, print the summary, exit like the run ended."""
    console = _console()
    try:
        if quiet:
            prepared, tally = asyncio.run(_measure(request, QuietObserver()))
        else:
            with ProgressBar(Console(stderr=True), request.target) as bar:
                prepared, tally = asyncio.run(_measure(request, bar))
    except _USER_ERRORS as error:
        raise _fail(str(error)) from error
    _report(prepared, tally, console)
    if tally.stop_reason == INTERRUPTED:
        raise typer.Exit(EXIT_INTERRUPTED)


def _geolocation(
    options: dict[str, Any], home: Path, ca_bundle: str | None
) -> GeolocationSettings:
    """Geolocation settings from ``run``'s options (raises ValueError)."""
    asn, cc = options["probe_asn"], options["probe_cc"]
    discovery = options["ip_discovery"]
    return GeolocationSettings(
        discovery_urls=tuple(discovery) if discovery else DEFAULT_IP_DISCOVERY,
        database_path=options["geoip_db"] or _default_database(home),
        resolver_whoami=options["resolver_lookup"],
        probe_asn=normalize_asn(asn) if asn is not None else None,
        probe_cc=normalize_cc(cc) if cc is not None else None,
        probe_network_name=options["probe_network_name"],
        share_asn=not options["no_asn"],
        share_country=not options["no_country"],
        ca_bundle=ca_bundle,
        timeout=options["timeout"],
    )


def _default_database(home: Path) -> Path | None:
    """``<home>/ip2asn-v4.tsv.gz`` or ``.tsv`` if either exists."""
    for name in ("ip2asn-v4.tsv.gz", "ip2asn-v4.tsv", "ip2asn-combined.tsv.gz"):
        if (home / name).is_file():
            return home / name
    return None


# One alias per ``run`` option keeps the command's signature one line each.
_Inputs = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="Input to measure (repeatable)."),
]
_InputFiles = Annotated[
    list[Path] | None,
    typer.Option("--input-file", "-f", help="File of inputs, one a line."),
]
_TestListDir = Annotated[
    Path | None, typer.Option(help="Directory with global.csv, <cc>.csv.")
]
_TestListUrl = Annotated[str, typer.Option(help="Where to fetch test lists from.")]
_Categories = Annotated[
    list[str] | None, typer.Option("--category", help="Category code (repeatable).")
]
_Limit = Annotated[int | None, typer.Option(min=1, help="At most N inputs per test.")]
_Parallel = Annotated[int, typer.Option(min=1, help="Measurements at once.")]
_MaxRuntime = Annotated[
    float | None, typer.Option(min=0, help="Stop starting inputs after S.")
]
_Collector = Annotated[
    str | None, typer.Option(envvar="CENSORSCOPE_COLLECTOR", help="Collector base URL.")
]
_NoUpload = Annotated[
    bool, typer.Option("--no-upload", help="Keep results local only.")
]
_Retries = Annotated[int, typer.Option(min=1, help="Attempts per collector request.")]
_Backoff = Annotated[
    float, typer.Option(min=0, help="First retry delay, seconds (doubles).")
]
_Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Also append measurements here.")
]
_TestHelpers = Annotated[
    list[str] | None,
    typer.Option("--test-helper", help="Test helper URL (repeatable)."),
]
_CaBundle = Annotated[
    Path | None,
    typer.Option(help="Trusted CAs (PEM), used instead of the system roots."),
]
_Endpoints = Annotated[
    Path | None, typer.Option(help="Per-test endpoints (JSON or YAML).")
]
_Annotations = Annotated[
    list[str] | None, typer.Option("--annotation", "-A", help="KEY=VALUE (repeatable).")
]
_TestOptions = Annotated[
    list[str] | None, typer.Option("--option", "-O", help="Test option KEY=VALUE.")
]
_Time = Annotated[
    str | None, typer.Option(help='Simulated start "YYYY-MM-DD HH:MM:SS".')
]
_Timeout = Annotated[
    float, typer.Option(min=0.1, help="Per-operation timeout, seconds.")
]
_GeoipDb = Annotated[Path | None, typer.Option(help="iptoasn ip2asn TSV (.gz).")]
_Discovery = Annotated[
    list[str] | None,
    typer.Option("--ip-discovery", help="IP discovery URL (repeatable)."),
]
_Resolver = Annotated[
    str | None,
    typer.Option(
        help="DNS server for the tests: IP:PORT, tcp://, https:// (default: system)."
    ),
]
_ResolverLookup = Annotated[
    str, typer.Option(help="Name whose answer is the resolver's IP ('' skips).")
]
_Override = Annotated[str | None, typer.Option(help="Override the detected value.")]
_NoAsn = Annotated[bool, typer.Option("--no-asn", help="Withhold the ASN (AS0).")]
_NoCountry = Annotated[
    bool, typer.Option("--no-country", help="Withhold the country (ZZ).")
]
_SoftwareName = Annotated[str, typer.Option(help="The software_name field.")]
_Home = Annotated[Path | None, typer.Option(help="Results directory.")]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def run(
    *,
    target: Annotated[
        str, typer.Argument(help="websites|im|middlebox|experimental|TEST")
    ],
    input: _Inputs = None,
    input_file: _InputFiles = None,
    test_list_dir: _TestListDir = None,
    test_list_url: _TestListUrl = UPSTREAM_LISTS_URL,
    category: _Categories = None,
    limit: _Limit = None,
    parallel: _Parallel = 4,
    max_runtime: _MaxRuntime = None,
    collector: _Collector = None,
    no_upload: _NoUpload = False,
    upload_retries: _Retries = 3,
    upload_backoff: _Backoff = 1.0,
    output: _Output = None,
    test_helper: _TestHelpers = None,
    ca_bundle: _CaBundle = None,
    endpoints: _Endpoints = None,
    annotation: _Annotations = None,
    option: _TestOptions = None,
    time: _Time = None,
    timeout: _Timeout = 10.0,
    geoip_db: _GeoipDb = None,
    ip_discovery: _Discovery = None,
    resolver: _Resolver = None,
    resolver_lookup: _ResolverLookup = DEFAULT_RESOLVER_WHOAMI,
    probe_asn: _Override = None,
    probe_cc: _Override = None,
    probe_network_name: _Override = None,
    no_asn: _NoAsn = False,
    no_country: _NoCountry = False,
    software_name: _SoftwareName = "censorscope",
    home: _Home = None,
    quiet: _Quiet = False,
) -> None:
    """Run a group of tests or one test, store the measurements, upload them."""
    try:
        request = _build_request(**locals())
    except (OptionError, ValueError) as error:
        raise _fail(str(error)) from error
    _execute(request, quiet)


def _context(options: dict[str, Any]) -> TestContext:
    """What the tests get from ``run``'s options (raises OptionError)."""
    helpers, ca_bundle = options["test_helper"], options["ca_bundle"]
    return TestContext(
        test_helpers=tuple(helpers) if helpers else TestContext().test_helpers,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
        endpoints=load_endpoints(options["endpoints"]),
        timeout=options["timeout"],
        options=parse_pairs(options["option"] or [], "--option"),
        resolver=options["resolver"],
    )


def _build_request(**options: Any) -> RunRequest:
    """The RunRequest for ``run``'s options (raises OptionError, ValueError)."""
    home = _home(options["home"])
    context = _context(options)
    return RunRequest(
        target=options["target"],
        home=home,
        sources=InputSources(
            tuple(options["input"] or ()),
            tuple(options["input_file"] or ()),
            options["limit"],
        ),
        test_list_dir=options["test_list_dir"],
        test_list_url=options["test_list_url"],
        categories=tuple(options["category"] or ()),
        parallel=options["parallel"],
        max_runtime=options["max_runtime"] or None,
        collector=None if options["no_upload"] else options["collector"],
        retry=RetryPolicy(
            attempts=options["upload_retries"], first_delay=options["upload_backoff"]
        ),
        output=options["output"],
        context=context,
        annotations=parse_pairs(options["annotation"] or [], "--annotation"),
        start_time=parse_clock(options["time"]),
        geolocation=_geolocation(options, home, context.ca_bundle),
        software_name=options["software_name"],
        software_version=SOFTWARE_VERSION,
    )


@results_app.command("list")
def results_list(
    home: Annotated[Path | None, typer.Option(help="Results directory.")] = None,
) -> None:
    """List stored runs, oldest first."""
    runs = ResultsStore(_home(home)).runs()
    if not runs:
        _console().print(f"no runs in {ResultsStore(_home(home)).root}")
        return
    try:
        _console().print(runs_table(runs))
    except ResultsError as error:
        raise _fail(str(error)) from error


def _as_uploaded(
    doc: dict[str, object], upload: dict[str, object] | None
) -> dict[str, object]:
    """The measurement as the collector holds it (its report id and uid)."""
    if not upload:
        return doc
    return {
        **doc,
        "report_id": upload["report_id"],
        "measurement_uid": upload["measurement_uid"],
    }


@results_app.command("show")
def results_show(
    run_id: Annotated[str, typer.Argument(help="Run id (or an unambiguous prefix).")],
    line: Annotated[
        int | None, typer.Argument(help="Print this measurement's JSON.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="All measurements as JSONL.")
    ] = False,
    home: Annotated[Path | None, typer.Option(help="Results directory.")] = None,
) -> None:
    """Show a run's measurements, or one measurement as JSON."""
    try:
        run_dir = ResultsStore(_home(home)).find(run_id)
    except ResultsError as error:
        raise _fail(str(error)) from error
    measurements = list(run_dir.measurements())
    if line is not None:
        chosen = [m for m in measurements if m.line == line]
        if not chosen:
            raise _fail(f"run {run_dir.run_id} has no measurement {line}")
        doc = _as_uploaded(chosen[0].doc, chosen[0].upload)
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif as_json:
        for stored in measurements:
            sys.stdout.write(
                orjson.dumps(_as_uploaded(stored.doc, stored.upload)).decode() + "\n"
            )
    else:
        _console().print(measurements_table(run_dir.run_id, measurements))


def _runs_to_upload(store: ResultsStore, run_ids: list[str]) -> list[RunDirectory]:
    """The named runs, or every run that asked for upload and has unsent data."""
    if run_ids:
        return [store.find(run_id) for run_id in run_ids]
    return [
        r
        for r in store.runs()
        if r.read_metadata().get("upload_requested") and r.unsent()
    ]


async def _upload_runs(
    runs: list[RunDirectory],
    collector: str | None,
    retry: RetryPolicy,
    console: Console,
    ca_bundle: Path | None = None,
) -> bool:
    """Upload each run; True when everything was sent."""
    complete = True
    for run_dir in runs:
        metadata = run_dir.read_metadata()
        url = collector or metadata.get("collector")
        if not metadata.get("probe_ip_known"):
            console.print(f"{run_dir.run_id}: probe IP was unknown, not uploading")
            complete = False
            continue
        if not url:
            console.print(f"{run_dir.run_id}: no collector (use --collector)")
            complete = False
            continue
        bundle = str(ca_bundle) if ca_bundle else None
        async with CollectorClient(url, retry=retry, ca_bundle=bundle) as client:
            tally = await upload_run(run_dir, client)
        console.print(
            f"{run_dir.run_id}: sent {tally.sent}, unsent {tally.unsent}",
            highlight=False,
        )
        for error in tally.errors:
            console.print(f"[yellow]{error}[/yellow]")
        complete = complete and tally.unsent == 0
    return complete


@results_app.command("upload")
def results_upload(  # noqa: PLR0917 - Typer maps parameters to options
    run_ids: Annotated[
        list[str] | None, typer.Argument(help="Runs (default: all unsent).")
    ] = None,
    collector: Annotated[
        str | None,
        typer.Option(
            envvar="CENSORSCOPE_COLLECTOR", help="Collector (default: the run's)."
        ),
    ] = None,
    upload_retries: Annotated[
        int, typer.Option(min=1, help="Attempts per request.")
    ] = 3,
    upload_backoff: Annotated[
        float, typer.Option(min=0, help="First retry delay.")
    ] = 1.0,
    home: Annotated[Path | None, typer.Option(help="Results directory.")] = None,
    ca_bundle: _CaBundle = None,
) -> None:
    """Send measurements that were not uploaded; exit 1 if some remain unsent."""
    store = ResultsStore(_home(home))
    try:
        runs = _runs_to_upload(store, run_ids or [])
    except ResultsError as error:
        raise _fail(str(error)) from error
    console = _console()
    if not runs:
        console.print("nothing to upload")
        return
    retry = RetryPolicy(attempts=upload_retries, first_delay=upload_backoff)
    if not asyncio.run(_upload_runs(runs, collector, retry, console, ca_bundle)):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``results`` to the censorscope command."""
    app.command("run")(run)
    app.add_typer(results_app, name="results")
