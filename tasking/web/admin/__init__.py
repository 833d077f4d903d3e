"""Administration (`/admin`, administrators only): users, the organisation, scoring models.

Views are thin: each reads the form, calls one service (tasking.services.users,
.org, .scores) which checks the role and audits the change, and renders. A
one-time password is rendered into the response that made it and nowhere else
(only its argon2 hash is stored). Model uploads are validated by the model
loader, previewed through the workers (a what-if run) and published with a
reason; the rescore goes through the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import col, func, select

from tasking.dispatch import enqueue_after_commit
from tasking.models import (
    ASSET_TYPES,
    MARKING_ORDER,
    ApiToken,
    ModelVersion,
    Role,
    ScoringRun,
    TaskOutbox,
    Unit,
    UnitKind,
    User,
    pk,
    utcnow,
)
from tasking.services import org, outbox, users
from tasking.services.audit import record_event
from tasking.services.errors import Conflict, Invalid, NotFound
from tasking.services.scores import publish_model_version, store_model_text
from tasking.web.admin.whatif import latest_whatif, read_whatif
from tasking.web.db import db
from tasking.web.filters import ROLE_LABELS, mark_page
from tasking.web.security import actor, roles

bp = Blueprint("admin", __name__, url_prefix="/admin")

MAX_MODEL_BYTES = 64 * 1024
RUNS_SHOWN = 30
REASON_MAX = 200
WHATIF_WAIT = timedelta(minutes=10)
# Service field names that differ from the form's.
_FIELD_NAMES = {"unit": "unit_code", "asset": "asset_code"}


def _form(*names: str) -> dict[str, str]:
    """The named form fields, stripped; never cut (the services refuse what is too long)."""
    return {name: request.form.get(name, "").strip() for name in names}


def _errors(exc: Invalid | Conflict) -> dict[str, str]:
    fields = {_FIELD_NAMES.get(k, k): v for k, v in exc.fields.items()}
    return fields or {"form": exc.message}


def _choices() -> dict[str, Any]:
    units = org.list_units(session=db(), actor=actor())
    assets = org.list_assets(session=db(), actor=actor())
    return {
        "role_options": [(r.value, ROLE_LABELS[r]) for r in Role],
        "unit_options": [(u.code, f"{u.code}: {u.name} ({u.kind})") for u in units],
        "hub_options": [(str(u.id), f"{u.code}: {u.name}") for u in units if u.kind != "bcu"],
        "asset_options": [(a.code, f"{a.code}: {a.name}") for a in assets],
        "marking_options": [(m.value, m.value) for m in MARKING_ORDER],
        "kind_options": [(k.value, k.value.upper() if k == "bcu" else k.value) for k in UnitKind],
        "type_options": list(ASSET_TYPES.items()),
    }


@bp.get("/")
@roles(Role.ADMIN)
def index() -> ResponseReturnValue:
    """The administration landing page: what can be managed, with counts."""
    session = db()
    mark_page()
    counts = {
        "users": session.exec(select(func.count()).select_from(User)).one(),
        "units": session.exec(select(func.count()).select_from(Unit)).one(),
        "models": session.exec(select(func.count()).select_from(ModelVersion)).one(),
    }
    current = session.exec(select(ModelVersion).where(col(ModelVersion.is_current))).first()
    return render_template("admin/index.html", counts=counts, current=current)


# Users -------------------------------------------------------------------------------

_USER_FIELDS = ("username", "display_name", "role", "unit_code", "clearance", "asset_code")


def _users_page(
    values: dict[str, str], errors: dict[str, str], *, created: Any = None, status: int = 200
) -> ResponseReturnValue:
    mark_page()
    listing = users.list_users(session=db(), actor=actor())
    units = {u.id: u for u in org.list_units(session=db(), actor=actor())}
    assets = {a.id: a for a in org.list_assets(session=db(), actor=actor())}
    return render_template(
        "admin/users.html", users=listing, units=units, assets=assets, values=values,
        errors=errors, created=created, **_choices(),
    ), status  # fmt: skip


@bp.get("/users")
@roles(Role.ADMIN)
def users_index() -> ResponseReturnValue:
    """Every user, and a form to add one."""
    return _users_page({"clearance": "OFFICIAL-SENSITIVE"}, {})


@bp.post("/users")
@roles(Role.ADMIN)
def users_create() -> ResponseReturnValue:
    """Add a user and show their one-time password, this once."""
    values = _form(*_USER_FIELDS)
    data = {k: v for k, v in values.items() if v or k in ("username", "display_name", "role")}
    try:
        user, password = users.add_user(session=db(), actor=actor(), data=data)
    except (Invalid, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _users_page(values, _errors(exc), status=status)
    return _users_page(
        {"clearance": "OFFICIAL-SENSITIVE"}, {}, created={"user": user, "password": password}
    )


def _user_page(
    user: User,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    password: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    mark_page()
    session = db()
    unit = session.get(Unit, user.unit_id) if user.unit_id else None
    asset = org.list_assets(session=session, actor=actor())
    asset_code = next((a.code for a in asset if a.id == user.asset_id), "")
    live_tokens = session.exec(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None))
    ).one()
    defaults = {
        "display_name": user.display_name,
        "role": user.role,
        "unit_code": unit.code if unit else "",
        "asset_code": asset_code,
        "clearance": user.clearance,
    }
    return render_template(
        "admin/user.html", user=user, unit=unit, values={**defaults, **(values or {})},
        errors=errors or {}, password=password, live_tokens=live_tokens, **_choices(),
    ), status  # fmt: skip


def _user(user_id: int) -> User:
    return users.get_user(session=db(), actor=actor(), user_id=user_id)


@bp.get("/users/<int:user_id>")
@roles(Role.ADMIN)
def user(user_id: int) -> ResponseReturnValue:
    """One user: change role, unit, clearance; disable, reset password, revoke access."""
    return _user_page(_user(user_id))


@bp.post("/users/<int:user_id>")
@roles(Role.ADMIN)
def user_change(user_id: int) -> ResponseReturnValue:
    """Change a user's name, role, unit or owned asset."""
    values = _form("display_name", "role", "unit_code", "asset_code")
    data = {k: v for k, v in values.items() if v or k in ("display_name", "role")}
    try:
        changed = users.change_user(session=db(), actor=actor(), user_id=user_id, data=data)
    except Invalid as exc:
        return _user_page(_user(user_id), values=values, errors=_errors(exc), status=422)
    flash(f"{changed.username} is changed.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/clearance")
