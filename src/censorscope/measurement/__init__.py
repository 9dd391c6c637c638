"""The OONI measurement format: models, failure strings, ids, readers, writers.

* ``failures`` - the failure strings of df-007, with their meaning.
* ``templates`` - typed shapes of the df-000 ... df-008 templates.
* ``testkeys`` - typed test keys of the tests we implement.
* ``model`` - :class:`Measurement`, the validated wrapper around one document.
* ``binary`` - the ``{"format": "base64"}`` form of non-UTF-8 data.
* ``ids`` - ``report_id`` and ``measurement_uid`` in OONI's formats.
* ``readers`` / ``writers`` - streaming I/O for every published layout.
* ``legacy_yaml`` - normalisation of YAML-era reports.
"""

from censorscope.measurement.model import (
    Measurement,
    MeasurementError,
    check_measurement,
)
from censorscope.measurement.readers import ReadStats, Rejection, read_measurements
from censorscope.measurement.writers import open_jsonl_writer, write_jsonl

__all__ = [
    "Measurement",
    "MeasurementError",
    "ReadStats",
    "Rejection",
    "check_measurement",
    "open_jsonl_writer",
    "read_measurements",
    "write_jsonl",
]
