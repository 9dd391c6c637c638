"""``censorscope serve``: run the collector (and later the API) with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from censorscope.archive.commands import ArchiveOption
from censorscope.collector.settings import DEFAULT_MAX_BODY_BYTES, CollectorSettings

_MEGABYTE = 1024 * 1024


def serve(
    *,
    archive: ArchiveOption = Path("archive"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8080,
    warehouse: Annotated[
        Path | None,
        typer.Option(help="DuckDB warehouse that live scoring loads into."),
    ] = None,
    collector_id: Annotated[
        int, typer.Option(help="Collector number in report ids and file names.")
    ] = 1,
    compression: Annotated[
        str, typer.Option(help="Archive file compression: zst or gz.")
    ] = "zst",
    max_body_mb: Annotated[
        float, typer.Option(help="Largest accepted submission, in MiB.")
    ] = DEFAULT_MAX_BODY_BYTES / _MEGABYTE,
    access_log: Annotated[
        bool,
        typer.Option(help="Log every request (with the client's address)."),
    ] = False,
) -> None:
    """Accept measurements from probes (OONI collector protocol) into the archive."""
    import uvicorn

    from censorscope.collector.app import create_app

    settings = CollectorSettings(
        archive_dir=archive,
        warehouse=warehouse,
        collector_id=collector_id,
        compression=compression,
        max_body_bytes=int(max_body_mb * _MEGABYTE),
    )
    # Access logs are off by default: they would record probes' addresses.
    uvicorn.run(create_app(settings), host=host, port=port, access_log=access_log)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the censorscope command."""
    app.command("serve")(serve)
