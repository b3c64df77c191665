"""Key policy documents as PutKeyPolicy, CreateKey and ReplicateKey take them: validated, and
checked against AWS's lockout safety rule unless the caller bypasses it."""

from __future__ import annotations

from collections.abc import Callable

from trent.domain.errors import AccessDeniedException, MalformedPolicyDocumentException
from trent.domain.identity import Caller
from trent.domain.policy import CompiledPolicy
from trent.services.authorize import authorize_identity_action, principal_of


class KeyPolicies:
    def __init__(self, principal_exists: Callable[[str], bool] | None = None) -> None:
        # Key policies may name only principals that exist (AWS checks); IAM wiring supplies this.
        self._principal_exists = principal_exists or (lambda _arn: True)

    def checked(self, caller: Caller, policy: str, resource: str, *, bypass: bool) -> str:
        """Validate a key policy and run AWS's lockout safety check unless bypassed."""
        compiled = CompiledPolicy.parse(policy, kind="key", principal_exists=self._principal_exists)
        if bypass:
            return policy

        def identity_allows() -> bool:
            try:
                authorize_identity_action(caller, "kms:PutKeyPolicy", resource)
            except AccessDeniedException:
                return False
            return True

        if not compiled.allows_put_key_policy_for(principal_of(caller), identity_allows, resource=resource):
            raise MalformedPolicyDocumentException(
                "The new key policy will not allow you to update the key policy in the future."
            )
        return policy
