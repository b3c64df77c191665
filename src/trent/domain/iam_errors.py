"""Errors of the IAM and STS APIs, named after the codes AWS's query protocol sends.

The class name is the ``<Code>`` of the XML error (IAM's model calls the shapes ``...Exception`` but
their wire code is the bare name, e.g. ``NoSuchEntity``). Named constructors hold AWS's wording.
HTTP status codes live in ``trent.api.query``. Messages never carry secrets or session tokens.
"""

from __future__ import annotations

from trent.domain.errors import TrentError


class NoSuchEntity(TrentError):
    @classmethod
    def user(cls, user_name: str) -> NoSuchEntity:
        return cls(f"The user with name {user_name} cannot be found.")

    @classmethod
    def role(cls, role_name: str) -> NoSuchEntity:
        return cls(f"The role with name {role_name} cannot be found.")

    @classmethod
    def user_policy(cls, policy_name: str) -> NoSuchEntity:
        return cls(f"The user policy with name {policy_name} cannot be found.")

    @classmethod
    def role_policy(cls, policy_name: str) -> NoSuchEntity:
        return cls(f"The role policy with name {policy_name} cannot be found.")

    @classmethod
    def access_key(cls, access_key_id: str) -> NoSuchEntity:
        return cls(f"The Access Key with id {access_key_id} cannot be found.")


class EntityAlreadyExists(TrentError):
    @classmethod
    def user(cls, user_name: str) -> EntityAlreadyExists:
        return cls(f"User with name {user_name} already exists.")

    @classmethod
    def role(cls, role_name: str) -> EntityAlreadyExists:
        return cls(f"Role with name {role_name} already exists.")

    @classmethod
    def account(cls, account_id: str) -> EntityAlreadyExists:
        # Not an AWS API: accounts are made by the operator's CLI.
        return cls(f"Account {account_id} already exists.")


class DeleteConflict(TrentError):
    @classmethod
    def access_keys(cls) -> DeleteConflict:
        return cls("Cannot delete entity, must delete access keys first.")

    @classmethod
    def policies(cls) -> DeleteConflict:
        return cls("Cannot delete entity, must delete policies first.")


class LimitExceeded(TrentError):
    @classmethod
    def quota(cls, name: str, limit: int) -> LimitExceeded:
        return cls(f"Cannot exceed quota for {name}: {limit}")

    @classmethod
    def policy_size(cls, limit: int, kind: str, owner: str) -> LimitExceeded:
        return cls(f"Maximum policy size of {limit} bytes exceeded for {kind} {owner}")


class MalformedPolicyDocument(TrentError):
    @classmethod
    def invalid_json(cls) -> MalformedPolicyDocument:
        return cls("This policy contains invalid Json")

    @classmethod
    def syntax(cls) -> MalformedPolicyDocument:
        return cls("Syntax errors in policy.")


class InvalidInput(TrentError):
    pass


class ValidationError(TrentError):
    @classmethod
    def non_user_credentials(cls) -> ValidationError:
        return cls("Must specify userName when calling with non-User credentials")

    @classmethod
    def duration_exceeds_role_maximum(cls) -> ValidationError:
        return cls("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")

    @classmethod
    def duration_exceeds_chaining_limit(cls) -> ValidationError:
        return cls("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")

    @classmethod
    def unsupported(cls, member: str) -> ValidationError:
        return cls(f"{member} is not supported by this Trent server yet.")


# ----------------------------------------------------------------- query protocol (CommonErrors)


class InvalidAction(TrentError):
    @classmethod
    def unknown(cls, action: str, version: str) -> InvalidAction:
        return cls(f"Could not find operation {action} for version {version}")

    @classmethod
    def not_yet(cls, action: str) -> InvalidAction:
        return cls(f"{action} is not supported by this Trent server yet.")


class MissingAction(TrentError):
    @classmethod
    def missing(cls) -> MissingAction:
        return cls("The request is missing an action or a required parameter.")


class MalformedQueryString(TrentError):
    @classmethod
    def malformed(cls) -> MalformedQueryString:
        return cls("The query string contains a syntax error.")
