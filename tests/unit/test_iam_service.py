"""IamService and IdentityService over a real SQLite store and root key, with a clock tests move."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trent.domain.errors import AccessDeniedException, ExpiredTokenException, UnrecognizedClientException
from trent.domain.iam_errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
    ValidationError,
)
from trent.domain.identity import Caller
from trent.rot.local_file import LocalFileRootOfTrust
from trent.services.iam import IamService, RootIdentity
from trent.services.identity import IdentityService, Principal
from trent.storage.sqlite import SqliteStore

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
START = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
ROOT = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", "Root", "us-east-1", principal_id=ACCOUNT)
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


class MovableClock:
    def __init__(self) -> None:
        self.current = START

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class World:
    path: Path
    store: SqliteStore
    root_key: LocalFileRootOfTrust
    clock: MovableClock
    identities: IdentityService
    iam: IamService

    def caller(self, principal: Principal, access_key_id: str = "") -> Caller:
        """The Caller the app builds from a lookup (as app._authenticate does)."""
        return Caller(
            account_id=principal.account_id,
            arn=principal.arn,
            principal_type=principal.principal_type,
            region="us-east-1",
            access_key_id=access_key_id,
            user_name=principal.user_name,
            principal_id=principal.principal_id,
            role_arn=principal.role_arn,
            session_name=principal.session_name,
            session_issued=principal.session_issued,
            identity_policies=principal.identity_policies,
        )

    def second_process(self) -> IdentityService:
        """Another worker on the same database: its own connection and cache."""
        other = SqliteStore(self.path / "t.db")
        return IdentityService(other, self.root_key, self.clock)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = SqliteStore(tmp_path / "t.db")
    root_key = LocalFileRootOfTrust.open_or_create(tmp_path / "root.key")
    clock = MovableClock()
    identities = IdentityService(store, root_key, clock)
    yield World(tmp_path, store, root_key, clock, identities, IamService(store, identities, clock))
    store.close()


def trust(*principals: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}],
        }
    )


# ===================================================================== users


def test_user_lifecycle(world: World) -> None:
    user = world.iam.create_user(ROOT, "alice", "/eng/", (("team", "blue"),))
    assert user.arn == f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
    assert user.user_id.startswith("AIDA")
    assert len(user.user_id) == 21
    assert user.create_date == START
    assert world.iam.get_user(ROOT, "ALICE") == user
    assert [u.user_name for u in world.iam.list_users(ROOT, "/eng/", None, 10).items] == ["alice"]
    assert world.iam.list_users(ROOT, "/ops/", None, 10).items == []
    world.iam.delete_user(ROOT, "alice")
    with pytest.raises(NoSuchEntity, match="The user with name alice cannot be found"):
        world.iam.get_user(ROOT, "alice")
    with pytest.raises(NoSuchEntity):
        world.iam.delete_user(ROOT, "alice")


def test_user_names_are_unique_without_regard_to_case(world: World) -> None:
    world.iam.create_user(ROOT, "Bob")
    with pytest.raises(EntityAlreadyExists, match="User with name bob already exists"):
        world.iam.create_user(ROOT, "bob")


def test_users_page_by_name(world: World) -> None:
    for name in ("c", "a", "B", "d"):
        world.iam.create_user(ROOT, name)
    first = world.iam.list_users(ROOT, None, None, 3)
    assert [u.user_name for u in first.items] == ["a", "B", "c"]
    assert first.next_position is not None
    rest = world.iam.list_users(ROOT, None, first.next_position, 3)
    assert [u.user_name for u in rest.items] == ["d"]
    assert rest.next_position is None


def test_get_user_without_a_name(world: World) -> None:
    world.iam.create_user(ROOT, "carol")
    key = world.iam.create_access_key(ROOT, "carol")
    _, principal = world.identities.lookup(key.access_key_id)
    assert world.iam.get_caller_identity(world.caller(principal)).arn.endswith(":user/carol")
    root_view = world.iam.get_user(ROOT, None)
    assert isinstance(root_view, RootIdentity)
    assert root_view.arn == ROOT.arn


def test_delete_user_conflicts_with_keys_and_policies(world: World) -> None:
    world.iam.create_user(ROOT, "dave")
    key = world.iam.create_access_key(ROOT, "dave")
    with pytest.raises(DeleteConflict, match="must delete access keys first"):
        world.iam.delete_user(ROOT, "dave")
    world.iam.delete_access_key(ROOT, key.access_key_id, "dave")
    world.iam.put_user_policy(ROOT, "dave", "p", ALLOW_ALL)
    with pytest.raises(DeleteConflict, match="must delete policies first"):
        world.iam.delete_user(ROOT, "dave")
    world.iam.delete_user_policy(ROOT, "dave", "p")
    world.iam.delete_user(ROOT, "dave")


def test_accounts_do_not_see_each_others_users(world: World) -> None:
    world.iam.create_user(ROOT, "erin")
    other_root = Caller(OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:root", "Root", "us-east-1")
    with pytest.raises(NoSuchEntity):
        world.iam.get_user(other_root, "erin")
    assert world.iam.list_users(other_root, None, None, 10).items == []
    world.iam.create_user(other_root, "erin")  # the same name in another account is another user


def test_non_root_callers_need_identity_policies(world: World) -> None:
    world.iam.create_user(ROOT, "frank")
    key = world.iam.create_access_key(ROOT, "frank")
    _, principal = world.identities.lookup(key.access_key_id)
    frank = world.caller(principal)
    with pytest.raises(AccessDeniedException, match="iam:CreateUser"):
        world.iam.create_user(frank, "mallory")
    # Without permission a caller learns nothing about which names exist.
    with pytest.raises(AccessDeniedException):
        world.iam.get_user(frank, "no-such-user")


# ===================================================================== access keys


def test_access_keys_resolve_to_their_user(world: World) -> None:
    user = world.iam.create_user(ROOT, "gina", "/p/")
    world.iam.put_user_policy(ROOT, "gina", "all", ALLOW_ALL)
    key = world.iam.create_access_key(ROOT, "gina")
    assert key.access_key_id.startswith("AKIA")
    assert len(key.access_key_id) == 20
    assert len(key.secret_access_key) == 40
    secret, principal = world.identities.lookup(key.access_key_id)
    assert secret == key.secret_access_key
    assert principal == Principal(
        ACCOUNT, user.arn, "IAMUser", "gina", principal_id=user.user_id, identity_policies=(ALLOW_ALL,)
    )
    listed = world.iam.list_access_keys(ROOT, "gina")
    assert [(k.access_key_id, k.user_name, k.status, k.create_date) for k in listed] == [
        (key.access_key_id, "gina", "Active", START)
    ]


def test_two_keys_per_user(world: World) -> None:
    world.iam.create_user(ROOT, "hank")
    world.iam.create_access_key(ROOT, "hank")
    world.iam.create_access_key(ROOT, "hank")
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for AccessKeysPerUser: 2"):
        world.iam.create_access_key(ROOT, "hank")


def test_a_session_token_with_a_long_term_key_is_refused(world: World) -> None:
    world.iam.create_user(ROOT, "ivan")
    key = world.iam.create_access_key(ROOT, "ivan")
    with pytest.raises(UnrecognizedClientException):
        world.identities.lookup(key.access_key_id, "some-token")


def test_deleted_keys_stop_working_at_once_in_every_process(world: World) -> None:
    world.iam.create_user(ROOT, "jane")
    key = world.iam.create_access_key(ROOT, "jane")
    other = world.second_process()
    world.identities.lookup(key.access_key_id)
    other.lookup(key.access_key_id)  # both caches now hold the key
    world.iam.delete_access_key(ROOT, key.access_key_id, "jane")
    for identities in (world.identities, other):
        with pytest.raises(UnrecognizedClientException, match="The security token included in the request is invalid"):
            identities.lookup(key.access_key_id)


def test_an_inactive_key_stops_working_in_every_process_until_active_again(world: World) -> None:
    world.iam.create_user(ROOT, "otto")
    key = world.iam.create_access_key(ROOT, "otto")
    other = world.second_process()
    other.lookup(key.access_key_id)  # cached there
    world.iam.update_access_key(ROOT, key.access_key_id, "Inactive", "otto")
    assert [k.status for k in world.iam.list_access_keys(ROOT, "otto")] == ["Inactive"]
    for identities in (world.identities, other):
        with pytest.raises(UnrecognizedClientException):
            identities.lookup(key.access_key_id)
    world.iam.update_access_key(ROOT, key.access_key_id, "Active", "otto")
    assert other.lookup(key.access_key_id)[0] == key.secret_access_key
    world.iam.create_user(ROOT, "pia")
    with pytest.raises(NoSuchEntity):  # a key of otto's, named through pia
        world.iam.update_access_key(ROOT, key.access_key_id, "Inactive", "pia")


def test_policy_changes_reach_cached_principals(world: World) -> None:
    world.iam.create_user(ROOT, "kate")
    key = world.iam.create_access_key(ROOT, "kate")
    other = world.second_process()
    assert other.lookup(key.access_key_id)[1].identity_policies == ()
    world.iam.put_user_policy(ROOT, "kate", "all", ALLOW_ALL)
    assert other.lookup(key.access_key_id)[1].identity_policies == (ALLOW_ALL,)


def test_keys_of_another_user_cannot_be_deleted_through_this_one(world: World) -> None:
    world.iam.create_user(ROOT, "leo")
    world.iam.create_user(ROOT, "mia")
    key = world.iam.create_access_key(ROOT, "leo")
    with pytest.raises(NoSuchEntity, match=f"The Access Key with id {key.access_key_id} cannot be found."):
        world.iam.delete_access_key(ROOT, key.access_key_id, "mia")
    world.identities.lookup(key.access_key_id)


def test_secrets_are_sealed_at_rest_and_bound_to_their_row(world: World) -> None:
    world.iam.create_user(ROOT, "ned")
    key = world.iam.create_access_key(ROOT, "ned")
    assert key.secret_access_key.encode() not in (world.path / "t.db").read_bytes()
    # Someone with write access to the database makes the key the account root's: it stops working.
    with sqlite3.connect(world.path / "t.db") as db:
        db.execute(
            "UPDATE access_keys SET principal_type = 'Root', principal_arn = ?, user_name = NULL "
            "WHERE access_key_id = ?",
            (ROOT.arn, key.access_key_id),
        )
    with pytest.raises(UnrecognizedClientException):
        world.second_process().lookup(key.access_key_id)


def test_root_keys_and_accounts(world: World) -> None:
    admin = world.identities.ensure_admin_access_key(ACCOUNT)
    assert admin is not None
    assert world.identities.ensure_admin_access_key(ACCOUNT) is None
    _, principal = world.identities.lookup(admin.access_key_id)
    assert principal == Principal(ACCOUNT, ROOT.arn, "Root", None, principal_id=ACCOUNT)
    account, other_root = world.iam.create_account(OTHER_ACCOUNT)
    assert account.account_id == OTHER_ACCOUNT
    _, principal = world.identities.lookup(other_root.access_key_id)
    assert (principal.account_id, principal.arn) == (OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:root")
    with pytest.raises(EntityAlreadyExists):
        world.iam.create_account(OTHER_ACCOUNT)
    # The root creates (and lists) its own keys without a user name.
    extra = world.iam.create_access_key(ROOT, None)
    assert {k.access_key_id for k in world.iam.list_access_keys(ROOT, None)} == {
        admin.access_key_id,
        extra.access_key_id,
    }


def test_user_keys_made_first_do_not_prevent_the_admin_key(world: World) -> None:
    # `trent iam create-user/create-access-key` before the first `trent serve`.
    world.iam.create_user(ROOT, "olga")
    world.iam.create_access_key(ROOT, "olga")
    assert world.identities.ensure_admin_access_key(ACCOUNT) is not None


def test_the_credential_cache_is_bounded(world: World) -> None:
    small = IdentityService(world.store, world.root_key, world.clock, cache_entries=2)
    world.iam.create_user(ROOT, "pam")
    world.iam.create_user(ROOT, "quinn")
    keys = [world.iam.create_access_key(ROOT, name) for name in ("pam", "pam", "quinn")]
    for _ in range(2):
        for key in keys:
            assert small.lookup(key.access_key_id)[0] == key.secret_access_key
    assert len(small._cache) == 2


# ===================================================================== roles and policies


def test_role_lifecycle(world: World) -> None:
    role = world.iam.create_role(ROOT, "app", trust(ROOT.arn), "/svc/", "the app", 7200)
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/svc/app"
    assert role.role_id.startswith("AROA")
    assert role.max_session_duration == 7200
    assert world.iam.get_role(ROOT, "APP") == role
    with pytest.raises(EntityAlreadyExists, match="Role with name App already exists"):
        world.iam.create_role(ROOT, "App", trust(ROOT.arn))
    world.iam.put_role_policy(ROOT, "app", "kms", ALLOW_ALL)
    assert world.iam.list_role_policies(ROOT, "app") == ["kms"]
    assert world.iam.get_role_policy(ROOT, "app", "kms").document == ALLOW_ALL
    with pytest.raises(DeleteConflict):
        world.iam.delete_role(ROOT, "app")
    world.iam.delete_role_policy(ROOT, "app", "kms")
    with pytest.raises(NoSuchEntity, match="The role policy with name kms cannot be found"):
        world.iam.delete_role_policy(ROOT, "app", "kms")
    world.iam.delete_role(ROOT, "app")
    with pytest.raises(NoSuchEntity, match="The role with name app cannot be found"):
        world.iam.get_role(ROOT, "app")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "This policy contains invalid Json"),
        ("[]", "Syntax errors in policy."),
        ('{"Statement": []}', "Syntax errors in policy."),
        (
            '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}}',
            "Has prohibited field Resource",
        ),
        ('{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole"}}', "Missing required field Principal"),
    ],
)
def test_malformed_trust_policies(world: World, document: str, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument, match=message):
        world.iam.create_role(ROOT, "bad", document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"Statement": {"Effect": "Allow", "Action": "*"}}', "Policy statement must contain resources."),
        ('{"Statement": {"Effect": "Allow", "Resource": "*"}}', "Policy statement must contain actions."),
        (
            '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}',
            "Policy document should not specify a principal.",
        ),
        ('{"Version": "2020-01-01", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}', "Syntax"),
        ('{"Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}}', "Syntax"),
    ],
)
def test_malformed_identity_policies(world: World, document: str, message: str) -> None:
    world.iam.create_user(ROOT, "rita")
    with pytest.raises(MalformedPolicyDocument, match=message):
        world.iam.put_user_policy(ROOT, "rita", "p", document)


def test_inline_policy_size_quota_counts_all_of_a_users_policies(world: World) -> None:
    world.iam.create_user(ROOT, "sam")

    def policy(padding: int) -> str:
        return json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Sid": "x" * padding}]})

    world.iam.put_user_policy(ROOT, "sam", "one", policy(900))
    world.iam.put_user_policy(ROOT, "sam", "one", policy(950))  # replacing does not count twice
    with pytest.raises(LimitExceeded, match="Maximum policy size of 2048 bytes exceeded for user sam"):
        world.iam.put_user_policy(ROOT, "sam", "two", policy(1100))
    world.iam.put_user_policy(ROOT, "sam", "two", " " * 5000 + policy(900))  # white space is free


# ===================================================================== AssumeRole and sessions


def session_world(world: World) -> tuple[Caller, str]:
    """A user 'tom' and a role 'reader' that trusts him; returns tom's Caller and the role ARN."""
    user = world.iam.create_user(ROOT, "tom")
    key = world.iam.create_access_key(ROOT, "tom")
    role = world.iam.create_role(ROOT, "reader", trust(user.arn))
    world.iam.put_role_policy(ROOT, "reader", "kms", ALLOW_ALL)
    _, principal = world.identities.lookup(key.access_key_id)
    return world.caller(principal, key.access_key_id), role.arn


