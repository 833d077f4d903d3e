"""Benchmark only: the web app with the audit hash chain switched off. Never used by the service.

Started by `bench/bench_audit.py` (the overhead section) as
`gunicorn bench.audit_off_app:app`: before the app is made, the chaining step
of `tasking.services.audit.record_event` is replaced by a plain insert of the
same row (no head row read or locked, no hash, no head update), so the same
pages and calls run with and without the chain and their times can be
compared. The rows it writes are numbered below zero, one series per process
(the seq column is unique), and are not a chain: use it on a throwaway copy of
a database only.
"""

from __future__ import annotations

import itertools
import os

from sqlmodel import Session

from tasking.models import AuditEvent
from tasking.services import audit

_numbers = itertools.count(1)


def plain_insert(session: Session, event: AuditEvent) -> None:
    """The row as record_event made it, inserted without a link to the chain."""
    event.seq = -(os.getpid() % 2_000 * 1_000_000 + next(_numbers))  # fits a 32-bit column
    event.prev_hash = event.row_hash = ""
    session.add(event)


audit._chain = plain_insert  # before the app (and its views) are made

from tasking.web.wsgi import app  # noqa: E402 - after the patch, on purpose

__all__ = ["app"]
