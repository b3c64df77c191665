"""Access keys: creating them (secrets sealed, shown once) and finding the secret for SigV4."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from trent.crypto.random import random_bytes
from trent.domain.errors import UnrecognizedClientException
from trent.domain.identity import AccessKey
from trent.domain.ids import account_root_arn
from trent.services.ports import RootOfTrust, Store

ADMIN_USER_NAME = "admin"


def secret_aad(access_key_id: str) -> bytes:
    return b"trent:access-key-secret:v1\x00" + access_key_id.encode()


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    access_key_id: str
    secret_access_key: str  # returned once to the creator, never stored unsealed
    principal_arn: str


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    arn: str
    principal_type: str  # Root, IAMUser, AssumedRole
    user_name: str | None
    principal_id: str = ""
    role_arn: str | None = None
    session_name: str | None = None
    session_issued: datetime | None = None


def _new_access_key_id() -> str:
    return "AKIA" + base64.b32encode(random_bytes(10)).decode("ascii")[:16]


def _new_secret() -> str:
    return base64.b64encode(random_bytes(30)).decode("ascii")


class IdentityService:
    """Resolves access key ids to principals and secrets; secrets are cached unsealed in memory."""

    def __init__(self, store: Store, root: RootOfTrust) -> None:
        self._store = store
        self._root = root
        self._secrets: dict[str, tuple[str, Principal]] = {}

    def create_access_key(
        self, account_id: str, principal_arn: str, principal_type: str, user_name: str | None
    ) -> NewAccessKey:
        access_key_id = _new_access_key_id()
        secret = _new_secret()
        sealed = self._root.seal(secret.encode("ascii"), secret_aad(access_key_id))
        self._store.insert_access_key(
            AccessKey(access_key_id, account_id, principal_arn, principal_type, user_name, sealed)
        )
        return NewAccessKey(access_key_id, secret, principal_arn)

    def ensure_admin_access_key(self, account_id: str) -> NewAccessKey | None:
        """First start only: an admin key for the account (its root), or None if keys exist."""
        if self._store.count_access_keys() > 0:
            return None
        return self.create_access_key(account_id, account_root_arn(account_id), "Root", None)

    def lookup(self, access_key_id: str, session_token: str | None = None) -> tuple[str, Principal]:
        """(secret, principal) for a known, active access key; else UnrecognizedClientException.

        Temporary credentials (with a session token) are not issued yet, so a token never matches.
        """
        if session_token is not None:
            raise UnrecognizedClientException.invalid_token()
        cached = self._secrets.get(access_key_id)
        if cached is not None:
            return cached
        record = self._store.get_access_key(access_key_id)
        if record is None or record.status != "Active":
            raise UnrecognizedClientException.invalid_token()
        secret = self._root.unseal(record.sealed_secret, secret_aad(access_key_id)).decode("ascii")
        principal = Principal(record.account_id, record.principal_arn, record.principal_type, record.user_name)
        self._secrets[access_key_id] = (secret, principal)
        return secret, principal
