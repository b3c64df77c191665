"""Sign-in throttling over a real store: the window, both subjects (address and key id), a success's
reset, and two store objects (two worker processes) counting the same failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from trent.console.sign_in_throttle import SignInThrottle
from trent.storage.sqlite import SqliteStore


class FakeTime:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_the_limit_within_the_window_then_the_oldest_failure_ages_out(tmp_path: Path) -> None:
    clock = FakeTime()
    throttle = SignInThrottle(SqliteStore(tmp_path / "t.db"), limit=3, window_seconds=60, now=clock)
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1", "AKIAONE") is None
        throttle.failed("10.0.0.1", "AKIAONE")
        clock.advance(10)
    # Failures at 0, 10 and 20 s; now 30 s: the first leaves the window at 60 s.
    assert throttle.retry_after("10.0.0.1", "AKIAONE") == 30
    clock.advance(29.5)
    assert throttle.retry_after("10.0.0.1", "AKIAONE") == 1
    clock.advance(0.5)
    assert throttle.retry_after("10.0.0.1", "AKIAONE") is None


def test_an_address_and_a_key_id_are_counted_apart(tmp_path: Path) -> None:
    clock = FakeTime()
    throttle = SignInThrottle(SqliteStore(tmp_path / "t.db"), limit=2, window_seconds=60, now=clock)
    throttle.failed("10.0.0.1", "AKIAONE")
    throttle.failed("10.0.0.2", "AKIAONE")
    # The key id has had two failures, from two addresses: it is held, from any address.
    assert throttle.retry_after("10.0.0.3", "AKIAONE") == 60
    # Neither address has: another key id from them is fine.
    assert throttle.retry_after("10.0.0.1", "AKIATWO") is None
    throttle.failed("10.0.0.1", "AKIATWO")
    # Now 10.0.0.1 has two: held whatever key it tries.
    assert throttle.retry_after("10.0.0.1", "AKIATHREE") == 60


def test_a_success_clears_its_key_id_but_not_the_address(tmp_path: Path) -> None:
    clock = FakeTime()
    throttle = SignInThrottle(SqliteStore(tmp_path / "t.db"), limit=2, window_seconds=60, now=clock)
    throttle.failed("10.0.0.1", "AKIAONE")
    throttle.failed("10.0.0.2", "AKIAONE")
    throttle.succeeded("AKIAONE")
    assert throttle.retry_after("10.0.0.3", "AKIAONE") is None
    throttle.failed("10.0.0.1", "AKIAOTHER")
    assert throttle.retry_after("10.0.0.1", "AKIAONE") == 60  # the address still has its two


def test_two_processes_count_the_same_failures_and_old_ones_are_deleted(tmp_path: Path) -> None:
    clock = FakeTime()
    first = SignInThrottle(SqliteStore(tmp_path / "t.db"), limit=2, window_seconds=60, now=clock)
    second_store = SqliteStore(tmp_path / "t.db")
    second = SignInThrottle(second_store, limit=2, window_seconds=60, now=clock)
    first.failed("10.0.0.1", "AKIAONE")
    second.failed("10.0.0.9", "AKIAONE")
    assert first.retry_after("10.0.0.5", "AKIAONE") == 60
    clock.advance(3600)
    second.failed("10.0.0.7", "AKIASPRAY")  # a failure much later forgets the old ones
    assert second_store.recent_sign_in_failures("key:AKIAONE", clock.now - timedelta(days=1), 10) == []
