"""Every operation and error shape in botocore's KMS model is accounted for, and the doc is current."""

from __future__ import annotations

from pathlib import Path

from trent.api import compat
from trent.api.handlers.kms import HANDLERS
from trent.api.model import load_model
from trent.domain import errors

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def test_every_operation_is_implemented_or_listed() -> None:
    model = load_model("kms")
    unaccounted = [op for op in model.operation_names if op not in HANDLERS and op not in compat.NOT_YET]
    assert unaccounted == []
    assert set(HANDLERS) <= set(model.operation_names)
    assert not set(HANDLERS) & set(compat.NOT_YET)


def test_every_modeled_error_is_raised_or_explained() -> None:
    unexplained = [name for name, why in compat.errors_not_raised().items() if why is None]
    assert unexplained == []
    stale = sorted(n for n in compat.ERRORS_NOT_YET if hasattr(errors, n))
    assert stale == [], "listed as not raised, but an error class exists"


def test_every_error_class_names_its_wire_code() -> None:
    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, errors.TrentError) and value.__module__ == errors.__name__:
            if value in (errors.StorageError, errors.RootOfTrustError, errors.AuditWriteError):
                assert value.code == "KMSInternalException"
            elif value is not errors.TrentError:
                assert value.code == name


def test_compatibility_doc_is_current() -> None:
    assert DOC.read_text() == compat.render(), "run `make docs` to regenerate docs/compatibility.md"
