"""The organisation an administrator keeps: units, assets and their capacity, themes.

Every change is audited (`record_event`) in the caller's transaction. Input is
validated by the data models below (unknown fields refused, each problem named);
a duplicate code is a Conflict naming the field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import Field, field_validator
from sqlmodel import Session, col, select

from tasking.models import ASSET_TYPES, Asset, Case, Theme, Unit, UnitKind, User
from tasking.services.access import require
from tasking.services.audit import record_event
from tasking.services.errors import Conflict, Invalid, NotFound
from tasking.services.schemas import StrictIn, validate

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
M = TypeVar("M", bound=StrictIn)


class UnitIn(StrictIn):
    """A unit as an administrator enters it."""

    code: str = Field(min_length=2, max_length=16, pattern=CODE_PATTERN)
    name: str = Field(min_length=2, max_length=120)
    kind: UnitKind


class AssetIn(StrictIn):
    """An asset, the hub or central unit that holds it, and its weekly capacity."""

    code: str = Field(min_length=2, max_length=32, pattern=CODE_PATTERN)
    name: str = Field(min_length=2, max_length=120)
    asset_type: str
    hub_id: int = Field(gt=0, le=2**31 - 1)  # a larger id overflowed the query: a 500
    weekly_capacity_hours: int = Field(ge=0, le=10_000)

    @field_validator("asset_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in ASSET_TYPES:
            raise ValueError("unknown asset type")
        return value


class ThemeIn(StrictIn):
    """A Control Strategy theme: a national threat or a local priority."""

    code: str = Field(min_length=2, max_length=32, pattern=CODE_PATTERN)
    name: str = Field(min_length=2, max_length=120)
    is_local: bool = False


# What each field's problem means to an administrator (the data models' own words are
# for developers); an unknown field keeps its "unknown field".
PLAIN_PROBLEMS = {
    "code": "use letters, digits, '-' or '_' (starting with a letter or digit)",
    "name": "give a name of 2 to 120 characters",
    "kind": "choose BCU, hub or central",
    "asset_type": "choose a type of asset",
    "hub_id": "choose the hub or central unit that holds it",
    "weekly_capacity_hours": "give whole hours a week, 0 to 10,000",
}


def checked(model: type[M], data: Any) -> M:
    """Validated input; each problem said in plain words, every field named."""
    try:
        return validate(model, data)
    except Invalid as exc:
        fields = {
            k: v if v == "unknown field" else PLAIN_PROBLEMS.get(k, v)
            for k, v in exc.fields.items()
        }
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise Invalid(f"invalid input: {summary}", fields=fields) from None


def _audit(
    session: Session, actor: User, action: str, kind: str, row_id: int | None, detail: Any
) -> None:
    category = "collection" if action.endswith(".create") else "alteration"
    record_event(
        session=session, actor=actor, category=category, action=action,
        entity_type=kind, entity_id=row_id, detail=detail,
    )  # fmt: skip


def list_units(*, session: Session, actor: User) -> list[Unit]:
    """Every unit, by kind then code."""
    require(actor, "user.manage")
    return list(session.exec(select(Unit).order_by(col(Unit.kind), col(Unit.code))).all())


def list_assets(*, session: Session, actor: User) -> list[Asset]:
    """Every asset, by code."""
    require(actor, "user.manage")
    return list(session.exec(select(Asset).order_by(col(Asset.code))).all())


def list_themes(*, session: Session, actor: User) -> list[Theme]:
    """Every Control Strategy theme, national threats first, then by name."""
    require(actor, "user.manage")
    return list(session.exec(select(Theme).order_by(col(Theme.is_local), col(Theme.name))).all())


def _taken(session: Session, model: Any, code: str, own_id: int | None) -> bool:
    found = session.exec(select(model).where(model.code == code)).first()
    return found is not None and found.id != own_id


def save_unit(*, session: Session, actor: User, data: Any, unit_id: int | None = None) -> Unit:
    """Add a unit, or change one (its code, name and kind). Raises Invalid or Conflict."""
    require(actor, "user.manage")
    unit_in = checked(UnitIn, data)
    unit: Unit | None = _existing(session, Unit, unit_id, "unit")
    if _taken(session, Unit, unit_in.code, unit_id):
        raise Conflict(f"unit code {unit_in.code!r} is taken", fields={"code": "already used"})
    if unit is not None and unit.kind != unit_in.kind.value:
        _unit_kind_change_allowed(session, unit)
    unit = unit or Unit(code=unit_in.code, name=unit_in.name, kind=unit_in.kind.value)
    before = {"code": unit.code, "name": unit.name, "kind": unit.kind}
    unit.code, unit.name, unit.kind = unit_in.code, unit_in.name, unit_in.kind.value
    session.add(unit)
    session.flush()
    action = "unit.create" if unit_id is None else "unit.update"
    _audit(session, actor, action, "unit", unit.id, _changes(before, unit_in.model_dump()))
    return unit


def _unit_kind_change_allowed(session: Session, unit: Unit) -> None:
    """A BCU with requests or requesters stays a BCU; a hub holding assets stays one."""
    if unit.kind == UnitKind.BCU:
        used = session.exec(select(Case.id).where(Case.bcu_id == unit.id).limit(1)).first()
        users = session.exec(select(User.id).where(User.unit_id == unit.id).limit(1)).first()
        if used is not None or users is not None:
            raise Conflict(
                "this BCU has requests or users: its kind cannot change",
                fields={"kind": "the BCU has requests or users"},
            )
    elif session.exec(select(Asset.id).where(Asset.hub_id == unit.id).limit(1)).first():
        raise Conflict(
            "this unit holds assets: move them first", fields={"kind": "the unit holds assets"}
        )


def save_asset(*, session: Session, actor: User, data: Any, asset_id: int | None = None) -> Asset:
    """Add an asset or change one (name, type, holding unit, weekly capacity)."""
    require(actor, "user.manage")
    asset_in = checked(AssetIn, data)
    hub = session.get(Unit, asset_in.hub_id)
    if hub is None or hub.kind == UnitKind.BCU:
        raise Invalid(
            "hub_id: assets are held by a hub or a central unit",
            fields={"hub_id": "choose a hub or a central unit"},
        )
    asset: Asset | None = _existing(session, Asset, asset_id, "asset")
    if _taken(session, Asset, asset_in.code, asset_id):
        raise Conflict(f"asset code {asset_in.code!r} is taken", fields={"code": "already used"})
    values = asset_in.model_dump()
    if asset is None:
        asset = Asset(**values)
        before: dict[str, Any] = {}
    else:
        before = {k: getattr(asset, k) for k in values}
        for key, value in values.items():
            setattr(asset, key, value)
    session.add(asset)
    session.flush()
    action = "asset.create" if asset_id is None else "asset.update"
    _audit(session, actor, action, "asset", asset.id, _changes(before, values))
    return asset


def save_theme(*, session: Session, actor: User, data: Any, theme_id: int | None = None) -> Theme:
    """Add a Control Strategy theme or change one."""
    require(actor, "user.manage")
    theme_in = checked(ThemeIn, data)
    theme: Theme | None = _existing(session, Theme, theme_id, "theme")
    if _taken(session, Theme, theme_in.code, theme_id):
        raise Conflict(f"theme code {theme_in.code!r} is taken", fields={"code": "already used"})
    values = theme_in.model_dump()
    before = {k: getattr(theme, k) for k in values} if theme else {}
    theme = theme or Theme(**values)
    for key, value in values.items():
        setattr(theme, key, value)
    session.add(theme)
    session.flush()
    action = "theme.create" if theme_id is None else "theme.update"
    _audit(session, actor, action, "theme", theme.id, _changes(before, values))
    return theme


def asset_owners(*, session: Session, actor: User) -> dict[int, list[User]]:
    """The users owning each asset (asset id -> users)."""
    require(actor, "user.manage")
    owners: dict[int, list[User]] = {}
    for user in session.exec(select(User).where(col(User.asset_id).is_not(None))).all():
        owners.setdefault(int(user.asset_id or 0), []).append(user)
    return owners


def _existing(session: Session, model: Any, row_id: int | None, kind: str) -> Any:
    if row_id is None:
        return None
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {kind} {row_id}")
    return row


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Field names with their old and new values (names, codes and numbers only)."""
    return {
        key: {"from": before.get(key), "to": str(value) if hasattr(value, "value") else value}
        for key, value in after.items()
        if before.get(key) != (value.value if hasattr(value, "value") else value)
    }
