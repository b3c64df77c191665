"""Java regular expressions, as botocore's service models write them, evaluated by Python's ``re``.

Why this exists: the KMS model's ``pattern`` constraints are Java regexes, because AWS's front end
(Coral) checks them with ``java.util.regex`` and ``String.matches``. Most of them read the same in
Python, but a few constructs do not mean the same thing, and a naive ``re.fullmatch`` would then
accept or reject input AWS treats the other way (and so answer a different ``ValidationException``):

* ``\\w``, ``\\d`` and ``\\s`` are ASCII-only in Java, Unicode-aware in Python (hence ``re.ASCII``);
* Java's ``.`` stops at every line terminator (``\\r``, U+0085, U+2028, U+2029), Python's only at ``\\n``;
* Java writes supplementary characters as UTF-16 surrogate-pair escapes (``\\uD83D\\uDE00``), which
  Python needs as one code point;
* ``\\p{L}``-style Unicode general categories and ``\\z`` have no (or another) spelling in ``re``.

``java_regex`` rewrites just those, so that ``fullmatch`` agrees with Java's ``matches``; anything it
does not understand raises ``ValueError`` when the codec (``trent.api.codec``, its only user) compiles
the model, rather than silently matching differently.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

# Java's '.' stops at every one of these line terminators, Python's only at '\n'.
_JAVA_DOT: Final = "[^\\n\\r\\u0085\\u2028\\u2029]"
# Java writes supplementary characters as UTF-16 surrogate pairs; Python wants the code point.
_SURROGATE_PAIR: Final = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _join_surrogates(match: re.Match[str]) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


@functools.cache
def _category_runs() -> dict[str, list[tuple[int, int]]]:
    """Code point runs per Unicode general category; built once, only for models using \\p{..}."""
    runs: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category("\x00")
    for code in range(1, 0x110000):
        category = unicodedata.category(chr(code))
        if category != current:
            runs.setdefault(current, []).append((start, code - 1))
            start, current = code, category
    runs.setdefault(current, []).append((start, 0x10FFFF))
    return runs


@functools.cache
def _category_class(name: str) -> str:
    """The body of a character class matching Java's \\p{name} for a general category."""
    if not (1 <= len(name) <= 2 and name[0] in "CLMNPSZ"):
        raise ValueError(f"unsupported Unicode property in model pattern: {name!r}")
    parts: list[str] = []
    for category, runs in _category_runs().items():
        if category.startswith(name):
            parts.extend(f"\\U{low:08x}-\\U{high:08x}" for low, high in runs)
    return "".join(parts)


def java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern (Java syntax) so that ``fullmatch`` agrees with Java's ``matches``.

    Handled: ASCII-only \\w \\d \\s (re.ASCII), Java's '.', surrogate-pair escapes, \\p{Cat} and
    \\z. Anything else in the models is already valid Python with the same meaning.
    """
    source = _SURROGATE_PAIR.sub(_join_surrogates, pattern)
    dotall = source.startswith("(?s)")
    out: list[str] = []
    in_class = False
    i, end = 0, len(source)
    while i < end:
        char = source[i]
        if char == "\\" and i + 1 < end:
            escaped = source[i + 1]
            if escaped in "pP":
                if source.startswith("{", i + 2):
                    close = source.index("}", i + 2)
                    name, i = source[i + 3 : close], close + 1
                else:
                    name, i = source[i + 2 : i + 3], i + 3
                body = _category_class(name)
                if escaped == "P":
                    if in_class:
                        raise ValueError(f"negated property inside a class is not supported: {pattern!r}")
                    out.append(f"[^{body}]")
                else:
                    out.append(body if in_class else f"[{body}]")
                continue
            out.append("\\Z" if escaped == "z" else source[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "." and not dotall:
            out.append(_JAVA_DOT)
            i += 1
            continue
        out.append(char)
        i += 1
    return re.compile("".join(out), re.ASCII)
