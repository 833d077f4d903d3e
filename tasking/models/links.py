"""Linked cases (deconfliction): two cases recorded as about the same subject, place or group.

A pair is linked once: the two case ids are stored in order (`low_case_id` <
`high_case_id`) under a unique constraint, so A-B and B-A are the same row.
Linking is a combination of records (DPA 2018 Part 3 s.62) and is logged as
one; unlinking deletes the row and logs an alteration holding what the row said
(tasking.services.links).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow

# Link types, stored value -> label (the order is the order of the form's choices).
LINK_TYPES: dict[str, str] = {
    "same_subject": "Same subject",
    "same_location": "Same location",
    "same_ocg": "Same organised crime group",
    "duplicate": "Duplicate request",
    "other": "Other",
}
LINK_REASON_MAX = 500


class CaseLink(SQLModel, table=True):
    """Two cases linked for deconfliction: the type, the reason, who and when."""

    __tablename__ = "case_link"
    __table_args__ = (
        UniqueConstraint("low_case_id", "high_case_id", name="uq_case_link_pair"),
        CheckConstraint("low_case_id < high_case_id", name="ck_case_link_order"),
        CheckConstraint(
            "link_type IN ('same_subject', 'same_location', 'same_ocg', 'duplicate', 'other')",
            name="ck_case_link_type",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The smaller case id of the pair (the unique constraint indexes it first).
    low_case_id: int = Field(foreign_key="case_record.id")
    # The larger case id; indexed so a case's links are found from either side.
    high_case_id: int = Field(foreign_key="case_record.id", index=True)
    link_type: str = Field(max_length=16)
    reason: str = Field(max_length=LINK_REASON_MAX)
    linked_by_id: int = Field(foreign_key="app_user.id")
    linked_at: datetime = Field(default_factory=utcnow)
