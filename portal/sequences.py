"""Human-readable numbers that count up per year: RR-2026-00042, LIC-2026-000042.

One counter row per name and year. The UPDATE takes the row's write lock, so two
transactions never get the same number (SQLite serialises writers; PostgreSQL locks the row).
"""

from sqlalchemy import String, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base


class Counter(Base):
    __tablename__ = "counters"

    #: e.g. "request-2026"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


def next_value(db: Session, name: str) -> int:
    bump = update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
    if db.execute(bump).rowcount == 0:  # type: ignore[attr-defined]
        # First number of this name: create the row in a savepoint, so that a concurrent
        # creator makes us fall back to the UPDATE instead of failing the transaction.
        try:
            with db.begin_nested():
                db.execute(insert(Counter).values(name=name, value=1))
            return 1
        except IntegrityError:
            db.execute(bump)
    value = db.scalar(select(Counter.value).where(Counter.name == name))
    assert value is not None
    return value
