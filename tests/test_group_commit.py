"""lib/group_commit.py: concurrent jobs share transactions, each caller gets its own outcome."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection, text

from support_api.lib.db import Database
from support_api.lib.group_commit import GroupCommit


class Bad(Exception):
    pass


@pytest.fixture
def db(database_url: str) -> Any:
    database = Database(database_url)
    yield database
    database.dispose()


def _run_all(committer: GroupCommit[int, int], jobs: list[int]) -> dict[int, Any]:
    outcomes: dict[int, Any] = {}
    start = threading.Barrier(len(jobs))

    def one(job: int) -> None:
        start.wait()
        try:
            outcomes[job] = committer.submit(job)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertions
            outcomes[job] = exc

    threads = [threading.Thread(target=one, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a caller never got its outcome"
    return outcomes


def test_concurrent_jobs_share_transactions_and_each_gets_its_result(db: Database) -> None:
    batches: list[list[int]] = []

    def run_batch(conn: Connection, jobs: list[int]) -> list[int]:
        conn.execute(text("SELECT 1"))  # inside a real transaction of the database
        batches.append(list(jobs))
        time.sleep(0.05)  # a slow write: the others queue meanwhile
        return [job * 10 for job in jobs]

    committer: GroupCommit[int, int] = GroupCommit(db, run_batch, cooperative=False)
    outcomes = _run_all(committer, list(range(24)))
    assert outcomes == {job: job * 10 for job in range(24)}
    assert sorted(job for batch in batches for job in batch) == list(range(24))  # each job once
    assert len(batches) < 24 and max(len(batch) for batch in batches) > 1  # they did share


def test_one_bad_job_fails_alone(db: Database) -> None:
    runs: list[list[int]] = []

    def run_batch(conn: Connection, jobs: list[int]) -> list[int]:
        runs.append(list(jobs))
        time.sleep(0.02)
        if 7 in jobs:
            raise Bad("job 7 is refused")
        return [job + 1 for job in jobs]

    committer: GroupCommit[int, int] = GroupCommit(db, run_batch, cooperative=False, max_batch=4)
    outcomes = _run_all(committer, list(range(12)))
    assert isinstance(outcomes.pop(7), Bad)
    assert outcomes == {job: job + 1 for job in range(12) if job != 7}
    assert [7] in runs  # retried alone after its batch failed
    assert all(len(batch) <= 4 for batch in runs)


def test_a_lone_caller_is_its_own_batch_and_errors_reach_it(db: Database) -> None:
    def run_batch(conn: Connection, jobs: list[int]) -> list[int]:
        if jobs == [0]:
            raise Bad("zero")
        return jobs

    committer: GroupCommit[int, int] = GroupCommit(db, run_batch, cooperative=True)
    assert committer.submit(5) == 5
    with pytest.raises(Bad):
        committer.submit(0)
    assert committer.submit(6) == 6  # the lead was given up after the failure
