"""Changing your own password (`/account/password`), and the gate that sends a user with a
one-time password from an administrator there before anything else."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user
from werkzeug.wrappers import Response as BaseResponse

from tasking.models import User
from tasking.services.errors import Invalid
from tasking.services.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, change_own_password
from tasking.web.account import bp
from tasking.web.db import db
from tasking.web.security import ANY_ROLE, actor, roles
from tasking.web.sessions import CurrentUser, session_store

FIELDS = ("current_password", "new_password", "confirm_password")
# Where a user whose password has expired may still go.
_OPEN_WHILE_EXPIRED = frozenset({"account.password", "account.change_password", "auth.logout"})


def _page(errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    # Passwords are never sent back into the form, even on an error.
    return render_template(
        "account/password.html",
        errors=errors,
        expired=actor().password_expired,
        min_length=MIN_PASSWORD_LENGTH,
    ), status


@bp.get("/password")
@roles(ANY_ROLE)
def password() -> ResponseReturnValue:
    """The form to change your password."""
    return _page({})


@bp.post("/password")
@roles(ANY_ROLE)
def change_password() -> ResponseReturnValue:
    """Change your password: every other session you had ends; this browser stays signed in."""
    data = {name: request.form.get(name, "")[: MAX_PASSWORD_LENGTH + 1] for name in FIELDS}
    write = db(write=True)
    user = write.get(User, actor().id)
    assert user is not None
    try:
        change_own_password(session=write, actor=user, data=data)
    except Invalid as exc:
        return _page(
            {k: v for k, v in exc.fields.items() if k in FIELDS} or {"new_password": str(exc)}, 422
        )
    # The raised epoch ends every session the user had, this one too (each request checks
    # it): this browser gets a new one at the new epoch.
    record = session_store().create(user)
    session.clear()
    login_user(CurrentUser(user, record))
    session.permanent = True
    flash(
        "Your password has been changed. Other devices signed in as you are signed out.", "success"
    )
    return redirect(url_for("auth.home"))


@bp.before_app_request
def password_gate() -> BaseResponse | None:
    """A user with a one-time password chooses their own before any other page (the API,
    with its own tokens, is not a page)."""
    if not current_user.is_authenticated or request.endpoint in _OPEN_WHILE_EXPIRED:
        return None
    if request.endpoint == "static" or request.path.startswith("/api/"):
        return None
    row = getattr(current_user, "row", None)
    if row is not None and row.password_expired:
        return redirect(url_for("account.password"))
    return None
