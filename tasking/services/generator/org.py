"""What generated cases point at: units, themes, users, assets and the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from sqlmodel import select

import scoring
from tasking.db import session_scope
from tasking.models import (
    ASSET_TYPES,
    Asset,
    Role,
    Theme,
    Unit,
    UnitKind,
    User,
)
from tasking.services.errors import Invalid
from tasking.services.scores import current_model

Ints = npt.NDArray[np.int64]
Objects = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Org:
    """What the generated cases point at, read once before generating."""

    bcu_ids: Ints
    hub_ids: Ints
    theme_ids: Ints
    theme_codes: Objects  # the code of each theme in theme_ids
    theme_p: npt.NDArray[np.float64]
    asset_types: Objects
    asset_hubs: Ints | None  # the owning hub of each entry of asset_types, when assets exist
    staff_ids: Ints
    chair_ids: Ints  # who decides at the meeting (staff when there is no chair)
    asset_ids: Ints | None  # the asset of each entry of asset_types, when assets exist
    requesters: dict[int, Ints]  # BCU id -> its requesting officers
    model_version_id: int
    model: scoring.Model


def load_org(engine: Engine, rng: np.random.Generator) -> Org:
    """The units, themes, users, assets and current model that cases will point at."""
    with session_scope(engine) as session:
        units = session.exec(select(Unit)).all()
        themes = session.exec(select(Theme).order_by(Theme.id)).all()  # type: ignore[arg-type]
        users = session.exec(select(User).where(User.is_active)).all()
        assets = session.exec(select(Asset).order_by(Asset.id)).all()  # type: ignore[arg-type]
        bcus = sorted(u.id for u in units if u.kind == UnitKind.BCU and u.id is not None)
        # Specialist hubs and central units both own assets and run work.
        hubs = sorted(u.id for u in units if u.kind != UnitKind.BCU and u.id is not None)
        missing = [
            name
            for name, rows in (("BCUs", bcus), ("hubs", hubs), ("themes", themes), ("users", users))
            if not rows
        ]
        if missing:
            raise Invalid(
                f"no {', '.join(missing)} in the database: run `tasking seed-demo` first",
                fields={name: "none" for name in missing},
            )
        version, model = current_model(session=session)
        assert version.id is not None
        staff = sorted(
            u.id for u in users if u.role in (Role.COORDINATOR, Role.ANALYST) and u.id is not None
        ) or sorted(u.id for u in users if u.id is not None)
        requesters: dict[int, list[int]] = {}
        for user in users:
            if user.role == Role.BCU_REQUESTER and user.unit_id in bcus and user.id is not None:
                requesters.setdefault(user.unit_id, []).append(user.id)
        theme_ids = np.array([t.id for t in themes], dtype=np.int64)
        if assets:
            types = np.array([a.asset_type for a in assets], dtype=object)
            asset_hubs: Ints | None = np.array([a.hub_id for a in assets], dtype=np.int64)
            asset_ids: Ints | None = np.array([a.id for a in assets], dtype=np.int64)
        else:
            types, asset_hubs = np.array(list(ASSET_TYPES), dtype=object), None
            asset_ids = None
        chairs = sorted(u.id for u in users if u.role == Role.CHAIR and u.id is not None)
        return Org(
            bcu_ids=np.array(bcus, dtype=np.int64),
            hub_ids=np.array(hubs, dtype=np.int64),
            theme_ids=theme_ids,
            theme_codes=np.array([t.code for t in themes], dtype=object),
            # Some themes carry far more work than others (drugs more than bribery).
            theme_p=rng.dirichlet(np.full(len(theme_ids), 1.5)),
            asset_types=types,
            asset_hubs=asset_hubs,
            staff_ids=np.array(staff, dtype=np.int64),
            chair_ids=np.array(chairs or staff, dtype=np.int64),
            asset_ids=asset_ids,
            requesters={
                k: np.array(sorted(requesters[k]), dtype=np.int64) for k in sorted(requesters)
            },
            model_version_id=version.id,
            model=model,
        )
