"""Linked cases (deconfliction): the rules for linking two cases, unlinking them, listing links.

A link says two cases concern the same subject, place or organised crime
group, or that a request duplicates another: a BCU request about the same
nominal as an open operation, two intelligence cases that are one network.

- Who: coordinators, analysts and the chair (`LINKERS`). BCU requesters, asset
  owners, auditors and administrators neither link nor unlink.
- Need-to-know: both cases must be visible to the actor (`access.case_scope`,
  inside the query). A case the actor may not see is answered exactly as one
  that does not exist (NotFound), so a link never reveals a case.
- A pair is linked once (whichever side it is linked from), never to itself.
  Closed cases may be linked: deconfliction against finished work is the point.
- Linking is a combination of records (DPA 2018 Part 3 s.62): one `combination`
  audit row with both references, the type and the reason.
- Unlinking deletes the row and logs an `alteration` holding what the row said
  (type, reason, who and when it was linked) and why it was removed. The
  history of a link is in the audit log, which auditors read.
- A case's links list only the linked cases the viewer may see (scoped in the
  query): the same rule as the board and the case page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import and_, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tasking.models import LINK_REASON_MAX, LINK_TYPES, Case, CaseLink, Role, User, pk
from tasking.services.access import case_scope, require
from tasking.services.audit import REASON_TEXT_MAX, record_event
from tasking.services.errors import Forbidden, Invalid, NotFound
from tasking.services.schemas import StrictIn, validate

# Who links and unlinks cases: the centre's staff who see across the board.
LINKERS = frozenset({Role.COORDINATOR, Role.ANALYST, Role.CHAIR})
MAX_LINKS = 200  # the links a case page lists (newest first)
REFERENCE_MAX = 32  # Case.reference
LINK_ID_MAX = 2**31 - 1
NO_SUCH_CASE = "No case found with this reference"

LinkType = Literal["same_subject", "same_location", "same_ocg", "duplicate", "other"]


class LinkIn(StrictIn):
    """A link from one case to another, named by its reference."""

    reference: str = Field(min_length=1, max_length=REFERENCE_MAX)
    link_type: LinkType
    reason: str = Field(min_length=5, max_length=LINK_REASON_MAX)


class UnlinkIn(StrictIn):
    """Removing a link, with the reason (it goes to the audit log)."""

    link_id: int = Field(gt=0, le=LINK_ID_MAX)
    reason: str = Field(min_length=5, max_length=REASON_TEXT_MAX)


@dataclass(frozen=True)
class LinkedCase:
    """One link of a case, seen from that case: the other case, how and why, who and when."""

    link: CaseLink
    case: Case  # the other case
    linked_by: str

    @property
    def type_label(self) -> str:
        return LINK_TYPES.get(self.link.link_type, self.link.link_type)


def may_link(actor: User) -> bool:
    """Whether the actor's role links and unlinks cases."""
    return actor.is_active and actor.role in LINKERS


def _require_linker(actor: User | None) -> User:
    if actor is None or not actor.is_active:
        raise Forbidden("sign in to do this")
    if actor.role not in LINKERS:
        raise Forbidden("your role may not link or unlink cases")
    return actor


def _visible(session: Session, actor: User, case_id: int) -> Case:
    """The case, if the actor may see it (scoped in the query); NotFound otherwise."""
    case = session.exec(select(Case).where(Case.id == case_id, case_scope(actor))).first()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def _other_side(case_id: int) -> Any:
    """Join condition: the `Case` row at the other end of a link of `case_id`."""
    return or_(
        and_(col(CaseLink.low_case_id) == case_id, col(Case.id) == col(CaseLink.high_case_id)),
        and_(col(CaseLink.high_case_id) == case_id, col(Case.id) == col(CaseLink.low_case_id)),
    )


def _references(first: Case, second: Case) -> dict[str, Any]:
    return {"cases": [first.reference, second.reference], "case_ids": [pk(first), pk(second)]}


