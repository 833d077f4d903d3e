"""Sign-in, sign-out and the signed-in home page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_login import current_user, login_user, logout_user
from sqlmodel import select
from werkzeug.wrappers import Response as BaseResponse

from tasking.models import Role, User
from tasking.services.audit import record_event
from tasking.services.users import dummy_verify, verify_password
from tasking.web.db import db
from tasking.web.security import ANY_ROLE, BOARD_ROLES, actor, roles, safe_next
from tasking.web.sessions import CurrentUser, session_store

bp = Blueprint("auth", __name__)

FAILED_SIGN_IN = 401
MAX_USERNAME = 64
MAX_PASSWORD = 1024


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse | tuple[str, int]:
    """The sign-in form; the same answer for an unknown user and a wrong password."""
    next_page = safe_next(request.values.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_page or url_for("auth.home"))
    if request.method == "GET":
        return render_template("auth/login.html", values={}, errors={}, next_page=next_page)
    username = request.form.get("username", "").strip()[:MAX_USERNAME]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"  # noqa: S105 - a message, not a password
    values = {"username": username}
    if errors:
        return render_template(
            "auth/login.html", values=values, errors=errors, next_page=next_page
        ), 422
    session_db = db()
    user = session_db.exec(select(User).where(User.username == username)).first()
    if user is None:
        dummy_verify(password)  # the same work, so timing does not tell who exists
    if user is None or not user.is_active or not verify_password(user, password):
        errors["password"] = "The username or password is not right"  # noqa: S105
        return render_template(
            "auth/login.html", values=values, errors=errors, next_page=next_page
        ), FAILED_SIGN_IN
    record = session_store().create(user)
    session.clear()  # no fixation: nothing from before sign-in survives
    login_user(CurrentUser(user, record))
    session.permanent = True
    record_event(
        session=session_db, actor=user, category="consultation", action="user.sign_in",
        entity_type="user", entity_id=user.id, detail={"session": record.sid[:8]},
    )  # fmt: skip
    return redirect(next_page or url_for("auth.home"))


@bp.route("/logout", methods=["POST"])
@roles(ANY_ROLE)
def logout() -> BaseResponse:
    """Sign out: the server-side session ends, so the old cookie is worthless."""
    user = actor()
    sid = current_user.get_id()
    session_store().end(sid)
    record_event(
        session=db(), actor=user, category="consultation", action="user.sign_out",
        entity_type="user", entity_id=user.id, detail={"session": sid[:8]},
    )  # fmt: skip
    logout_user()
    session.clear()
    return redirect(url_for("auth.login", signed_out=1))


@bp.route("/")
@roles(ANY_ROLE)
def home() -> str | BaseResponse:
    """Where each role starts: the board for SCTaC staff, their requests for BCU officers."""
    user = actor()
    if user.role in BOARD_ROLES and "board.board" in current_app.view_functions:
        return redirect(url_for("board.board"))
    if user.role == Role.BCU_REQUESTER and "requests.index" in current_app.view_functions:
        return redirect(url_for("requests.index"))
    return render_template("auth/home.html", user=user)


def limit_sign_ins(app_limiter: Limiter, *, per_user: str, per_address: str) -> None:
    """Rate-limit failed sign-ins per username and per address (successes cost nothing)."""
    view: Any = current_app.view_functions["auth.login"]

    def failed(response: BaseResponse) -> bool:
        return response.status_code == FAILED_SIGN_IN

    def username_key() -> str:
        return "user:" + request.form.get("username", "").strip().lower()[:MAX_USERNAME]

    view = app_limiter.limit(per_user, key_func=username_key, methods=["POST"], deduct_when=failed)(
        view
    )
    view = app_limiter.limit(per_address, methods=["POST"], deduct_when=failed)(view)
    current_app.view_functions["auth.login"] = view
