"""Column types every table uses: aware-UTC timestamps and JSON; the base of every table."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, Column, DateTime, Table, TypeDecorator
from sqlmodel import Field, SQLModel

if TYPE_CHECKING:

    class TableModel(SQLModel):
        """A table class as the type checker sees it: SQLModel sets `__table__` on every
        `table=True` class but does not declare it (sqlmodel 0.0.50)."""

        __table__: ClassVar[Table]

else:
    TableModel = SQLModel  # at run time the tables derive from SQLModel itself


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every database.

    SQLite keeps no time zone and returns naive values; a naive value going in is a bug (whose
    local time?), so it is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kwargs: Any) -> Any:
    """An aware-UTC timestamp column."""
    return Field(sa_type=UTCDateTime, **kwargs)


def _json(**kwargs: Any) -> Any:
    return Field(sa_column=Column(JSON, **kwargs))
