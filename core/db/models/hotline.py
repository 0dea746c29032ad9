"""The 12345 hotline's work orders (core/hotline): one row per order the platform sent, kept
for as long as the order lives, so an order number is never taken twice and an order that no
class maps to waits here for an operator instead of being dropped.

No `from __future__ import annotations` here: SQLModel reads the annotations at class creation.
"""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from gridcase.core.db.models.types import TableModel, _json, _ts


class HotlineOrder(TableModel, table=True):
    __tablename__ = "hotline_order"
    # the centre's queue of orders waiting for a class or a place, oldest first
    __table_args__ = (Index("ix_hotline_order_status", "status", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(unique=True, max_length=64)  # the platform's number: its idempotency key
    person_id: int = Field(foreign_key="person.id")  # the platform's account that sent it
    request_hash: str = Field(max_length=64)  # the order as first sent: a resend must be the same
    status: str = Field(max_length=16)  # waiting | open | returned | done
    waiting_for: str | None = Field(default=None, max_length=16)  # class | place, while waiting
    category: str | None = Field(default=None, max_length=64)  # the platform's own category code
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    received_at: datetime = _ts()
    return_by: datetime = _ts()  # 退单 is taken until then (the platform's time limit)
    answers: int = 0  # answers queued so far: each answer's seq
    sent: dict = _json(nullable=False)  # the order as sent, for filing it once an operator places it
    extension: dict | None = _json(nullable=True)  # the platform's answer to the last extension asked
    visit: dict | None = _json(nullable=True)  # the last 回访 result