def test_assume_role_issues_working_temporary_credentials(world: World) -> None:
    tom, role_arn = session_world(world)
    session = world.iam.assume_role(tom, role_arn, "tom-session", None)
    assert session.access_key_id.startswith("ASIA")
    assert len(session.access_key_id) == 20
    assert session.expiration == START + timedelta(hours=1)
    role = world.iam.get_role(ROOT, "reader")
    assert session.assumed_role_id == f"{role.role_id}:tom-session"
    assert session.assumed_role_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/tom-session"
    secret, principal = world.identities.lookup(session.access_key_id, session.session_token)
    assert secret == session.secret_access_key
    assert principal == Principal(
        ACCOUNT,
        session.assumed_role_arn,
        "AssumedRole",
        None,
        principal_id=session.assumed_role_id,
        role_arn=role_arn,
        session_name="tom-session",
        session_issued=START,
        identity_policies=(ALLOW_ALL,),
    )
    identity = world.iam.get_caller_identity(world.caller(principal))
    assert (identity.user_id, identity.account, identity.arn) == (
        session.assumed_role_id,
        ACCOUNT,
        session.assumed_role_arn,
    )


def test_session_tokens_are_checked_and_never_stored(world: World) -> None:
    tom, role_arn = session_world(world)
    session = world.iam.assume_role(tom, role_arn, "s1", None)
    data = (world.path / "t.db").read_bytes()
    assert session.session_token.encode() not in data
    assert session.secret_access_key.encode() not in data
    with pytest.raises(UnrecognizedClientException):
        world.identities.lookup(session.access_key_id)  # a session key without its token
    with pytest.raises(UnrecognizedClientException):
        world.identities.lookup(session.access_key_id, session.session_token[:-2] + "AA")
    world.identities.lookup(session.access_key_id, session.session_token)


