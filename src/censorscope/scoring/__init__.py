"""Scoring: from a measurement to a verdict with its evidence.

* ``fingerprints`` - OONI's blocking fingerprints (CSV), matched efficiently.
* ``rules`` - one rule per test, OONI fastpath semantics plus our additions.
* ``scorer`` - :func:`score`, the single code path for every consumer.
* ``verdict`` - the :class:`Verdict` (anomaly, confirmed, failure, blocking,
  down, evidence, versions) and the :class:`Assessment` rules fill.
* ``rows`` - turning a scored measurement into a warehouse row.
* ``ingest`` / ``rescore`` / ``live`` - bulk, re-scoring and live pipelines.
* ``commands`` - ``censorscope ingest``, ``rescore``, ``fingerprints update``.

docs/scoring.md documents every rule and where we differ from OONI.
"""

from censorscope.scoring.fingerprints import FingerprintDB, FingerprintError
from censorscope.scoring.scorer import RULES_VERSION, score
from censorscope.scoring.verdict import Verdict

__all__ = ["RULES_VERSION", "FingerprintDB", "FingerprintError", "Verdict", "score"]
