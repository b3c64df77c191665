"""Credentials: creating access keys and role sessions, and resolving them for SigV4.

Secrets reach the store only sealed under the root of trust, with AAD that binds each secret to
the row it belongs to: editing a row in the database (another principal, a later expiry) makes the
secret fail to open, and the credential is refused. Session tokens are never stored; only their
SHA-256 is, and it is compared in constant time.

``lookup`` runs on every request, so resolved credentials are cached (unsealed) in memory, bounded
and least-recently-used. The cache is never stale, also across ``--workers`` processes and admin
CLI runs: each lookup first compares the store's change token (one cheap call) and, only when
something was committed since, the IAM generation, which every IAM change that can alter a
credential (deleting a key, user, role or session; changing a policy) increments in the same
transaction. A deleted key therefore stops working on the very next request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from trent.crypto.random import random_bytes
from trent.domain.errors import ExpiredTokenException, RootOfTrustError, UnrecognizedClientException
from trent.domain.iam import Account, Role, Session, assumed_role_arn
from trent.domain.identity import AccessKey, Caller
from trent.domain.ids import account_root_arn
from trent.services.iam_ports import IamStore
from trent.services.ports import Clock, RootOfTrust

ADMIN_USER_NAME = "admin"
CACHE_ENTRIES = 10_000

log = logging.getLogger("trent.identity")


def secret_aad(access_key_id: str) -> bytes:
    """AAD of keys sealed before v2 (the first admin keys): binds only the key id."""
    return b"trent:access-key-secret:v1\x00" + access_key_id.encode()


def _fields_aad(label: bytes, *fields: str) -> bytes:
    # NUL never occurs in ids, ARNs or names (the model's patterns exclude it): the join is injective.
    return label + b"\x00" + "\x00".join(fields).encode()


def access_key_aad(access_key: AccessKey) -> bytes:
    """Binds a long-term secret to its key id, account and principal."""
    return _fields_aad(
        b"trent:access-key-secret:v2",
        access_key.access_key_id,
        access_key.account_id,
        access_key.principal_arn,
        access_key.principal_type,
        access_key.user_name or "",
    )


def session_aad(session: Session) -> bytes:
    """Binds a session secret to everything else in its row (role, name, token digest, lifetime)."""
    return _fields_aad(
        b"trent:session-secret:v1",
        session.access_key_id,
        session.account_id,
        session.token_digest.hex(),
        session.role_arn,
        session.role_id,
        session.role_name,
        session.session_name,
        repr(session.issued.timestamp()),
        repr(session.expires.timestamp()),
    )


def token_digest(session_token: str) -> bytes:
    return hashlib.sha256(session_token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    access_key_id: str
    secret_access_key: str  # returned once to the creator, never stored unsealed
    principal_arn: str
    user_name: str | None = None
    create_date: datetime | None = None
    status: str = "Active"


@dataclass(frozen=True, slots=True)
class NewSession:
    access_key_id: str
    secret_access_key: str  # returned once, never stored unsealed
    session_token: str  # returned once, only its SHA-256 is stored
    expiration: datetime
    assumed_role_id: str  # ROLEID:SESSION
    assumed_role_arn: str


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    arn: str
    principal_type: str  # Root, IAMUser, AssumedRole
    user_name: str | None
    principal_id: str = ""  # aws:userid: account id, AIDA..., or AROA...:session
    role_arn: str | None = None
    session_name: str | None = None
    session_issued: datetime | None = None
    # Identity policy documents: the inline policies of the user, or of the session's role.
    identity_policies: tuple[str, ...] = ()

    def caller(
        self, *, region: str, access_key_id: str, source_ip: str, user_agent: str, secure_transport: bool
    ) -> Caller:
        """This principal making one request (the API's SigV4 requests and the console's alike)."""
        return Caller(
            account_id=self.account_id,
            arn=self.arn,
            principal_type=self.principal_type,
            region=region,
            access_key_id=access_key_id,
            user_name=self.user_name,
            source_ip=source_ip,
            user_agent=user_agent,
            principal_id=self.principal_id,
            role_arn=self.role_arn,
            session_name=self.session_name,
            session_issued=self.session_issued,
            identity_policies=self.identity_policies,
            secure_transport=secure_transport,
        )


@dataclass(frozen=True, slots=True)
class _Entry:
    secret: str
    principal: Principal
    token_digest: bytes | None = None  # set for temporary credentials
    expires: datetime | None = None


def _random_id(prefix: str, length: int) -> str:
    """AWS-style identifiers: a type prefix and upper-case base32 characters."""
    return prefix + base64.b32encode(random_bytes(20)).decode("ascii")[:length]


def new_access_key_id() -> str:
    return _random_id("AKIA", 16)


def new_session_key_id() -> str:
    return _random_id("ASIA", 16)


def new_user_id() -> str:
    return _random_id("AIDA", 17)


def new_role_id() -> str:
    return _random_id("AROA", 17)


def _new_secret() -> str:
    return base64.b64encode(random_bytes(30)).decode("ascii")


def _new_session_token() -> str:
    # Opaque and long like AWS's; 96 random bytes, so a digest lookup is as good as the token.
    return base64.b64encode(random_bytes(96)).decode("ascii")


class IdentityService:
    """Issues credentials and resolves access key ids (and session tokens) to principals."""

    def __init__(self, store: IamStore, root: RootOfTrust, clock: Clock, *, cache_entries: int = CACHE_ENTRIES) -> None:
        self._store = store
        self._root = root
        self._clock = clock
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._cache_entries = cache_entries
        self._lock = threading.Lock()
        self._token: int | None = None
        self._generation: int | None = None

    # ================================================================= issuing

    def create_access_key(
        self, account_id: str, principal_arn: str, principal_type: str, user_name: str | None
    ) -> NewAccessKey:
        access_key_id = new_access_key_id()
        secret = _new_secret()
        record = AccessKey(access_key_id, account_id, principal_arn, principal_type, user_name, b"")
        sealed = self._root.seal(secret.encode("ascii"), access_key_aad(record))
        created = self._clock.now().replace(microsecond=0)  # as shown to clients
        self._store.add_access_key(
            AccessKey(access_key_id, account_id, principal_arn, principal_type, user_name, sealed), created
        )
        return NewAccessKey(access_key_id, secret, principal_arn, user_name, created)

    def create_account(self, account_id: str) -> tuple[Account, NewAccessKey] | None:
        """A new account and its root access key; None when the account exists already."""
        with self._store.transaction():
            account = Account(account_id, self._clock.now())
            if not self._store.insert_account(account):
                return None
            return account, self.create_access_key(account_id, account_root_arn(account_id), "Root", None)

    def ensure_admin_access_key(self, account_id: str) -> NewAccessKey | None:
        """First start only: the account and its admin (root) key, or None if it was set up before."""
        created = self.create_account(account_id)
        return None if created is None else created[1]

    def issue_session(self, role: Role, session_name: str, issued: datetime, expires: datetime) -> NewSession:
        access_key_id = new_session_key_id()
        secret = _new_secret()
        token = _new_session_token()
        unsealed = Session(
            access_key_id,
            role.account_id,
            b"",
            token_digest(token),
            role.arn,
            role.role_id,
            role.role_name,
            session_name,
            issued,
            expires,
        )
        sealed = self._root.seal(secret.encode("ascii"), session_aad(unsealed))
        session = Session(
            access_key_id,
            role.account_id,
            sealed,
            unsealed.token_digest,
            role.arn,
            role.role_id,
            role.role_name,
            session_name,
            issued,
            expires,
        )
        self._store.insert_session(session)
        return NewSession(
            access_key_id,
            secret,
            token,
            expires,
            f"{role.role_id}:{session_name}",
            assumed_role_arn(role.arn, role.role_name, role.account_id, session_name),
        )

    # ================================================================= resolving

    def forget(self, access_key_id: str) -> None:
        """Drop one cached credential at once (this process); other processes see the generation."""
        with self._lock:
            self._cache.pop(access_key_id, None)

    def lookup(
        self, access_key_id: str, session_token: str | None = None, change_token: int | None = None
    ) -> tuple[str, Principal]:
        """(secret, principal) for a known, active credential.

        UnrecognizedClientException for an unknown key, a wrong or missing session token, or a
        token sent with a long-term key; ExpiredTokenException for an expired session (only once
        the token has been shown to be right). ``change_token``: the store's token if the caller
        has just read it (saves a second read per request).
        """
        self._sync(change_token)
        with self._lock:
            entry = self._cache.get(access_key_id)
            if entry is not None:
                self._cache.move_to_end(access_key_id)
        if entry is None:
            entry = self._load(access_key_id)
            with self._lock:
                self._cache[access_key_id] = entry
                while len(self._cache) > self._cache_entries:
                    self._cache.popitem(last=False)
        if entry.token_digest is None:
            if session_token is not None:
                raise UnrecognizedClientException.invalid_token()
            return entry.secret, entry.principal
        if session_token is None or not hmac.compare_digest(token_digest(session_token), entry.token_digest):
            raise UnrecognizedClientException.invalid_token()
        if entry.expires is not None and self._clock.now() >= entry.expires:
            raise ExpiredTokenException.expired()
        return entry.secret, entry.principal

    def _sync(self, change_token: int | None = None) -> None:
        token = self._store.change_token() if change_token is None else change_token
        if token == self._token:
            return
        generation = self._store.iam_generation()
        with self._lock:
            if generation != self._generation:
                self._cache.clear()
                self._generation = generation
            self._token = token

    def _load(self, access_key_id: str) -> _Entry:
        record = self._store.get_access_key(access_key_id)
        if record is not None:
            return self._load_access_key(record)
        session = self._store.get_session(access_key_id)
        if session is not None:
            return self._load_session(session)
        raise UnrecognizedClientException.invalid_token()

    def _unseal(self, sealed: bytes, aad: bytes, access_key_id: str) -> str:
        try:
            return self._root.unseal(sealed, aad).decode("ascii")
        except RootOfTrustError:
            # The row was altered (or belongs to another root key): refuse the credential.
            log.warning("refusing credential %s: its sealed secret does not open for its row", access_key_id)
            raise UnrecognizedClientException.invalid_token() from None

    def _load_access_key(self, record: AccessKey) -> _Entry:
        if record.status != "Active":
            raise UnrecognizedClientException.invalid_token()
        try:
            secret = self._root.unseal(record.sealed_secret, access_key_aad(record)).decode("ascii")
        except RootOfTrustError:
            # Admin keys made before v2 bind only the key id; they are always the account root's.
            if record.principal_type != "Root" or record.principal_arn != account_root_arn(record.account_id):
                log.warning("refusing access key %s: its sealed secret does not open for its row", record.access_key_id)
                raise UnrecognizedClientException.invalid_token() from None
            secret = self._unseal(record.sealed_secret, secret_aad(record.access_key_id), record.access_key_id)
        if record.principal_type == "Root":
            principal = Principal(record.account_id, record.principal_arn, "Root", None, principal_id=record.account_id)
            return _Entry(secret, principal)
        if record.principal_type != "IAMUser" or record.user_name is None:
            raise UnrecognizedClientException.invalid_token()
        user = self._store.get_user(record.account_id, record.user_name)
        if user is None or user.arn != record.principal_arn:
            raise UnrecognizedClientException.invalid_token()
        policies = self._store.inline_policies(record.account_id, "user", user.user_name)
        principal = Principal(
            record.account_id,
            user.arn,
            "IAMUser",
            user.user_name,
            principal_id=user.user_id,
            identity_policies=tuple(p.document for p in policies),
        )
        return _Entry(secret, principal)

    def _load_session(self, session: Session) -> _Entry:
        secret = self._unseal(session.sealed_secret, session_aad(session), session.access_key_id)
        role = self._store.get_role(session.account_id, session.role_name)
        if role is None or role.role_id != session.role_id:
            raise UnrecognizedClientException.invalid_token()
        policies = self._store.inline_policies(role.account_id, "role", role.role_name)
        principal = Principal(
            session.account_id,
            assumed_role_arn(role.arn, role.role_name, role.account_id, session.session_name),
            "AssumedRole",
            None,
            principal_id=f"{role.role_id}:{session.session_name}",
            role_arn=role.arn,
            session_name=session.session_name,
            session_issued=session.issued,
            identity_policies=tuple(p.document for p in policies),
        )
        return _Entry(secret, principal, session.token_digest, session.expires)
