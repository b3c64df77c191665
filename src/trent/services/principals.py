"""Whether a principal named in a key policy exists (AWS refuses policies naming unknown ones)."""

from __future__ import annotations

import re

from trent.services.iam_ports import IamStore

_IAM_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role)/(?:.*/)?([^/]+)$")


class PrincipalDirectory:
    def __init__(self, store: IamStore) -> None:
        self._store = store

    def principal_exists(self, arn: str) -> bool:
        match = _IAM_ARN.match(arn)
        if match is None:
            return True  # account roots, sessions, services: their shape is checked by the policy parser
        account_id, kind, name = match.groups()
        if kind == "user":
            return self._store.get_user(account_id, name) is not None
        return self._store.get_role(account_id, name) is not None
