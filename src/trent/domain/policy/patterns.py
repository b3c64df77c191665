"""Wildcard patterns and policy variables, turned into regular expressions once at parse time.

Three pattern flavours exist in IAM policies:

* actions: ``*`` and ``?`` anywhere, case-insensitive, no variables;
* ARNs (Resource, ``Arn*`` operators): case-sensitive, and a wildcard stays inside its
  colon-separated segment except in the last one (the resource part, which may hold colons);
* strings (``StringLike``): case-sensitive, wildcards match anything.

Policy variables (``${aws:username}``, ``${key, 'default'}``, and ``${*}``, ``${?}``, ``${$}`` for
the literal characters) only exist in documents with Version 2012-10-17. A part holding a variable is
rendered per request; a variable naming an absent or multi-valued key raises ``Unresolved``, which
makes the whole statement inapplicable (AWS: the statement becomes invalid).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from trent.domain.policy.model import ConditionKeys

ARN_SEGMENTS = 6


class Unresolved(Exception):  # a control-flow signal inside evaluation, never reported
    """A policy variable names a key the request context does not carry (or carries several values of)."""


@dataclass(frozen=True, slots=True)
class Var:
    key: str  # lowercased condition key name
    default: str | None


@dataclass(frozen=True, slots=True)
class Const:
    """``${*}``, ``${?}`` or ``${$}``: the character itself, never a wildcard."""

    char: str


Part = str | Var | Const
Template = tuple[Part, ...]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")


def split_variables(text: str, *, variables: bool) -> Template:
    """Cut ``text`` into raw text and variables; without ``variables`` the text stays whole."""
    if not variables or "${" not in text:
        return (text,)
    parts: list[Part] = []
    pos = 0
    for match in _VARIABLE.finditer(text):
        body = match.group(1)
        item: Part
        if body in ("*", "?", "$"):
            item = Const(body)
        else:
            parsed = _VARIABLE_BODY.fullmatch(body)
            if parsed is None:
                continue  # not a variable after all: stays part of the raw text
            default = parsed.group(2)
            item = Var(parsed.group(1).lower(), None if default is None else default.replace("''", "'"))
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        parts.append(item)
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def is_static(template: Template) -> bool:
    return all(not isinstance(part, Var) for part in template)


def lookup(var: Var, keys: ConditionKeys) -> str:
    value = keys.get(var.key)
    if isinstance(value, str):
        return value
    # Absent, or multi-valued: AWS cannot substitute either.
    if var.default is not None:
        return var.default
    raise Unresolved(var.key)


def render_text(template: Template, keys: ConditionKeys) -> str:
    """The template as a plain string (for operators without wildcards)."""
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Const):
            out.append(part.char)
        else:
            out.append(lookup(part, keys))
    return "".join(out)


def _final_segment(template: Template) -> int:
    # A pattern with fewer than six segments treats its last one as the resource part.
    colons = sum(part.count(":") for part in template if isinstance(part, str))
    return min(ARN_SEGMENTS - 1, colons)


def glob_regex(template: Template, keys: ConditionKeys | None, *, arn: bool) -> str:
    """Regular expression source for a wildcard template; ``keys`` None only for static templates."""
    final = _final_segment(template) if arn else 0
    segment = 0
    out: list[str] = []

    def literal(text: str) -> None:
        nonlocal segment
        out.append(re.escape(text))
        segment += text.count(":")

    for part in template:
        if isinstance(part, Const):
            literal(part.char)
        elif isinstance(part, Var):
            if keys is None:
                raise Unresolved(part.key)
            literal(lookup(part, keys))
        else:
            for char in part:
                if char == "*":
                    out.append("[^:]*" if arn and segment < final else ".*")
                elif char == "?":
                    out.append("[^:]" if arn and segment < final else ".")
                else:
                    literal(char)
    return "".join(out)


class PatternSet:
    """Any-of a list of wildcard templates; the static ones share one compiled expression."""

    __slots__ = ("_arn", "_dynamic", "_flags", "_static", "matches_all")

    def __init__(self, templates: Iterable[Template], *, arn: bool, ignore_case: bool = False) -> None:
        self._arn = arn
        self._flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        static: list[str] = []
        dynamic: list[Template] = []
        self.matches_all = False
        for template in templates:
            if template == ("*",):
                self.matches_all = True
            if is_static(template):
                static.append(glob_regex(template, None, arn=arn))
            else:
                dynamic.append(template)
        self._static = re.compile("|".join(f"(?:{s})" for s in static), self._flags) if static else None
        self._dynamic = tuple(dynamic)

    def match(self, value: str, keys: ConditionKeys) -> bool:
        if self.matches_all:
            return True
        if self._static is not None and self._static.fullmatch(value) is not None:
            return True
        for template in self._dynamic:
            # re.compile keeps its own cache, so a repeated substitution is not recompiled.
            if re.fullmatch(glob_regex(template, keys, arn=self._arn), value, self._flags) is not None:
                return True
        return False


class ActionSet:
    """Any-of a list of action patterns, matched against an already lowercased action name."""

    __slots__ = ("_exact", "_prefixes", "_regex", "matches_all")

    def __init__(self, patterns: Iterable[str]) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        rest: list[str] = []
        self.matches_all = False
        for pattern in (p.lower() for p in patterns):
            if pattern == "*":
                self.matches_all = True
            elif "*" not in pattern and "?" not in pattern:
                exact.add(pattern)
            elif pattern.endswith("*") and "*" not in pattern[:-1] and "?" not in pattern:
                prefixes.append(pattern[:-1])  # "kms:Describe*", the common shape: a prefix test
            else:
                rest.append(glob_regex((pattern,), None, arn=False))
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)
        self._regex = re.compile("|".join(f"(?:{r})" for r in rest), re.DOTALL) if rest else None

    def match(self, action: str) -> bool:
        return (
            self.matches_all
            or action in self._exact
            or (bool(self._prefixes) and action.startswith(self._prefixes))
            or (self._regex is not None and self._regex.fullmatch(action) is not None)
        )
