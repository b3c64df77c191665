"""Java-syntax model patterns compiled so that Python's ``fullmatch`` agrees with Java's ``matches``."""

from __future__ import annotations

import pytest

from trent.api.java_regex import java_regex


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("[\\w]+", "abc_1", True),
        ("[\\w]+", "é", False),  # Java's \w is ASCII
        ("^[a-zA-Z0-9:/_-]+$", "alias/a\n", False),  # '$' must not let a trailing newline through
        ("[\\u0020-\\u00FF]*", "", True),
        ("[\\u0020-\\u00FF]*", "\u0100", False),
        (".+", "a\u2028", False),  # Java's '.' stops at every line terminator
        ("(?s).+", "a\u2028", True),
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "a\U0001f600\t", True),
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "\x01", False),
        ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", "Ünïcode 12 \u00a0", True),
        ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", "a#b", False),
        ("\\p{Lu}+", "ÀB", True),
        ("\\p{Lu}+", "àb", False),
        ("^([a-z]+-){2,3}\\d+$", "us-east-1", True),
        ("^([a-z]+-){2,3}\\d+$", "us-east-\u0661", False),  # Java's \d is ASCII
    ],
)
def test_java_patterns(pattern: str, value: str, matches: bool) -> None:
    assert (java_regex(pattern).fullmatch(value) is not None) is matches


def test_unsupported_java_property_fails_loudly() -> None:
    with pytest.raises(ValueError, match="Alpha"):
        java_regex("\\p{Alpha}+")
