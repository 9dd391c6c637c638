"""censorscope: an open observatory of network interference.

Packages, in the order data flows through them:

* ``measurement`` - the OONI data format: models, failure strings, ids, readers
  and writers for every layout OONI has published.
* ``netx`` - instrumented async network operations that record what they do.
* ``nettests`` - the network tests (web_connectivity, whatsapp, ...).
* ``probe`` - running tests: session, geolocation, test lists, results, upload.
* ``helper`` - test helper servers (web connectivity control, echo helpers).
* ``collector`` - the measurement submission service.
* ``archive`` - append-only raw storage of what was collected.
* ``scoring`` - verdict rules per test, blocking fingerprints, provenance.
* ``warehouse`` - the analytical store (DuckDB).
* ``lab`` - the censorship lab: network namespaces that emulate censoring ISPs.
"""

__version__ = "0.1.0"
