"""The ``censorscope`` command: one Typer app, commands registered per package.

Each package that offers commands has a ``commands`` module with a
``register(app)`` function; this module only assembles them and renders
errors in one place.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="censorscope",
    help="An open observatory of network interference (OONI-compatible).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Packages whose ``commands.register(app)`` adds commands, in help order.
_COMMAND_MODULES = (
    "censorscope.measurement.commands",
    "censorscope.collector.commands",
    "censorscope.archive.commands",
    "censorscope.scoring.commands",
    "censorscope.warehouse.commands",
    "censorscope.probe.commands",
    "censorscope.helper.commands",
    "censorscope.lab.commands",
)


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")
    ] = 0,
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


for _module in _COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Entry point of the console script."""
    sys.exit(app())