def link_cases(*, session: Session, actor: User, case_id: int, data: Any) -> CaseLink:
    """Link the case to another the actor may see, by reference, with a type and a reason."""
    _require_linker(actor)
    link_in = validate(LinkIn, data)
    case = _visible(session, actor, case_id)
    reference = link_in.reference.upper()
    other = session.exec(select(Case).where(Case.reference == reference, case_scope(actor))).first()
    if other is None:
        # The same answer whether the case does not exist or is out of the actor's scope.
        raise NotFound(f"case {reference} not found", fields={"reference": NO_SUCH_CASE})
    if other.id == case.id:
        raise Invalid(
            "reference: a case cannot be linked to itself",
            fields={"reference": "Enter another case's reference: a case is not linked to itself"},
        )
    low, high = sorted((pk(case), pk(other)))
    already = {
        "reference": f"{case.reference} and {other.reference} are already linked: unlink first"
    }
    found = session.exec(
        select(CaseLink.id).where(CaseLink.low_case_id == low, CaseLink.high_case_id == high)
    ).first()
    if found is not None:
        raise Invalid(f"reference: {already['reference']}", fields=already)
    link = CaseLink(
        low_case_id=low,
        high_case_id=high,
        link_type=link_in.link_type,
        reason=link_in.reason,
        linked_by_id=pk(actor),
    )
    try:
        with session.begin_nested():  # someone linking the same pair at the same moment
            session.add(link)
            session.flush()
    except IntegrityError:
        raise Invalid(f"reference: {already['reference']}", fields=already) from None
    record_event(
        session=session, actor=actor, category="combination", action="case.link",
        entity_type="case", entity_id=case.id, reason=link.reason,
        detail={"link_id": link.id, "link_type": link.link_type, **_references(case, other)},
    )  # fmt: skip
    session.flush()
    return link


def unlink_cases(*, session: Session, actor: User, case_id: int, data: Any) -> CaseLink:
    """Remove one of the case's links (both cases visible to the actor), with the reason.

    The row is deleted; the audit row (an alteration) keeps what it said. Returns the
    removed link (no longer in the session).
    """
    _require_linker(actor)
    unlink_in = validate(UnlinkIn, data)
    case = _visible(session, actor, case_id)
    row = session.exec(
        select(CaseLink, Case)
        .join(Case, _other_side(pk(case)))
        .where(CaseLink.id == unlink_in.link_id, case_scope(actor))
    ).first()
    if row is None:
        raise NotFound(f"link {unlink_in.link_id} of {case.reference} not found")
    link, other = row
    removed = session.connection().execute(delete(CaseLink).where(col(CaseLink.id) == link.id))
    if removed.rowcount != 1:  # removed by someone else meanwhile
        raise NotFound(f"link {unlink_in.link_id} of {case.reference} not found")
    session.expunge(link)
    record_event(
        session=session, actor=actor, category="alteration", action="case.unlink",
        entity_type="case", entity_id=case.id, reason=unlink_in.reason,
        detail={
            "link_id": link.id, "link_type": link.link_type, "linked_reason": link.reason,
            "linked_by_id": link.linked_by_id, "linked_at": link.linked_at.isoformat(),
            **_references(case, other),
        },
    )  # fmt: skip
    session.flush()
    return link


def case_links(*, session: Session, actor: User, case_id: int) -> list[LinkedCase]:
    """The case's links to cases the viewer may see, newest first (scoped in the query)."""
    require(actor, "case.view")
    case = _visible(session, actor, case_id)
    rows = session.exec(
        select(CaseLink, Case, User.display_name)
        .join(Case, _other_side(pk(case)))
        .join(User, col(User.id) == col(CaseLink.linked_by_id))
        .where(
            or_(col(CaseLink.low_case_id) == case.id, col(CaseLink.high_case_id) == case.id),
            case_scope(actor),
        )
        .order_by(col(CaseLink.linked_at).desc(), col(CaseLink.id).desc())
        .limit(MAX_LINKS)
    ).all()
    return [LinkedCase(link=link, case=other, linked_by=name) for link, other, name in rows]


def erase_link_reasons(session: Session, case_id: int) -> int:
    """For disposal (DPA 2018 s.39): blank the reasons of the case's links; returns the count.

    The links themselves stay, like the tombstone and the audit trail: that the
    records were combined is kept, the free text about it is not.
    """
    result = session.connection().execute(
        update(CaseLink)
        .where(or_(col(CaseLink.low_case_id) == case_id, col(CaseLink.high_case_id) == case_id))
        .values(reason="")
    )
    for row in list(session.identity_map.values()):
        if isinstance(row, CaseLink):
            session.expire(row)  # no old text kept in memory for a later read
    return int(result.rowcount or 0)
