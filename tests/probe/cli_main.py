"""``python -m tests.probe.cli_main``: the probe commands alone, for subprocess tests.

The full ``censorscope`` command assembles every package; this keeps the probe
tests independent of packages still being written.
"""

from __future__ import annotations

import typer

from censorscope.probe.commands import register

app = typer.Typer()
app.callback()(lambda: None)
register(app)

if __name__ == "__main__":
    app()
