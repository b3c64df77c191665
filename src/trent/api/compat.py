"""What Trent implements of the KMS model, rendered as docs/compatibility.md (`make docs`).

A unit test fails when the model gains an operation or error shape this file does not account
for, and when docs/compatibility.md is out of date.
"""

from __future__ import annotations

from trent.api.handlers.kms import HANDLERS
from trent.api.model import load_model
from trent.domain import errors

# Operations in the model that answer UnsupportedOperationException for now, and why.
NOT_YET: dict[str, str] = {
    "CreateCustomKeyStore": "custom key stores (CloudHSM, XKS) are out of scope",
    "ConnectCustomKeyStore": "custom key stores (CloudHSM, XKS) are out of scope",
    "DisconnectCustomKeyStore": "custom key stores (CloudHSM, XKS) are out of scope",
    "DeleteCustomKeyStore": "custom key stores (CloudHSM, XKS) are out of scope",
    "DescribeCustomKeyStores": "custom key stores (CloudHSM, XKS) are out of scope",
    "UpdateCustomKeyStore": "custom key stores (CloudHSM, XKS) are out of scope",
}

# What implemented operations cannot do, and why: AWS's answer for an unsupported algorithm instead.
GAPS: dict[str, str] = {
    "Sign/Verify with ED25519_PH_SHA_512": "the `cryptography` library has no Ed25519ph (pre-hashed "
    "Ed25519); DescribeKey lists the algorithm as AWS does, Sign and Verify answer "
    "`UnsupportedOperationException` (a hand-written Ed25519ph would be a hand-rolled primitive)",
    "KeySpec ML_KEM_512": "the `cryptography` library offers ML-KEM-768 and ML-KEM-1024 only; CreateKey answers "
    "`UnsupportedOperationException` for ML_KEM_512 (a hand-written ML-KEM-512 would be a hand-rolled primitive). "
    "ML_KEM_768 and ML_KEM_1024 support Encapsulate, Decapsulate and GetPublicKey",
    "KeySpec SM2, KeyPairSpec SM2, SM2PKE, SM2DSA": "AWS offers SM2 only in its China Regions; "
    "`UnsupportedOperationException`",
    "Recipient (Nitro Enclaves attestation)": "Decrypt, GenerateDataKey*, GenerateRandom, "
    "DeriveSharedSecret answer `UnsupportedOperationException` when it is given",
}

# Modeled error shapes Trent does not raise yet, and why.
ERRORS_NOT_YET: dict[str, str] = {}
# Errors only custom key stores raise: every modeled error with one of these prefixes.
_KEY_STORE_ERROR_PREFIXES = ("CloudHsmCluster", "CustomKeyStore", "IncorrectTrustAnchor", "Xks")


def errors_not_raised() -> dict[str, str | None]:
    """Modeled error shapes without a class in trent.domain.errors, with why (None: unexplained)."""
    model = load_model("kms")
    names = {name for op in model.operation_names for name in model.operation_error_names(op)}
    missing: dict[str, str | None] = {}
    for name in sorted(n for n in names if not hasattr(errors, n)):
        if name in ERRORS_NOT_YET:
            missing[name] = ERRORS_NOT_YET[name]
        elif name.startswith(_KEY_STORE_ERROR_PREFIXES):
            missing[name] = "custom key stores (CloudHSM, XKS) are out of scope"
        else:
            missing[name] = None
    return missing


def render() -> str:
    model = load_model("kms")
    lines = [
        "# Compatibility with the AWS KMS API",
        "",
        "Generated from the dispatch table by `make docs` (`python -m trent.api.compat`); a test keeps it current.",
        "Every operation in botocore's KMS model is listed. Operations not implemented yet validate their",
        "input against the model and then answer `UnsupportedOperationException` (HTTP 400), never a 500.",
        "",
        "| Operation | Status | Note |",
        "|---|---|---|",
    ]
    for name in sorted(model.operation_names):
        if name in HANDLERS:
            lines.append(f"| {name} | supported | |")
        else:
            lines.append(f"| {name} | not yet | {NOT_YET.get(name, 'not implemented yet')} |")
    lines += ["", "## Known gaps in implemented operations", "", "| What | Why |", "|---|---|"]
    lines += [f"| {what} | {why} |" for what, why in GAPS.items()]
    lines += ["", "## Modeled errors Trent does not raise yet", "", "| Error | Why |", "|---|---|"]
    lines += [f"| {name} | {why} |" for name, why in errors_not_raised().items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
