"""Condition blocks: operators bound to matching functions once, evaluated per request.

Semantics (IAM's):

* a block is the AND of its operators, an operator the AND of its keys, a key the OR of its values;
* operator names and key names are case-insensitive;
* a key absent from the request: positive operators are false, negated ones true, ``...IfExists``
  true, and ``Null`` tests exactly that absence;
* ``ForAnyValue:`` is true when some request value satisfies the operator (false on an absent or
  empty set); ``ForAllValues:`` when every request value does (vacuously true on an empty set).

Negated operators (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike``, ...) are the negation of
their positive twin over all policy values (AWS: the values are NOR-ed). Without a set qualifier a
multi-valued request key satisfies a positive operator if any of its values matches, and a negated
operator only if none does; so ``StringNotEquals`` is exactly ``not StringEquals``. With a qualifier,
the negation applies per request value: ``ForAllValues:StringNotEquals`` means no request value is
among the policy values.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from trent.domain.errors import MalformedPolicyDocumentException
from trent.domain.policy.model import ConditionKeys
from trent.domain.policy.patterns import PatternSet, Template, is_static, render_text, split_variables

# One request value against all of an operator's policy values (OR). May raise Unresolved.
Matcher = Callable[[str, ConditionKeys], bool]
Builder = Callable[[list[str], bool], Matcher]

ANY_VALUE = 1
ALL_VALUES = 2

# Keys that carry one value per request: ForAllValues on them is vacuously true on any request
# that lacks the key, which KMS refuses as overly permissive.
_SINGLE_VALUED_PREFIXES = ("kms:encryptioncontext:", "aws:requesttag/")


def _malformed(message: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(message)


def request_values(raw: str | Sequence[str] | None) -> Sequence[str]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    return raw


# ----------------------------------------------------------------- the tests of one key


@dataclass(frozen=True, slots=True)
class KeyTest:
    """One operator applied to one key."""

    key: str
    matcher: Matcher
    negated: bool
    qualifier: int  # 0, ANY_VALUE or ALL_VALUES
    if_exists: bool

    def holds(self, keys: ConditionKeys) -> bool:
        values = request_values(keys.get(self.key))
        if not values:
            if self.if_exists or self.qualifier == ALL_VALUES:
                return True
            if self.qualifier == ANY_VALUE:
                return False
            return self.negated
        match = self.matcher
        if self.qualifier == 0:
            # Most keys are single-valued: skip the generator, a sizeable share of the cost.
            found = match(values[0], keys) if len(values) == 1 else any(match(value, keys) for value in values)
            return not found if self.negated else found
        if self.qualifier == ANY_VALUE:
            return any(match(value, keys) != self.negated for value in values)
        return all(match(value, keys) != self.negated for value in values)


@dataclass(frozen=True, slots=True)
class NullTest:
    key: str
    absent: frozenset[bool]  # the policy's values: True = "the key must be absent"

    def holds(self, keys: ConditionKeys) -> bool:
        return (not request_values(keys.get(self.key))) in self.absent


Test = KeyTest | NullTest


# ----------------------------------------------------------------- value parsers


def parse_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


def parse_time(text: str) -> float | None:
    """Epoch seconds of an ISO-8601 time or an epoch number; None when neither.

    All-digit text is epoch seconds (aws:EpochTime), so the basic ISO form 20200101 is not a date.
    A time without a zone is UTC.
    """
    text = text.strip()
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@functools.lru_cache(maxsize=4096)  # a client sends many requests from one address; parsing costs ~1 us
def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:a.b.c.d is the IPv4 caller a.b.c.d
    return address


def _decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# ----------------------------------------------------------------- operator families


def _templates(values: list[str], variables: bool) -> list[Template]:
    return [split_variables(value, variables=variables) for value in values]


def _string_equals(ignore_case: bool) -> Builder:
    fold: Callable[[str], str] = str.lower if ignore_case else str

    def build(values: list[str], variables: bool) -> Matcher:
        templates = _templates(values, variables)
        static = frozenset(fold(render_text(t, {})) for t in templates if is_static(t))
        dynamic = tuple(t for t in templates if not is_static(t))
        if not dynamic:
            return lambda value, keys: fold(value) in static

        def match(value: str, keys: ConditionKeys) -> bool:
            folded = fold(value)
            return folded in static or any(folded == fold(render_text(t, keys)) for t in dynamic)

        return match

    return build


def _string_like(values: list[str], variables: bool) -> Matcher:
    patterns = PatternSet(_templates(values, variables), arn=False)
    return patterns.match


def _arn_like(values: list[str], variables: bool) -> Matcher:
    # ArnEquals and ArnLike are the same operator in IAM: both take wildcards per ARN segment.
    patterns = PatternSet(_templates(values, variables), arn=True)

    def match(value: str, keys: ConditionKeys) -> bool:
        return value.count(":") >= 5 and patterns.match(value, keys)

    return match


def _numeric(compare: Callable[[Any, Any], bool]) -> Builder:
    def build(values: list[str], variables: bool) -> Matcher:
        numbers: list[Decimal] = []
        for value in values:
            number = parse_number(value)
            if number is None:
                raise _malformed(f"Condition value {value!r} is not a number.")
            numbers.append(number)
        bound = tuple(numbers)

        def match(value: str, keys: ConditionKeys) -> bool:
            number = parse_number(value)
            return number is not None and any(compare(number, limit) for limit in bound)

        return match

    return build


def _date(compare: Callable[[Any, Any], bool]) -> Builder:
    def build(values: list[str], variables: bool) -> Matcher:
        times: list[float] = []
        for value in values:
            moment = parse_time(value)
            if moment is None:
                raise _malformed(f"Condition value {value!r} is not an ISO-8601 date or epoch time.")
            times.append(moment)
        bound = tuple(times)

        def match(value: str, keys: ConditionKeys) -> bool:
            moment = parse_time(value)
            return moment is not None and any(compare(moment, limit) for limit in bound)

        return match

    return build


def _bool(values: list[str], variables: bool) -> Matcher:
    wanted = frozenset(value.lower() for value in values)
    if not wanted <= {"true", "false"}:
        raise _malformed("Bool condition values must be true or false.")
    return lambda value, keys: value.lower() in wanted


def _binary(values: list[str], variables: bool) -> Matcher:
    blobs: set[bytes] = set()
    for value in values:
        blob = _decode_base64(value)
        if blob is None:
            raise _malformed(f"BinaryEquals value {value!r} is not base64.")
        blobs.add(blob)
    frozen = frozenset(blobs)

    def match(value: str, keys: ConditionKeys) -> bool:
        blob = _decode_base64(value)
        return blob is not None and blob in frozen

    return match


def _ip_address(values: list[str], variables: bool) -> Matcher:
    # Networks as (version, first address, netmask) integers: one AND and compare per test.
    networks: list[tuple[int, int, int]] = []
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise _malformed(f"IP address condition value {value!r} is not an address or CIDR block.") from None
        networks.append((network.version, int(network.network_address), int(network.netmask)))
    bound = tuple(networks)

    def match(value: str, keys: ConditionKeys) -> bool:
        address = _parse_address(value)
        if address is None:
            return False
        version, number = address.version, int(address)
        return any(v == version and number & mask == first for v, first, mask in bound)

    return match


# Operator name (lowercase, without qualifier or IfExists) -> (builder, negated).
_OPERATORS: Mapping[str, tuple[Builder, bool]] = {
    "stringequals": (_string_equals(ignore_case=False), False),
    "stringnotequals": (_string_equals(ignore_case=False), True),
    "stringequalsignorecase": (_string_equals(ignore_case=True), False),
    "stringnotequalsignorecase": (_string_equals(ignore_case=True), True),
    "stringlike": (_string_like, False),
    "stringnotlike": (_string_like, True),
    "numericequals": (_numeric(operator.eq), False),
    "numericnotequals": (_numeric(operator.eq), True),
    "numericlessthan": (_numeric(operator.lt), False),
    "numericlessthanequals": (_numeric(operator.le), False),
    "numericgreaterthan": (_numeric(operator.gt), False),
    "numericgreaterthanequals": (_numeric(operator.ge), False),
    "dateequals": (_date(operator.eq), False),
    "datenotequals": (_date(operator.eq), True),
    "datelessthan": (_date(operator.lt), False),
    "datelessthanequals": (_date(operator.le), False),
    "dategreaterthan": (_date(operator.gt), False),
    "dategreaterthanequals": (_date(operator.ge), False),
    "bool": (_bool, False),
    "binaryequals": (_binary, False),
    "ipaddress": (_ip_address, False),
    "notipaddress": (_ip_address, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
}

# Operators whose values may hold policy variables (IAM: string and ARN comparisons).
_VARIABLE_OPERATORS = frozenset(name for name in _OPERATORS if name.startswith(("string", "arn")))


# ----------------------------------------------------------------- parsing a Condition element


def _scalar(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


def _values(operator_name: str, key: str, raw: object) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    values = [_scalar(item) for item in items]
    if not items or any(value is None for value in values):
        raise _malformed(f"Condition {operator_name} on {key} must have a string, number or boolean value or a list.")
    return [value for value in values if value is not None]


def _split_operator(name: str) -> tuple[str, int, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> ("stringlike", ANY_VALUE, True)."""
    lowered = name.lower()
    qualifier = 0
    if lowered.startswith("foranyvalue:"):
        qualifier, lowered = ANY_VALUE, lowered[len("foranyvalue:") :]
    elif lowered.startswith("forallvalues:"):
        qualifier, lowered = ALL_VALUES, lowered[len("forallvalues:") :]
    if_exists = lowered.endswith("ifexists")
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    return lowered, qualifier, if_exists


