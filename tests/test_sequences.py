"""Per-year counters: consecutive, per name, and never the same number twice under load."""

import threading

from flask import Flask

from portal.sequences import next_value


def test_counts_up_per_name(app: Flask) -> None:
    with app.extensions["portal.db"].sessionmaker() as db:
        assert [next_value(db, "request-2026") for _ in range(3)] == [1, 2, 3]
        assert next_value(db, "request-2027") == 1  # a new year starts again
        assert next_value(db, "licence-2026") == 1
        db.commit()


def test_concurrent_transactions_never_share_a_number(app: Flask) -> None:
    sessions = app.extensions["portal.db"].sessionmaker
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def take(times: int) -> None:
        try:
            for _ in range(times):
                with sessions() as db:
                    value = next_value(db, "request-2026")
                    db.commit()
                with lock:
                    numbers.append(value)
        except BaseException as error:  # noqa: BLE001 - reported below, with the thread's numbers
            errors.append(error)

    threads = [threading.Thread(target=take, args=(10,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(numbers) == list(range(1, 61))
