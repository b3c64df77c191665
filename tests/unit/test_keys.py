"""The key-state table: which operation works in which state, with AWS's errors."""

from __future__ import annotations

import pytest

from tests.builders import symmetric_key
from trent.domain.errors import DisabledException, KMSInvalidStateException
from trent.domain.keys import Key, KeyState, StateRule, state_error

ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _key(state: KeyState) -> Key:
    return symmetric_key("1234abcd-12ab-34cd-56ef-1234567890ab", state=state)


S = KeyState
OK = None
DIS = "Dis"
# (rule, state) -> expected: None = allowed, "Dis" = DisabledException, other = KMSInvalidState phrase
TABLE = {
    StateRule.CRYPTO: {
        S.ENABLED: OK, S.DISABLED: DIS, S.PENDING_DELETION: "pending deletion",
        S.PENDING_IMPORT: "pending import", S.UNAVAILABLE: "unavailable", S.CREATING: "creating",
        S.UPDATING: OK, S.PENDING_REPLICA_DELETION: "pending deletion",
    },
    StateRule.ANY: dict.fromkeys(S, OK),
    StateRule.MANAGE: {
        **dict.fromkeys(S, OK), S.PENDING_DELETION: "pending deletion", S.PENDING_REPLICA_DELETION: "pending deletion",
    },
    StateRule.ENABLE_DISABLE: {
        S.ENABLED: OK, S.DISABLED: OK, S.UNAVAILABLE: OK, S.PENDING_DELETION: "pending deletion",
        S.PENDING_IMPORT: "pending import", S.CREATING: "creating", S.UPDATING: "updating",
        S.PENDING_REPLICA_DELETION: "pending deletion",
    },
    StateRule.SCHEDULE_DELETION: {
        **dict.fromkeys(S, OK), S.PENDING_DELETION: "pending deletion", S.PENDING_REPLICA_DELETION: "pending deletion",
        S.UPDATING: "updating",
    },
    StateRule.CANCEL_DELETION: {
        **dict.fromkeys(S, "not pending deletion"), S.PENDING_DELETION: OK, S.PENDING_REPLICA_DELETION: OK,
    },
    StateRule.CREATE_GRANT: {
        S.ENABLED: OK, S.UNAVAILABLE: OK, S.UPDATING: OK, S.DISABLED: DIS, S.PENDING_DELETION: "pending deletion",
        S.PENDING_IMPORT: "pending import", S.CREATING: "creating", S.PENDING_REPLICA_DELETION: "pending deletion",
    },
}  # fmt: skip


@pytest.mark.parametrize(("rule", "state"), [(r, s) for r in StateRule for s in KeyState])
def test_state_table(rule: StateRule, state: KeyState) -> None:
    expected = TABLE[rule][state]
    error = state_error(_key(state), rule)
    if expected is None:
        assert error is None
    elif expected == DIS:
        assert isinstance(error, DisabledException)
        assert error.message == f"{ARN} is disabled."
    else:
        assert isinstance(error, KMSInvalidStateException)
        assert error.message == f"{ARN} is {expected}."


def test_enabled_flag_follows_state() -> None:
    assert _key(KeyState.ENABLED).enabled
    assert not _key(KeyState.DISABLED).enabled
    assert not _key(KeyState.PENDING_DELETION).enabled