def test_sessions_expire_by_the_injected_clock(world: World) -> None:
    tom, role_arn = session_world(world)
    session = world.iam.assume_role(tom, role_arn, "short", 900)
    assert session.expiration == START + timedelta(seconds=900)
    world.clock.advance(899)
    world.identities.lookup(session.access_key_id, session.session_token)  # cached now
    world.clock.advance(1)
    with pytest.raises(ExpiredTokenException, match="The security token included in the request is expired"):
        world.identities.lookup(session.access_key_id, session.session_token)
    # An expired session with a wrong token is still just an invalid token.
    with pytest.raises(UnrecognizedClientException):
        world.identities.lookup(session.access_key_id, "wrong")
    with pytest.raises(ExpiredTokenException):
        world.second_process().lookup(session.access_key_id, session.session_token)


def test_duration_limits(world: World) -> None:
    tom, role_arn = session_world(world)
    with pytest.raises(ValidationError, match="exceeds the MaxSessionDuration set for this role"):
        world.iam.assume_role(tom, role_arn, "sx", 3601)
    with pytest.raises(ValidationError, match="RoleSessionName"):
        world.iam.assume_role(tom, role_arn, "no spaces", None)
    with pytest.raises(ValidationError, match="greater than or equal to 900"):
        world.iam.assume_role(tom, role_arn, "sx", 899)
    # Role chaining: a session assuming a role gets one hour at most.
    world.iam.create_role(ROOT, "long", trust(f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/sx"), None, None, 43200)
    first = world.iam.assume_role(tom, role_arn, "sx", None)
    _, principal = world.identities.lookup(first.access_key_id, first.session_token)
    chained = world.caller(principal)
    long_arn = world.iam.get_role(ROOT, "long").arn
    with pytest.raises(ValidationError, match="1 hour session limit for roles assumed by role chaining"):
        world.iam.assume_role(chained, long_arn, "s2", 7200)
    assert world.iam.assume_role(chained, long_arn, "s2", 3600).expiration == START + timedelta(hours=1)


def test_untrusted_missing_or_misnamed_roles_are_access_denied(world: World) -> None:
    tom, role_arn = session_world(world)
    world.iam.create_user(ROOT, "uma")
    other_key = world.iam.create_access_key(ROOT, "uma")
    uma = world.caller(world.identities.lookup(other_key.access_key_id)[1])
    with pytest.raises(AccessDeniedException, match="sts:AssumeRole"):
        world.iam.assume_role(uma, role_arn, "sx", None)
    for arn in (f"arn:aws:iam::{ACCOUNT}:role/missing", f"arn:aws:iam::{ACCOUNT}:role/other/reader"):
        with pytest.raises(AccessDeniedException, match=f"on resource: {arn}"):
            world.iam.assume_role(tom, arn, "sx", None)
    with pytest.raises(ValidationError):
        world.iam.assume_role(tom, f"arn:aws:iam::{ACCOUNT}:user/tom", "sx", None)


def test_deleting_a_role_ends_its_sessions(world: World) -> None:
    tom, role_arn = session_world(world)
    session = world.iam.assume_role(tom, role_arn, "sx", None)
    world.identities.lookup(session.access_key_id, session.session_token)
    world.iam.delete_role_policy(ROOT, "reader", "kms")
    world.iam.delete_role(ROOT, "reader")
    world.iam.create_role(ROOT, "reader", trust(ROOT.arn))  # same name, another role
    with pytest.raises(UnrecognizedClientException):
        world.identities.lookup(session.access_key_id, session.session_token)


def test_tampered_session_rows_are_refused(world: World) -> None:
    tom, role_arn = session_world(world)
    session = world.iam.assume_role(tom, role_arn, "sx", 900)
    with sqlite3.connect(world.path / "t.db") as db:
        db.execute(
            "UPDATE iam_sessions SET expires = expires + 86400 WHERE access_key_id = ?", (session.access_key_id,)
        )
    with pytest.raises(UnrecognizedClientException):
        world.second_process().lookup(session.access_key_id, session.session_token)


def test_long_expired_sessions_are_purged(world: World) -> None:
    tom, role_arn = session_world(world)
    old = world.iam.assume_role(tom, role_arn, "old", 900)
    world.clock.advance(2 * 86400)
    world.iam.assume_role(tom, role_arn, "new", 900)
    assert world.store.get_session(old.access_key_id) is None
    with pytest.raises(UnrecognizedClientException):
        world.identities.lookup(old.access_key_id, old.session_token)


def test_user_operations_need_a_user_name_for_role_sessions(world: World) -> None:
    tom, role_arn = session_world(world)
    session = world.iam.assume_role(tom, role_arn, "sx", None)
    caller = world.caller(world.identities.lookup(session.access_key_id, session.session_token)[1])
    with pytest.raises(ValidationError, match="Must specify userName when calling with non-User credentials"):
        world.iam.get_user(caller, None)
    with pytest.raises(ValidationError):
        world.iam.create_access_key(caller, None)


# ===================================================================== data from before IAM


def test_admin_keys_of_older_data_dirs_keep_working(tmp_path: Path) -> None:
    """A data dir made before migration 0003: its admin key (sealed with the v1 AAD) still works,
    its account counts as set up (no second admin key), and v1 sealing grants nothing but root."""
    from importlib import resources

    from trent.domain.identity import AccessKey
    from trent.services.identity import secret_aad

    root_key = LocalFileRootOfTrust.open_or_create(tmp_path / "root.key")
    folder = resources.files("trent.storage.migrations").joinpath("sqlite")
    with sqlite3.connect(tmp_path / "t.db") as db:
        for name in ("0001_initial.sql", "0002_deleted_keys.sql"):
            db.executescript(folder.joinpath(name).read_text(encoding="utf-8"))
        db.execute("PRAGMA user_version = 2")
        for key_id, kind, arn, user in (
            ("AKIAOLDADMINKEY00000", "Root", ROOT.arn, None),
            ("AKIAOLDFORGEDUSER000", "IAMUser", f"arn:aws:iam::{ACCOUNT}:user/x", "x"),
        ):
            sealed = root_key.seal(b"old-secret", secret_aad(key_id))
            db.execute(
                "INSERT INTO access_keys VALUES (?, ?, ?, ?, ?, ?, 'Active', 1700000000)",
                (key_id, ACCOUNT, arn, kind, user, sealed),
            )
    store = SqliteStore(tmp_path / "t.db")
    try:
        identities = IdentityService(store, root_key, MovableClock())
        assert identities.lookup("AKIAOLDADMINKEY00000") == (
            "old-secret",
            Principal(ACCOUNT, ROOT.arn, "Root", None, principal_id=ACCOUNT),
        )
        assert identities.ensure_admin_access_key(ACCOUNT) is None
        IamService(store, identities, MovableClock()).create_user(ROOT, "x")
        with pytest.raises(UnrecognizedClientException):
            identities.lookup("AKIAOLDFORGEDUSER000")
        assert isinstance(store.get_access_key("AKIAOLDADMINKEY00000"), AccessKey)
    finally:
        store.close()
