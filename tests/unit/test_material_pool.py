"""The pool of RSA material made ahead of time: each piece handed out once, refilled, never required."""

from __future__ import annotations

import os
import threading
import time

from trent.crypto.asymmetric import spec_of_private_key
from trent.services.material import new_key_material
from trent.services.material_pool import MaterialPool


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_material_is_handed_out_once_and_the_pool_refills() -> None:
    calls: list[str] = []
    lock = threading.Lock()

    def generate(spec: str) -> bytes:
        with lock:
            calls.append(spec)
        return os.urandom(32)

    pool = MaterialPool(generate, specs=("RSA_2048",), depth=3)
    pool.start()
    _wait(lambda: pool.ready("RSA_2048") == 3)
    assert pool.ready("RSA_2048") == 3
    taken = [pool.take("RSA_2048") for _ in range(3)]
    assert len(set(taken)) == 3
    _wait(lambda: pool.ready("RSA_2048") == 3)
    assert pool.ready("RSA_2048") == 3
    assert len(calls) == 6
    pool.stop()


def test_an_empty_pool_or_another_spec_generates_on_the_spot() -> None:
    pool = MaterialPool(lambda spec: spec.encode() + os.urandom(8), specs=("RSA_4096",))
    assert pool.ready("RSA_4096") == 0
    assert pool.take("RSA_4096").startswith(b"RSA_4096")  # the first one, and it starts the filling
    assert pool.take("ECC_NIST_P256").startswith(b"ECC_NIST_P256")
    _wait(lambda: pool.ready("RSA_4096") == 2)
    assert pool.ready("RSA_4096") == 2
    pool.stop()


def test_real_rsa_material_from_the_pool() -> None:
    pool = MaterialPool(new_key_material, specs=("RSA_2048",), depth=1)
    pool.start()
    _wait(lambda: pool.ready("RSA_2048") == 1)
    first, second = pool.take("RSA_2048"), pool.take("RSA_2048")
    assert first != second
    assert spec_of_private_key(first) == spec_of_private_key(second) == "RSA_2048"
    pool.stop()
