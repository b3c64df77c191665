"""Key policies and IAM policies: the default key policy, and the engine that evaluates policy documents.

Pure domain code: documents are compiled once (``CompiledPolicy.parse``, or ``compile_cached`` for
stored policies) and evaluated per request against a ``RequestContext``.
"""

from __future__ import annotations

from trent.domain.policy.defaults import DEFAULT_POLICY_NAME, aws_managed_key_policy, default_key_policy
from trent.domain.policy.document import KEY_POLICY_MAX_BYTES, CompiledPolicy, PolicyKind, compile_cached
from trent.domain.policy.model import ConditionKeys, Decision, KeyPolicyResult, Principal, RequestContext

__all__ = [
    "DEFAULT_POLICY_NAME",
    "KEY_POLICY_MAX_BYTES",
    "CompiledPolicy",
    "ConditionKeys",
    "Decision",
    "KeyPolicyResult",
    "PolicyKind",
    "Principal",
    "RequestContext",
    "aws_managed_key_policy",
    "compile_cached",
    "default_key_policy",
]
