"""Errors Trent raises, named after the AWS error codes clients see.

The class name is the wire ``__type``. Named constructors hold AWS's wording so that the same
message is never typed twice. Only ``trent.api.errors`` knows HTTP status codes.
Messages never carry plaintext, key material or secrets.
"""

from __future__ import annotations


class TrentError(Exception):
    """Root of every error Trent raises on purpose."""

    code: str = "KMSInternalException"

    def __init__(self, message: str = "") -> None:
        if not message.isascii():
            # A message may quote the request (a policy's element name): what is not UTF-8 there
            # (a lone surrogate from a \\ud800 escape) is shown escaped, so the answer and its
            # audit record can always be written.
            message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.message = message

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__


# ----------------------------------------------------------------- protocol and authentication


class SerializationException(TrentError):
    pass


def constraint_violation(path: str, rule: str, value: str | None = None) -> str:
    """One violation in AWS's (Coral's) validation template; ``value`` None leaves it out (sensitive)."""
    if value is None:
        return f"Value at '{path}' failed to satisfy constraint: {rule}"
    return f"Value '{value}' at '{path}' failed to satisfy constraint: {rule}"


def missing_member(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def validation_summary(violations: list[str]) -> str:
    count = len(violations)
    return f"{count} validation {'error' if count == 1 else 'errors'} detected: " + "; ".join(violations)


class ValidationException(TrentError):
    @classmethod
    def violation(cls, path: str, rule: str, value: str | None = None) -> ValidationException:
        """A constraint the model cannot state (AWS's documented limits), in the model's own words."""
        return cls(validation_summary([constraint_violation(path, rule, value)]))

    @classmethod
    def missing(cls, path: str) -> ValidationException:
        return cls(validation_summary([missing_member(path)]))


class UnknownOperationException(TrentError):
    pass


class MissingAuthenticationTokenException(TrentError):
    @classmethod
    def missing(cls) -> MissingAuthenticationTokenException:
        return cls("Missing Authentication Token")


class IncompleteSignatureException(TrentError):
    pass


class InvalidSignatureException(TrentError):
    @classmethod
    def mismatch(cls) -> InvalidSignatureException:
        return cls(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details."
        )


class UnrecognizedClientException(TrentError):
    @classmethod
    def invalid_token(cls) -> UnrecognizedClientException:
        return cls("The security token included in the request is invalid.")


class ExpiredTokenException(TrentError):
    @classmethod
    def expired(cls) -> ExpiredTokenException:
        return cls("The security token included in the request is expired")


class AccessDeniedException(TrentError):
    @classmethod
    def no_identity_policy(cls, principal_arn: str, action: str, resource: str) -> AccessDeniedException:
        return cls(
            f"User: {principal_arn} is not authorized to perform: {action} on resource: "
            f"{resource} because no identity-based policy allows the {action} action"
        )

    @classmethod
    def no_resource_policy(cls, principal_arn: str, action: str, resource: str) -> AccessDeniedException:
        return cls(
            f"User: {principal_arn} is not authorized to perform: {action} on resource: "
            f"{resource} because no resource-based policy allows the {action} action"
        )

    @classmethod
    def explicit_deny(cls, principal_arn: str, action: str, resource: str) -> AccessDeniedException:
        return cls(
            f"User: {principal_arn} is not authorized to perform: {action} on resource: "
            f"{resource} with an explicit deny in a resource-based policy"
        )

    @classmethod
    def explicit_deny_identity(cls, principal_arn: str, action: str, resource: str) -> AccessDeniedException:
        return cls(
            f"User: {principal_arn} is not authorized to perform: {action} on resource: "
            f"{resource} with an explicit deny in an identity-based policy"
        )

    @classmethod
    def ciphertext_key_unusable(cls) -> AccessDeniedException:
        return cls(
            "The ciphertext refers to a customer master key that does not exist, does not exist "
            "in this region, or you are not allowed to access."
        )


class ThrottlingException(TrentError):
    @classmethod
    def rate_exceeded(cls) -> ThrottlingException:
        return cls("You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")


class RequestTimeoutException(TrentError):
    """The client did not send its request in time (a slow or stalled body); SDKs retry it."""

    @classmethod
    def body_too_slow(cls) -> RequestTimeoutException:
        return cls("Your socket connection to the server was not read from or written to within the timeout period.")


class RequestEntityTooLargeException(TrentError):
    """Body over the 1 MiB cap; AWS front ends answer 413 with this name."""


# ----------------------------------------------------------------- modeled KMS errors


class NotFoundException(TrentError):
    @classmethod
    def invalid_key_id(cls, key_id: str) -> NotFoundException:
        return cls(f"Invalid keyId '{key_id}'")

    @classmethod
    def invalid_arn_region(cls, region: str) -> NotFoundException:
        return cls(f"Invalid arn {region}")

    @classmethod
    def key(cls, key_arn: str) -> NotFoundException:
        return cls(f"Key '{key_arn}' does not exist")

    @classmethod
    def alias(cls, alias_arn: str) -> NotFoundException:
        return cls(f"Alias {alias_arn} is not found.")


class DisabledException(TrentError):
    @classmethod
    def disabled(cls, key_arn: str) -> DisabledException:
        return cls(f"{key_arn} is disabled.")


class KMSInvalidStateException(TrentError):
    @classmethod
    def in_state(cls, key_arn: str, what: str) -> KMSInvalidStateException:
        """``what`` is AWS's phrase: 'pending deletion', 'pending import', 'not pending deletion'."""
        return cls(f"{key_arn} is {what}.")


class AlreadyExistsException(TrentError):
    @classmethod
    def alias(cls, alias_arn: str) -> AlreadyExistsException:
        return cls(f"An alias with the name {alias_arn} already exists")


class InvalidAliasNameException(TrentError):
    pass


class InvalidArnException(TrentError):
    pass


class InvalidCiphertextException(TrentError):
    """Any malformed, tampered or mismatched ciphertext. The message never says why."""


class IncorrectKeyException(TrentError):
    @classmethod
    def mismatch(cls) -> IncorrectKeyException:
        return cls("The key ID in the request does not identify a CMK that can perform this operation.")


class InvalidKeyUsageException(TrentError):
    @classmethod
    def usage(cls, key_arn: str, usage: str, operation: str) -> InvalidKeyUsageException:
        return cls(f"{key_arn} key usage is {usage} which is not valid for {operation}.")

    @classmethod
    def incompatible(cls, algorithm: str, key_spec: str) -> InvalidKeyUsageException:
        return cls(f"Algorithm {algorithm} is incompatible with key spec {key_spec}.")


class ConflictException(TrentError):
    pass


class ExpiredImportTokenException(TrentError):
    pass


class IncorrectKeyMaterialException(TrentError):
    pass


class InvalidImportTokenException(TrentError):
    pass


class KMSInvalidSignatureException(TrentError):
    """Verify of a signature that is not valid: AWS answers with an empty message."""


class KMSInvalidMacException(TrentError):
    """VerifyMac of a MAC that is not valid: AWS answers with an empty message."""


class InvalidMarkerException(TrentError):
    @classmethod
    def bad(cls) -> InvalidMarkerException:
        return cls("Invalid marker")


class InvalidGrantTokenException(TrentError):
    pass


class InvalidGrantIdException(TrentError):
    pass


class LimitExceededException(TrentError):
    pass


class TagException(TrentError):
    pass


class UnsupportedOperationException(TrentError):
    @classmethod
    def not_yet(cls, operation: str) -> UnsupportedOperationException:
        return cls(f"{operation} is not supported by this Trent server yet.")

    @classmethod
    def origin(cls, key_arn: str, origin: str) -> UnsupportedOperationException:
        return cls(f"{key_arn} origin is {origin} which is not valid for this operation.")

    @classmethod
    def not_primary(cls, key_arn: str) -> UnsupportedOperationException:
        return cls(f"{key_arn} is not a multi-region primary key.")


class MalformedPolicyDocumentException(TrentError):
    pass


class DryRunOperationException(TrentError):
    @classmethod
    def would_succeed(cls) -> DryRunOperationException:
        return cls("The request would have succeeded, but the DryRun option is set.")


class KMSInternalException(TrentError):
    @classmethod
    def internal(cls) -> KMSInternalException:
        return cls("An internal error occurred. Retry the request.")


class KeyUnavailableException(TrentError):
    pass


class DependencyTimeoutException(TrentError):
    pass


# ----------------------------------------------------------------- internal failures (translated)


class StorageError(KMSInternalException):
    code = "KMSInternalException"


class RootOfTrustError(KMSInternalException):
    code = "KMSInternalException"


class CustomKeyStoreNotFoundException(TrentError):
    pass


class NotAuthorizedException(TrentError):
    """Not in the model; what AWS front ends answer for the reserved alias/aws/ prefix."""


class AuditWriteError(KMSInternalException):
    """The audit record could not be made durable: the request fails closed."""

    code = "KMSInternalException"

    @classmethod
    def unrecorded(cls) -> AuditWriteError:
        return cls("The request could not be recorded in the audit trail. Retry the request.")


# ----------------------------------------------------------------- CloudTrail (LookupEvents)


class InvalidLookupAttributesException(TrentError):
    @classmethod
    def too_many(cls) -> InvalidLookupAttributesException:
        return cls("You cannot specify more than one lookup attribute.")


class InvalidTimeRangeException(TrentError):
    @classmethod
    def start_after_end(cls) -> InvalidTimeRangeException:
        return cls("Start time must be earlier than end time.")


class InvalidNextTokenException(TrentError):
    @classmethod
    def invalid(cls) -> InvalidNextTokenException:
        return cls("Invalid NextToken.")


class InvalidEventCategoryException(TrentError):
    pass


class InvalidMaxResultsException(TrentError):
    pass


class OperationNotPermittedException(TrentError):
    pass
