"""SQLite writers queue on the writer lock, across threads and processes, instead of polling."""

import subprocess
import sys
import textwrap
import threading
import time

from sqlalchemy import text

from gridcase.core.db.connection import make_engine, write


def test_a_writer_in_another_process_waits_for_the_lock_and_then_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'city.db'}"
    engine = make_engine(url)
    with write(engine) as connection:
        connection.execute(text("CREATE TABLE t (who TEXT)"))
    other = textwrap.dedent(
        f"""
        from sqlalchemy import text
        from gridcase.core.db.connection import make_engine, write
        with write(make_engine({url!r})) as connection:
            connection.execute(text("INSERT INTO t VALUES ('other')"))
        """
    )
    with write(engine) as connection:
        connection.execute(text("INSERT INTO t VALUES ('first')"))
        process = subprocess.Popen([sys.executable, "-c", other])
        time.sleep(1.5)
        assert process.poll() is None  # still queued behind this transaction
    assert process.wait(timeout=30) == 0
    with engine.connect() as connection:
        assert connection.execute(text("SELECT who FROM t ORDER BY rowid")).scalars().all() == [
            "first",
            "other",
        ]
    assert (tmp_path / "city.db.writer-lock").exists()


def test_threads_of_one_process_take_turns(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'city.db'}")
    with write(engine) as connection:
        connection.execute(text("CREATE TABLE n (v INTEGER)"))
        connection.execute(text("INSERT INTO n VALUES (0)"))

    def bump() -> None:
        for _ in range(50):
            with write(engine) as connection:  # a read-then-write: lost updates if two overlapped
                v = connection.execute(text("SELECT v FROM n")).scalar()
                connection.execute(text("UPDATE n SET v = :v"), {"v": v + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT v FROM n")).scalar() == 400
