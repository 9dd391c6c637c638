"""``censorscope helper --geoip-db``: the control's ip_info carries real ASNs."""

from __future__ import annotations

from pathlib import Path

from censorscope.helper.commands import _config


def test_the_geoip_database_fills_the_asn_lookup(tmp_path: Path) -> None:
    database = tmp_path / "ip2asn-v4.tsv"
    database.write_text("10.0.0.0\t10.0.0.255\t30985\tML\tOrange Mali\n")

    config = _config("system", None, True, database)

    assert config.asn_lookup is not None
    assert config.asn_lookup("10.0.0.7") == (30985, "Orange Mali")


def test_without_a_database_asns_stay_unknown() -> None:
    assert _config("system", None, True, None).asn_lookup is None
