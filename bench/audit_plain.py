"""Benchmark only: the audit row inserted without its link to the hash chain.

`plain_insert` stands in for `tasking.services.audit._chain` in the "chain
off" variant of bench/bench_audit.py (bench/audit_off_app.py patches it in
before the app is made, and the in-process per-row timing swaps it in). The
rows it writes are numbered below zero, one series per process (the seq column
is unique), and are not a chain: use it on a throwaway copy of a database only.
"""

from __future__ import annotations

import itertools
import os

from sqlmodel import Session

from tasking.models import AuditEvent

_numbers = itertools.count(1)


def plain_insert(session: Session, event: AuditEvent) -> None:
    """The row as record_event made it, inserted without a link to the chain."""
    event.seq = -(os.getpid() % 2_000 * 1_000_000 + next(_numbers))  # fits a 32-bit column
    event.prev_hash = event.row_hash = ""
    session.add(event)
