"""The measurement submission service that probes talk to (OONI's collector protocol).

* :mod:`~censorscope.collector.routes` - the endpoints: ``POST /report``
  (open), ``POST /report/{id}`` (submit), ``POST /report/{id}/close`` and the
  single-call ``POST /api/v1/submit_measurement``.
* :mod:`~censorscope.collector.wire` - reading request bodies: size limits,
  gzip/zstd ``Content-Encoding``, JSON.
* :mod:`~censorscope.collector.validation` - what a report request and a
  measurement must look like, and their consistency with the report id.
* :mod:`~censorscope.collector.reports` - the report ids this collector
  issued, kept in the archive directory so a restart keeps accepting them.
* :mod:`~censorscope.collector.service` - :class:`Collector`: validated
  measurements go to the archive (durable before the probe is answered),
  then to the sink.
* :mod:`~censorscope.collector.sink` - the pluggable consumer of stored
  measurements (live scoring), run off the request path.
* :mod:`~censorscope.collector.app` - ``create_app(settings)``, the ASGI app.
* :mod:`~censorscope.collector.read_routes` - reading back one measurement:
  ``GET /api/v1/measurement_meta`` (warehouse) and ``/api/v1/raw_measurement``
  (archive), in OONI's shape.
* :mod:`~censorscope.collector.errors` - one JSON error shape for every 4xx/5xx.
"""

from censorscope.collector.app import create_app
from censorscope.collector.settings import CollectorSettings
from censorscope.collector.sink import MeasurementSink

__all__ = ["CollectorSettings", "MeasurementSink", "create_app"]
