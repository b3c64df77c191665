"""Sign-in throttling: the window, both subjects (address and key id), and a success's reset."""

from __future__ import annotations

from trent.console.sign_in_throttle import SignInThrottle


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_within_the_window_then_the_oldest_failure_ages_out() -> None:
    clock = FakeTime()
    throttle = SignInThrottle(limit=3, window_seconds=60, now=clock)
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1", "AKIAONE") is None
        throttle.failed("10.0.0.1", "AKIAONE")
        clock.now += 10
    # Failures at 1000, 1010, 1020; now 1030: the first leaves the window at 1060.
    assert throttle.retry_after("10.0.0.1", "AKIAONE") == 30
    clock.now = 1059.5
    assert throttle.retry_after("10.0.0.1", "AKIAONE") == 1
    clock.now = 1060.0
    assert throttle.retry_after("10.0.0.1", "AKIAONE") is None


def test_an_address_and_a_key_id_are_counted_apart() -> None:
    clock = FakeTime()
    throttle = SignInThrottle(limit=2, window_seconds=60, now=clock)
    throttle.failed("10.0.0.1", "AKIAONE")
    throttle.failed("10.0.0.2", "AKIAONE")
    # The key id has had two failures, from two addresses: it is held, from any address.
    assert throttle.retry_after("10.0.0.3", "AKIAONE") == 60
    # Neither address has: another key id from them is fine.
    assert throttle.retry_after("10.0.0.1", "AKIATWO") is None
    throttle.failed("10.0.0.1", "AKIATWO")
    # Now 10.0.0.1 has two: held whatever key it tries.
    assert throttle.retry_after("10.0.0.1", "AKIATHREE") == 60


def test_a_success_clears_its_key_id_but_not_the_address() -> None:
    clock = FakeTime()
    throttle = SignInThrottle(limit=2, window_seconds=60, now=clock)
    throttle.failed("10.0.0.1", "AKIAONE")
    throttle.failed("10.0.0.2", "AKIAONE")
    throttle.succeeded("AKIAONE")
    assert throttle.retry_after("10.0.0.3", "AKIAONE") is None
    throttle.failed("10.0.0.1", "AKIAOTHER")
    assert throttle.retry_after("10.0.0.1", "AKIAONE") == 60  # the address still has its two
