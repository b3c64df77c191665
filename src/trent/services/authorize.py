"""The single authorization decision point.

For now it applies what AWS's default key policy means: a key's own account may use and manage it,
no other account may. Key policies, IAM policies and grants will be evaluated here, and only here.
"""

from __future__ import annotations

from trent.domain.errors import AccessDeniedException
from trent.domain.identity import Caller
from trent.domain.keys import Key


def authorize(caller: Caller, action: str, key: Key | None) -> None:
    """Raise AccessDeniedException unless ``caller`` may perform ``action`` (on ``key``)."""
    if key is None:
        return
    if key.account_id != caller.account_id:
        raise AccessDeniedException.no_resource_policy(caller.arn, action, key.arn)
