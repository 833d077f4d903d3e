"""One database session per request, on `g`, committed only when the request succeeds.

Reads use a plain deferred transaction, so boards never wait for a rescore's
write lock on SQLite. A request that writes (any POST, or a page that logs a
consultation) asks for a writer session before its first query: on SQLite
that is BEGIN IMMEDIATE, so it never has to upgrade a read lock mid-way (a read
session already open is ended first).
"""

from __future__ import annotations

from flask import current_app, g, request
from flask import session as cookie_session
from sqlalchemy import Engine
from sqlmodel import Session

from tasking.db import writer
from tasking.services.audit import AuditContext, set_context

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def app_engine() -> Engine:
    """The application's database engine."""
    engine: Engine = current_app.extensions["tasking_engine"]
    return engine


def db(*, write: bool = False) -> Session:
    """This request's session; the first call decides whether it opens a write transaction."""
    session: Session | None = g.get("db_session")
    wants_write = write or request.method not in _SAFE_METHODS
    if session is None:
        engine = app_engine()
        session = Session(writer(engine) if wants_write else engine, expire_on_commit=False)
        set_context(session, request_context)  # from where, and why, for the audit log
        g.db_session = session
        g.db_writes = wants_write
    elif wants_write and not g.db_writes:
        # Reads so far (e.g. loading the signed-in user) end here; the writer starts
        # afresh. Loaded rows stay usable (nothing expires on this commit).
        session.commit()
        session.close()
        g.db_session = None
        g.db_writes = False
        return db(write=True)
    return session


def request_context() -> AuditContext:
    """This request as the audit log records it: origin, address, browser, the sign-in
    session (id prefix) or API token (`g.audit_credential`), and any reason given
    (`g.audit_reason`: code and text)."""
    api = request.path.startswith("/api/")
    credential = g.get("audit_credential", "")
    if not credential and not api:
        sid = cookie_session.get("_user_id")
        credential = f"session:{sid[:8]}" if isinstance(sid, str) and sid else ""
    code, reason = g.get("audit_reason", ("", ""))
    return AuditContext(
        origin="api" if api else "web",
        address=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", "")[:256],
        credential=credential,
        reason_code=code,
        reason=reason,
    )


def finish(*, success: bool) -> None:
    """Commit the request's transaction when it succeeded, else roll it back; always close."""
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return
    try:
        if success:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()
