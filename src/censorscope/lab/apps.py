"""The instant-messaging apps in the lab: which tests measure them, and how.

The lab's internet serves WhatsApp, Facebook Messenger, Telegram and Signal
under their real hostnames (see ``internet``), so the IM tests resolve them
through the ISP's resolver as they would in the field, and scoring finds the
URLs it expects.  What cannot be found by name goes into the endpoints file
the probe is given (``censorscope run im --endpoints FILE``):

- Telegram's data centers, which the test contacts by IP address;
- the root Signal pins (the lab's pinned CA, see ``pki``);
- WhatsApp's parallelism, raised from 3 to 16 so that a run whose 32
  endpoint connects are all blackholed waits three rounds of the timeout
  instead of twelve; it changes no verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import orjson

from censorscope.lab import addressing as plan

# App names are the names of the nettests that measure them.
APPS: Final = ("whatsapp", "telegram", "signal", "facebook_messenger")
IM_GROUP: Final = "im"
WHATSAPP_PARALLELISM: Final = 16


class UnknownAppError(ValueError):
    """A scenario or case names an app the lab does not serve."""


def check_app(name: str) -> str:
    """``name`` if the lab serves that app, else UnknownAppError."""
    if name not in APPS:
        raise UnknownAppError(f"unknown app {name!r} (known: {', '.join(APPS)})")
    return name


def lab_endpoints(pinned_ca_pem: str) -> dict[str, dict[str, Any]]:
    """The ``--endpoints`` content that points the IM tests at the lab."""
    return {
        "telegram": {"datacenters": list(plan.TELEGRAM_DATACENTERS)},
        "signal": {"extra_ca_pem": pinned_ca_pem},
        "whatsapp": {"parallelism": WHATSAPP_PARALLELISM},
    }


def write_endpoints(path: Path, pinned_ca_pem: str) -> Path:
    """Write the endpoints file (JSON, which the probe reads as YAML too)."""
    path.write_bytes(
        orjson.dumps(lab_endpoints(pinned_ca_pem), option=orjson.OPT_INDENT_2)
    )
    return path


def probe_targets(apps: Sequence[str]) -> list[str]:
    """The ``censorscope run`` targets that measure ``apps``, in order.

    All four apps are one run of the ``im`` group (one process instead of
    four); fewer are one run per test.
    """
    if set(apps) == set(APPS):
        return [IM_GROUP]
    return list(dict.fromkeys(apps))
