"""API tokens on the web: your own (any role), and anyone's for administrators.

A new token is shown once, on the page that created it, and never again: only
its hash is kept. A token acts with its owner's role and BCU.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import select

from tasking.models import Role, User, pk, utcnow
from tasking.services.errors import Invalid, NotFound
from tasking.services.tokens import DEFAULT_DAYS, MAX_DAYS, create_token, is_live, list_tokens
from tasking.services.tokens import revoke_token as revoke_service
from tasking.web.db import db
from tasking.web.security import ANY_ROLE, actor, roles

bp = Blueprint("account", __name__, url_prefix="/account")

DAY_CHOICES = (7, 30, 90, 180, 366)
MAX_USERNAME = 64


def _owner(username: str | None) -> User:
    """Whose tokens the page shows: the signed-in user's, or (administrators) a named user's."""
    if username is None:
        return actor()
    owner = db().exec(select(User).where(User.username == username[:MAX_USERNAME])).first()
    if owner is None:
        raise NotFound(f"no user {username[:MAX_USERNAME]}")
    return owner


def _page(
    owner: User,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    secret: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    tokens = list_tokens(session=db(), actor=actor(), owner_id=pk(owner))
    now = utcnow()
    own = owner.id == actor().id
    return render_template(
        "account/tokens.html",
        owner=owner,
        own=own,
        create_url=url_for("account.create")
        if own
        else url_for("account.create_for", username=owner.username),
        tokens=[(token, is_live(token, now)) for token in tokens],
        values=values,
        errors=errors,
        secret=secret,
        day_choices=DAY_CHOICES,
    ), status


def _create(owner: User) -> ResponseReturnValue:
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
        return _page(owner, values=values, errors=errors, status=422)
    try:
        new = create_token(
            session=db(), actor=actor(), owner_id=pk(owner), name=values["name"], days=days
        )
    except Invalid as exc:
        return _page(owner, values=values, errors=exc.fields, status=422)
    return _page(owner, values={"days": str(DEFAULT_DAYS)}, errors={}, secret=new.secret)


@bp.get("/tokens")
@roles(ANY_ROLE)
def tokens() -> ResponseReturnValue:
    """Your API tokens, and a form to create one."""
    return _page(actor(), values={"days": str(DEFAULT_DAYS)}, errors={})


@bp.post("/tokens")
@roles(ANY_ROLE)
def create() -> ResponseReturnValue:
    """Create a token for yourself and show it, this once."""
    return _create(actor())


@bp.get("/users/<username>/tokens")
@roles(Role.ADMIN)
def tokens_of(username: str) -> ResponseReturnValue:
    """A user's API tokens (administrators), and a form to create one for them."""
    return _page(_owner(username), values={"days": str(DEFAULT_DAYS)}, errors={})


@bp.post("/users/<username>/tokens")
@roles(Role.ADMIN)
def create_for(username: str) -> ResponseReturnValue:
    """Create a token for a user (administrators); shown this once, to hand over."""
    return _create(_owner(username))


@bp.post("/tokens/<int:token_id>/revoke")
@roles(ANY_ROLE)
def revoke(token_id: int) -> ResponseReturnValue:
    """Revoke a token at once: your own, or (administrators) anyone's."""
    user = actor()
    token = revoke_service(session=db(), actor=user, token_id=token_id)
    flash(f"Token {token.name!r} is revoked: it no longer works.", "success")
    if token.user_id == user.id:
        return redirect(url_for("account.tokens"))
    owner = db().get(User, token.user_id)
    assert owner is not None
    return redirect(url_for("account.tokens_of", username=owner.username))


from tasking.web.account import password as password  # noqa: E402 - its routes join bp
