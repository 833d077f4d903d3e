"""Benchmark only: the web app with the audit hash chain switched off. Never used by the service.

Started by `bench/bench_audit.py` (the overhead section) as
`gunicorn bench.audit_off_app:app`: before the app is made, the chaining step
of `tasking.services.audit.record_event` is replaced by a plain insert of the
same row (bench/audit_plain.py: no head row read or locked, no hash, no head
update), so the same pages and calls run with and without the chain and their
times can be compared. Use it on a throwaway copy of a database only.
"""

from __future__ import annotations

from bench.audit_plain import plain_insert
from tasking.services import audit

audit._chain = plain_insert  # before the app (and its views) are made

from tasking.web.wsgi import app  # noqa: E402 - after the patch, on purpose

__all__ = ["app"]
