"""Append-only raw storage of collected measurements, laid out like OONI's bucket.

What a collector receives is kept here first, before anything else looks at
it, so every later stage (scoring, warehouse) can be rebuilt from it.

* :mod:`~censorscope.archive.layout` names the objects:
  ``raw/<YYYYMMDD>/<HH>/<CC>/<testname>/<YYYYMMDDHH>_<CC>_<testname>.n<collector>.<counter>.jsonl.zst``
  by upload hour, country and test, as in OONI's public bucket.
* :mod:`~censorscope.archive.framing` compresses each JSON line as its own
  zstd frame (or gzip member), so a file is ordinary compressed JSONL for any
  tool and one measurement can still be read by seeking to its frame.
* :mod:`~censorscope.archive.storage` is the small backend interface (put,
  append, get range, list) with the filesystem implementation; an
  S3-compatible store plugs in behind the same interface.
* :mod:`~censorscope.archive.index` is the SQLite index from
  ``measurement_uid`` (and content hash, for deduplication) to object, byte
  offset and length.
* :mod:`~censorscope.archive.archive` ties them together: :class:`Archive`
  stores batches durably and finds one measurement by uid.
* :mod:`~censorscope.archive.writer` funnels concurrent writers into one
  thread that commits them in groups (one fsync for many measurements).

Unlike OONI's JSONL, each line carries its ``measurement_uid``.
"""

from censorscope.archive.archive import (
    Archive,
    ArchiveError,
    Stored,
    Submission,
    content_digest,
)
from censorscope.archive.writer import ArchiveBusyError, GroupCommitWriter

__all__ = [
    "Archive",
    "ArchiveBusyError",
    "ArchiveError",
    "GroupCommitWriter",
    "Stored",
    "Submission",
    "content_digest",
]
