"""The signed-in user's own settings: their API tokens (create, list, revoke).

A new token is shown once, on the page that created it, and never again: only
its hash is kept. Any role may hold tokens; a token acts with its owner's
role and BCU.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tasking.models import pk, utcnow
from tasking.services.errors import Invalid
from tasking.services.tokens import DEFAULT_DAYS, MAX_DAYS, create_token, is_live, list_tokens
from tasking.services.tokens import revoke_token as revoke_service
from tasking.web.db import db
from tasking.web.security import ANY_ROLE, actor, roles

bp = Blueprint("account", __name__, url_prefix="/account")

DAY_CHOICES = (7, 30, 90, 180, 366)


def _page(
    *, values: dict[str, str], errors: dict[str, str], secret: str | None = None, status: int = 200
) -> ResponseReturnValue:
    user = actor()
    tokens = list_tokens(session=db(), actor=user, owner_id=pk(user))
    now = utcnow()
    return render_template(
        "account/tokens.html",
        tokens=[(token, is_live(token, now)) for token in tokens],
        values=values,
        errors=errors,
        secret=secret,
        day_choices=DAY_CHOICES,
    ), status


@bp.get("/tokens")
@roles(ANY_ROLE)
def tokens() -> ResponseReturnValue:
    """Your API tokens, and a form to create one."""
    return _page(values={"days": str(DEFAULT_DAYS)}, errors={})


@bp.post("/tokens")
@roles(ANY_ROLE)
def create() -> ResponseReturnValue:
    """Create a token and show it, this once."""
    values = {
        "name": request.form.get("name", "").strip()[:200],
        "days": request.form.get("days", "").strip()[:8],
    }
    errors: dict[str, str] = {}
    days = int(values["days"]) if values["days"].isdigit() else 0
    if not 1 <= days <= MAX_DAYS:
        errors["days"] = f"Choose how many days the token is valid (1 to {MAX_DAYS})"
    if not values["name"]:
        errors["name"] = "Give the token a name, for example the system that will use it"
    if errors:
        return _page(values=values, errors=errors, status=422)
    user = actor()
    try:
        new = create_token(
            session=db(), actor=user, owner_id=pk(user), name=values["name"], days=days
        )
    except Invalid as exc:
        return _page(values=values, errors=exc.fields, status=422)
    return _page(values={"days": str(DEFAULT_DAYS)}, errors={}, secret=new.secret)


@bp.post("/tokens/<int:token_id>/revoke")
@roles(ANY_ROLE)
def revoke(token_id: int) -> ResponseReturnValue:
    """Revoke one of your tokens at once."""
    token = revoke_service(session=db(), actor=actor(), token_id=token_id)
    flash(f"Token {token.name!r} is revoked: it no longer works.", "success")
    return redirect(url_for("account.tokens"))