@roles(Role.ADMIN)
def user_clearance(user_id: int) -> ResponseReturnValue:
    """Set the highest marking a user may see, with a reason."""
    values = _form("clearance", "clearance_reason")
    try:
        users.set_clearance(
            session=db(), actor=actor(), user_id=user_id, clearance=values["clearance"],
            reason=values["clearance_reason"],
        )  # fmt: skip
    except Invalid as exc:
        errors = {("clearance_reason" if k == "reason" else k): v for k, v in exc.fields.items()}
        return _user_page(_user(user_id), values=values, errors=errors, status=422)
    flash(f"Clearance set to {values['clearance']}.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/active")
@roles(Role.ADMIN)
def user_active(user_id: int) -> ResponseReturnValue:
    """Disable (sessions and tokens stop at once) or enable a user, with a reason."""
    values = _form("active", "active_reason")
    try:
        changed = users.set_active(
            session=db(), actor=actor(), user_id=user_id, active=values["active"] == "yes",
            reason=values["active_reason"],
        )  # fmt: skip
    except (Invalid, Conflict) as exc:
        errors = {"active_reason": exc.fields.get("reason") or exc.message}
        status = 409 if isinstance(exc, Conflict) else 422
        return _user_page(_user(user_id), values=values, errors=errors, status=status)
    flash(f"{changed.username} is {'enabled' if changed.is_active else 'disabled'}.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
@roles(Role.ADMIN)
def user_password(user_id: int) -> ResponseReturnValue:
    """Give a user a new one-time password, shown on this response only."""
    changed, password = users.reset_password(session=db(), actor=actor(), user_id=user_id)
    return _user_page(changed, password=password)


@bp.post("/users/<int:user_id>/revoke")
@roles(Role.ADMIN)
def user_revoke(user_id: int) -> ResponseReturnValue:
    """Sign a user out everywhere and, when asked, revoke their API tokens."""
    tokens = request.form.get("tokens") == "yes"
    count = users.revoke_access(session=db(), actor=actor(), user_id=user_id, tokens=tokens)
    message = "Every session of this user has ended."
    if tokens:
        message += f" {count} API token{'s' if count != 1 else ''} revoked."
    flash(message, "success")
    return redirect(url_for("admin.user", user_id=user_id))


# Units, assets, themes ----------------------------------------------------------------

_ORG: dict[str, tuple[tuple[str, ...], Callable[..., Any], str, Callable[[], list[Any]]]] = {
    "units": (
        ("code", "name", "kind"),
        org.save_unit,
        "unit_id",
        lambda: org.list_units(session=db(), actor=actor()),
    ),
    "assets": (
        ("code", "name", "asset_type", "hub_id", "weekly_capacity_hours"),
        org.save_asset,
        "asset_id",
        lambda: org.list_assets(session=db(), actor=actor()),
    ),
    "themes": (
        ("code", "name", "is_local"),
        org.save_theme,
        "theme_id",
        lambda: org.list_themes(session=db(), actor=actor()),
    ),
}


def _org_page(
    what: str,
    *,
    editing: Any = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    mark_page()
    names, _save, _key, rows = _ORG[what]
    if values is None:
        values = {n: str(getattr(editing, n, "") or "") for n in names} if editing else {}
        if editing is not None and what == "themes":
            values["is_local"] = "yes" if editing.is_local else ""
    extra: dict[str, Any] = {}
    if what == "assets":
        extra["owners"] = org.asset_owners(session=db(), actor=actor())
        extra["units"] = {u.id: u for u in org.list_units(session=db(), actor=actor())}
    return render_template(
        f"admin/{what}.html", rows=rows(), editing=editing, values=values,
        errors=errors or {}, **_choices(), **extra,
    ), status  # fmt: skip


def _org_save(what: str, row_id: int | None) -> ResponseReturnValue:
    names, save, key, _rows = _ORG[what]
    values = _form(*names)
    data: dict[str, Any] = dict(values)
    if what == "themes":
        data["is_local"] = values.get("is_local") == "yes"
    editing = _org_row(what, row_id) if row_id is not None else None
    try:
        saved = save(session=db(), actor=actor(), data=data, **{key: row_id})
    except (Invalid, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _org_page(what, editing=editing, values=values, errors=_errors(exc), status=status)
    flash(f"{saved.code} is saved.", "success")
    return redirect(url_for(f"admin.{what}"))


def _org_row(what: str, row_id: int) -> Any:
    for row in _ORG[what][3]():
        if row.id == row_id:
            return row
    raise NotFound(f"no such {what.rstrip('s')} {row_id}")


@bp.get("/units")
@roles(Role.ADMIN)
def units() -> ResponseReturnValue:
    """BCUs, hubs and central units, and a form to add one."""
    return _org_page("units")


@bp.post("/units")
@roles(Role.ADMIN)
def units_create() -> ResponseReturnValue:
    """Add a unit."""
    return _org_save("units", None)


@bp.get("/units/<int:row_id>")
@roles(Role.ADMIN)
def unit(row_id: int) -> ResponseReturnValue:
    """A unit, in the form to change it."""
    return _org_page("units", editing=_org_row("units", row_id))


@bp.post("/units/<int:row_id>")
@roles(Role.ADMIN)
def unit_change(row_id: int) -> ResponseReturnValue:
    """Change a unit."""
    return _org_save("units", row_id)


@bp.get("/assets")
@roles(Role.ADMIN)
def assets() -> ResponseReturnValue:
    """Assets, who owns them, their weekly capacity; a form to add one."""
    return _org_page("assets")


@bp.post("/assets")
@roles(Role.ADMIN)
def assets_create() -> ResponseReturnValue:
    """Add an asset."""
    return _org_save("assets", None)


@bp.get("/assets/<int:row_id>")
@roles(Role.ADMIN)
def asset(row_id: int) -> ResponseReturnValue:
    """An asset, in the form to change it."""
    return _org_page("assets", editing=_org_row("assets", row_id))


@bp.post("/assets/<int:row_id>")
@roles(Role.ADMIN)
def asset_change(row_id: int) -> ResponseReturnValue:
    """Change an asset (its capacity, holding unit...)."""
    return _org_save("assets", row_id)


@bp.get("/themes")
@roles(Role.ADMIN)
def themes() -> ResponseReturnValue:
    """Control Strategy themes, and a form to add one."""
    return _org_page("themes")


@bp.post("/themes")
@roles(Role.ADMIN)
def themes_create() -> ResponseReturnValue:
    """Add a theme."""
    return _org_save("themes", None)


@bp.get("/themes/<int:row_id>")
@roles(Role.ADMIN)
def theme(row_id: int) -> ResponseReturnValue:
    """A theme, in the form to change it."""
    return _org_page("themes", editing=_org_row("themes", row_id))


@bp.post("/themes/<int:row_id>")
@roles(Role.ADMIN)
def theme_change(row_id: int) -> ResponseReturnValue:
    """Change a theme."""
    return _org_save("themes", row_id)


# Scoring models -----------------------------------------------------------------------


def _models_page(errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    mark_page()
    versions = db().exec(select(ModelVersion).order_by(col(ModelVersion.id).desc())).all()
    return render_template("admin/models.html", versions=versions, errors=errors or {}), status


@bp.get("/models")
@roles(Role.ADMIN)
def models() -> ResponseReturnValue:
    """Stored scoring model versions, and a form to upload a new one."""
    return _models_page()


@bp.post("/models")
@roles(Role.ADMIN)
def models_upload() -> ResponseReturnValue:
    """Upload a model file: validated (each problem named) and stored, not yet current."""
    upload = request.files.get("model_file")
    if upload is None or not upload.filename:
        return _models_page({"model_file": "Choose a TOML model file to upload"}, 422)
    raw = upload.read(MAX_MODEL_BYTES + 1)
    if len(raw) > MAX_MODEL_BYTES:
        return _models_page({"model_file": f"The file is over {MAX_MODEL_BYTES // 1024} KB"}, 422)
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _models_page({"model_file": "The file is not UTF-8 text"}, 422)
    try:
        row = store_model_text(session=db(), content=content, actor=actor())
    except Invalid as exc:
        return _models_page({"model_file": exc.message}, 422)
    record_event(
        session=db(), actor=actor(), category="collection", action="model.store",
        entity_type="model_version", entity_id=row.id, detail={"model": row.label},
    )  # fmt: skip
    flash(f"Model {row.label} is valid and stored. Preview it before publishing.", "success")
    return redirect(url_for("admin.model", version_id=pk(row)))


def _version(version_id: int) -> ModelVersion:
    row = db().get(ModelVersion, version_id)
    if row is None:
        raise NotFound(f"no model version {version_id}")
    return row


def _model_page(
    version: ModelVersion,
    errors: dict[str, str] | None = None,
    values: Any = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = db()
    run = latest_whatif(session, pk(version))
    result = read_whatif(session, run, version) if run is not None else None
    mark_page(*(m["marking"] for m in (result or {}).get("movers", [])))
    asked = session.exec(
        select(TaskOutbox)
        .where(
            TaskOutbox.task_name == "scoring.whatif_preview", TaskOutbox.args == f"[{pk(version)}]"
        )
        .order_by(col(TaskOutbox.id).desc())
    ).first()
    # Asked for since the last result, and recently (a lost task does not poll for ever).
    whatif_pending = (
        asked is not None
        and (run is None or run.started_at < asked.created_at)
        and utcnow() - asked.created_at < WHATIF_WAIT
    )
    return render_template(
        "admin/model.html", version=version, run=run, result=result, whatif_pending=whatif_pending,
        errors=errors or {}, values=values or {},
    ), status  # fmt: skip


@bp.get("/models/<int:version_id>")
@roles(Role.ADMIN)
def model(version_id: int) -> ResponseReturnValue:
    """A model version: its file, its what-if against the board, and publishing it."""
    return _model_page(_version(version_id))


@bp.post("/models/<int:version_id>/whatif")
@roles(Role.ADMIN)
def model_whatif(version_id: int) -> ResponseReturnValue:
    """Ask the workers for a what-if of this version over the whole board."""
    version = _version(version_id)
    enqueue_after_commit(db(), "scoring.whatif_preview", pk(version))
    # A what-if reads every open case's score: a consultation of the whole board.
    record_event(
        session=db(), actor=actor(), category="consultation", action="model.whatif",
        entity_type="model_version", entity_id=version.id, detail={"model": version.label},
    )  # fmt: skip
    flash("The workers are computing the what-if. Refresh this page to see it.", "success")
    return redirect(url_for("admin.model", version_id=version_id))


@bp.post("/models/<int:version_id>/publish")
@roles(Role.ADMIN)
def model_publish(version_id: int) -> ResponseReturnValue:
    """Make this version current with a reason; the workers then rescore every open case."""
    version = _version(version_id)
    reason = request.form.get("reason", "").strip()
    if not 3 <= len(reason) <= REASON_MAX:
        errors = {"reason": f"Say why this model is being published (3 to {REASON_MAX} characters)"}
        return _model_page(version, errors, {"reason": reason}, 422)
    if version.is_current:
        return _model_page(version, {"reason": "This version is already current"}, {}, 409)
    publish_model_version(session=db(), version_id=version_id, actor=actor(), reason=reason)
    enqueue_after_commit(db(), "scoring.rescore_queue", "all", "model published", "model")
    flash(f"{version.label} is now current; the workers are rescoring every open case.", "success")
    return redirect(url_for("admin.runs"))


@bp.get("/runs")
@roles(Role.ADMIN)
def runs() -> ResponseReturnValue:
    """Recent scoring runs and their progress (refresh to follow a run)."""
    mark_page()
    rows = db().exec(select(ScoringRun).order_by(col(ScoringRun.id).desc()).limit(RUNS_SHOWN))
    versions = {v.id: v for v in db().exec(select(ModelVersion)).all()}
    pending = len(outbox.pending(session=db()))
    return render_template(
        "admin/runs.html", runs=list(rows.all()), versions=versions, pending=pending
    )