def parse_condition(block: object, *, variables: bool, kind: str) -> tuple[Test, ...]:
    """The tests of a statement's Condition element, all of which must hold."""
    if not isinstance(block, dict):
        raise _malformed("The Condition element must be an object.")
    tests: list[Test] = []
    for operator_name, keys in block.items():
        base, qualifier, if_exists = _split_operator(operator_name)
        builder: Builder | None = None  # None: the Null operator
        negated = False
        if base == "null" and not qualifier and not if_exists:
            pass
        elif base in _OPERATORS:
            builder, negated = _OPERATORS[base]
        else:
            raise _malformed(f"Policy contains an unknown condition operator: {operator_name}.")
        if not isinstance(keys, dict):
            raise _malformed(f"Condition operator {operator_name} must map condition keys to values.")
        for key_name, raw in keys.items():
            key = key_name.lower()
            if ":" not in key:
                raise _malformed(f"Condition key {key_name} must be prefixed by its service, as in aws: or kms:.")
            values = _values(operator_name, key_name, raw)
            if builder is None:
                if any(value.lower() not in ("true", "false") for value in values):
                    raise _malformed(f"Null condition on {key_name} must be true or false.")
                tests.append(NullTest(key, frozenset(value.lower() == "true" for value in values)))
                continue
            if qualifier == ALL_VALUES and kind == "key" and key.startswith(_SINGLE_VALUED_PREFIXES):
                raise _malformed(
                    "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a "
                    f"single-valued condition key ({key_name}) would also allow requests without that key; "
                    "use ForAllValues only with multivalued keys such as kms:EncryptionContextKeys."
                )
            matcher = builder(values, variables and base in _VARIABLE_OPERATORS)
            tests.append(KeyTest(key, matcher, negated, qualifier, if_exists))
    return tuple(tests)
