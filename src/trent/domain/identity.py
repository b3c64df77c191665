"""Who is calling: the authenticated principal and the request's circumstances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    arn: str  # e.g. arn:aws:iam::111122223333:root, ...:user/admin, arn:aws:sts::...:assumed-role/R/S
    principal_type: str  # Root, IAMUser, AssumedRole (CloudTrail's userIdentity.type)
    region: str  # from the signature's credential scope: the key space of this request
    access_key_id: str = ""
    user_name: str | None = None
    source_ip: str = ""
    user_agent: str = ""
    principal_id: str = ""  # aws:userid: account id (root), AIDA... (user), AROA...:session (role session)
    role_arn: str | None = None  # the role behind an assumed-role session
    session_name: str | None = None
    session_issued: datetime | None = None  # aws:TokenIssueTime for temporary credentials
    request_time: datetime | None = None  # aws:CurrentTime
    secure_transport: bool = False  # aws:SecureTransport: the request came over TLS
    # The caller's identity (IAM) policy documents: inline policies of its user or role.
    identity_policies: tuple[str, ...] = ()

    @property
    def is_root(self) -> bool:
        return self.principal_type == "Root"


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An access key as stored: the secret only sealed under the root of trust."""

    access_key_id: str
    account_id: str
    principal_arn: str
    principal_type: str
    user_name: str | None
    sealed_secret: bytes
    status: str = "Active"
