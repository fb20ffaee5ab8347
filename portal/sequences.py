"""Human-readable numbers that count up per year: RR-2026-00042, LIC-2026-000042.

One counter row per name and year, bumped by a single upsert: the row's write lock makes
concurrent transactions take turns (SQLite serialises writers; PostgreSQL locks the row),
so no number is ever handed out twice.
"""

from sqlalchemy import String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base

_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class Counter(Base):
    __tablename__ = "counters"

    #: e.g. "request-2026"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


def next_value(db: Session, name: str) -> int:
    insert = _UPSERTS[db.get_bind().dialect.name]
    statement = (
        insert(Counter)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    value: int = db.execute(statement).scalar_one()
    return value
