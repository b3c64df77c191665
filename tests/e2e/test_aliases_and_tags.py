"""Aliases and tags through a real server (spec/kms-api.md 2.1, 4.2, 4.3, 7.5).

CreateAlias / UpdateAlias / DeleteAlias / ListAliases, TagResource / UntagResource /
ListResourceTags: exact AWS shapes and messages, pagination, Regions as separate name spaces.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, REGION, TrentServer
from tests.e2e.helpers import aws_error, body, new_key

pytestmark = pytest.mark.e2e

OTHER_REGION = "eu-west-1"
ALIAS_PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". '
    "Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)
ALIAS_ENTRY_MEMBERS = {"AliasName", "AliasArn", "TargetKeyId", "CreationDate", "LastUpdatedDate"}


# ===================================================================== helpers


def unique_alias(label: str = "a") -> str:
    return f"alias/{label}-{uuid.uuid4().hex}"


def key_arn(key_id: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"


def alias_arn(alias_name: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:{alias_name}"


def aliases_of(kms: Any, key_ref: str) -> list[dict[str, Any]]:
    return list(kms.get_paginator("list_aliases").paginate(KeyId=key_ref).build_full_result()["Aliases"])


def all_aliases(kms: Any) -> dict[str, dict[str, Any]]:
    entries = kms.get_paginator("list_aliases").paginate().build_full_result()["Aliases"]
    return {entry["AliasName"]: entry for entry in entries}


def tags_of(kms: Any, key_ref: str) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_ref)["Tags"]}


# ===================================================================== CreateAlias / ListAliases


def test_create_alias_and_its_list_entry(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    name = unique_alias("entry")
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    response = body(kms.list_aliases(KeyId=key_id))
    assert response["Truncated"] is False
    assert set(response) == {"Aliases", "Truncated"}
    [entry] = response["Aliases"]
    assert set(entry) == ALIAS_ENTRY_MEMBERS
    assert entry["AliasName"] == name
    assert entry["AliasArn"] == alias_arn(name)
    assert entry["TargetKeyId"] == key_id  # the key id, not its ARN
    assert isinstance(entry["CreationDate"], datetime)
    assert entry["LastUpdatedDate"] == entry["CreationDate"]
    # The unfiltered listing has the same entry.
    assert all_aliases(kms)[name] == entry


def test_create_alias_by_key_arn_and_use_it_everywhere(kms: Any) -> None:
    metadata = new_key(kms)
    name = unique_alias("arn-target")
    kms.create_alias(AliasName=name, TargetKeyId=metadata["Arn"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"] == metadata
    assert kms.describe_key(KeyId=alias_arn(name))["KeyMetadata"] == metadata
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == metadata["Arn"]


def test_several_aliases_for_one_key(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    names = sorted(unique_alias("many") for _ in range(3))
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert sorted(a["AliasName"] for a in aliases_of(kms, key_id)) == names
    assert sorted(a["AliasName"] for a in aliases_of(kms, key_arn(key_id))) == names
    for name in names:
        assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id


def test_create_alias_twice_is_already_exists(kms: Any) -> None:
    first, second = new_key(kms)["KeyId"], new_key(kms)["KeyId"]
    name = unique_alias("dup")
    kms.create_alias(AliasName=name, TargetKeyId=first)
    for target in (first, second):
        with aws_error(kms, "AlreadyExistsException", f"An alias with the name {alias_arn(name)} already exists"):
            kms.create_alias(AliasName=name, TargetKeyId=target)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == first


@pytest.mark.parametrize("name", ["orders", "aliases/orders", "Alias/orders", "arn:aws:kms:us-east-1:x"])
def test_alias_name_without_prefix(kms: Any, name: str) -> None:
    key_id = new_key(kms)["KeyId"]
    with aws_error(kms, "ValidationException", ALIAS_PREFIX_MESSAGE):
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert aliases_of(kms, key_id) == []


@pytest.mark.parametrize("name", ["alias/aws/s3", "alias/aws/my-service"])
def test_alias_aws_prefix_is_reserved(kms: Any, name: str) -> None:
    key_id = new_key(kms)["KeyId"]
    # Not a modeled error; AWS front ends answer NotAuthorizedException (spec 1.5).
    with aws_error(kms, "NotAuthorizedException"):
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    with aws_error(kms, "NotAuthorizedException"):
        kms.update_alias(AliasName=name, TargetKeyId=key_id)
    with aws_error(kms, "NotAuthorizedException"):
        kms.delete_alias(AliasName=name)
    assert aliases_of(kms, key_id) == []


@pytest.mark.parametrize("name", ["alias/with:colon", "alias/"])
def test_alias_name_with_invalid_characters(kms: Any, name: str) -> None:
    key_id = new_key(kms)["KeyId"]
    with aws_error(kms, "ValidationException"):
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert aliases_of(kms, key_id) == []


def test_alias_name_longer_than_256(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    longest = "alias/" + "n" * 250
    kms.create_alias(AliasName=longest, TargetKeyId=key_id)
    too_long = "alias/" + "n" * 251
    with aws_error(
        kms,
        "ValidationException",
        f"1 validation error detected: Value '{too_long}' at 'aliasName' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
    ):
        kms.create_alias(AliasName=too_long, TargetKeyId=key_id)
    assert [a["AliasName"] for a in aliases_of(kms, key_id)] == [longest]


def test_alias_to_an_unknown_key(kms: Any) -> None:
    missing = str(uuid.uuid4())
    with aws_error(kms, "NotFoundException", f"Key '{key_arn(missing)}' does not exist"):
        kms.create_alias(AliasName=unique_alias("nokey"), TargetKeyId=missing)
    with aws_error(kms, "NotFoundException", "Invalid keyId 'not-a-key'"):
        kms.create_alias(AliasName=unique_alias("nokey"), TargetKeyId="not-a-key")


@pytest.mark.parametrize("target_form", ["alias name", "alias ARN"])
def test_alias_cannot_target_an_alias(kms: Any, target_form: str) -> None:
    key_id = new_key(kms)["KeyId"]
    existing = unique_alias("base")
    kms.create_alias(AliasName=existing, TargetKeyId=key_id)
    target = existing if target_form == "alias name" else alias_arn(existing)
    with aws_error(kms, "ValidationException", "Aliases must refer to keys. Not aliases"):
        kms.create_alias(AliasName=unique_alias("chain"), TargetKeyId=target)
    assert [a["AliasName"] for a in aliases_of(kms, key_id)] == [existing]


def test_alias_to_a_key_pending_deletion(kms: Any) -> None:
    metadata = new_key(kms)
    kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    with aws_error(kms, "KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
        kms.create_alias(AliasName=unique_alias("pd"), TargetKeyId=metadata["KeyId"])
    assert aliases_of(kms, metadata["KeyId"]) == []


def test_alias_to_a_disabled_key_is_fine(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    kms.disable_key(KeyId=key_id)
    name = unique_alias("disabled")
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyState"] == "Disabled"


def test_fifty_aliases_per_key(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    for _ in range(50):
        kms.create_alias(AliasName=unique_alias("quota"), TargetKeyId=key_id)
    with aws_error(kms, "LimitExceededException"):
        kms.create_alias(AliasName=unique_alias("quota"), TargetKeyId=key_id)
    assert len(aliases_of(kms, key_id)) == 50


# ===================================================================== UpdateAlias


def test_update_alias_moves_it_to_another_key(kms: Any) -> None:
    first, second = new_key(kms), new_key(kms)
    name = unique_alias("move")
    kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    [created] = aliases_of(kms, first["KeyId"])
    blob = kms.encrypt(KeyId=name, Plaintext=b"before the move")["CiphertextBlob"]

    assert body(kms.update_alias(AliasName=name, TargetKeyId=second["Arn"])) == {}
    assert aliases_of(kms, first["KeyId"]) == []
    [moved] = aliases_of(kms, second["KeyId"])
    assert moved["TargetKeyId"] == second["KeyId"]
    assert moved["AliasArn"] == created["AliasArn"]
    assert moved["CreationDate"] == created["CreationDate"]
    assert moved["LastUpdatedDate"] >= created["LastUpdatedDate"]
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == second["KeyId"]
    assert kms.encrypt(KeyId=name, Plaintext=b"after")["KeyId"] == second["Arn"]
    # The old ciphertext still belongs to the first key, whatever the alias says now.
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == first["Arn"]
    with aws_error(
        kms,
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
    ):
        kms.decrypt(CiphertextBlob=blob, KeyId=name)


def test_update_alias_of_a_missing_alias(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    name = unique_alias("missing")
    with aws_error(kms, "NotFoundException", f"Alias {alias_arn(name)} is not found."):
        kms.update_alias(AliasName=name, TargetKeyId=key_id)
    with aws_error(kms, "ValidationException", ALIAS_PREFIX_MESSAGE):
        kms.update_alias(AliasName="no-prefix", TargetKeyId=key_id)


def test_update_alias_to_a_key_pending_deletion(kms: Any) -> None:
    current, doomed = new_key(kms), new_key(kms)
    name = unique_alias("upd-pd")
    kms.create_alias(AliasName=name, TargetKeyId=current["KeyId"])
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    with aws_error(kms, "KMSInvalidStateException", f"{doomed['Arn']} is pending deletion."):
        kms.update_alias(AliasName=name, TargetKeyId=doomed["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == current["KeyId"]


def test_update_alias_away_from_a_key_pending_deletion(kms: Any) -> None:
    doomed, rescue = new_key(kms), new_key(kms)
    name = unique_alias("rescue")
    kms.create_alias(AliasName=name, TargetKeyId=doomed["KeyId"])
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    kms.update_alias(AliasName=name, TargetKeyId=rescue["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == rescue["KeyId"]


def test_update_alias_target_must_be_a_key(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    name, other = unique_alias("t1"), unique_alias("t2")
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    kms.create_alias(AliasName=other, TargetKeyId=new_key(kms)["KeyId"])
    with aws_error(kms, "ValidationException", "Aliases must refer to keys. Not aliases"):
        kms.update_alias(AliasName=name, TargetKeyId=other)
    with aws_error(kms, "ValidationException", "Aliases must refer to keys. Not aliases"):
        kms.update_alias(AliasName=name, TargetKeyId=alias_arn(other))
    missing = str(uuid.uuid4())
    with aws_error(kms, "NotFoundException", f"Key '{key_arn(missing)}' does not exist"):
        kms.update_alias(AliasName=name, TargetKeyId=missing)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id


# ===================================================================== DeleteAlias


def test_delete_alias(kms: Any) -> None:
    metadata = new_key(kms)
    name = unique_alias("del")
    kms.create_alias(AliasName=name, TargetKeyId=metadata["KeyId"])
    assert body(kms.delete_alias(AliasName=name)) == {}
    assert aliases_of(kms, metadata["KeyId"]) == []
    assert name not in all_aliases(kms)
    with aws_error(kms, "NotFoundException", f"Alias {alias_arn(name)} is not found."):
        kms.describe_key(KeyId=name)
    with aws_error(kms, "NotFoundException", f"Alias {alias_arn(name)} is not found."):
        kms.encrypt(KeyId=name, Plaintext=b"x")
    # The key itself is untouched and the name can be reused.
    assert kms.describe_key(KeyId=metadata["KeyId"])["KeyMetadata"] == metadata
    kms.create_alias(AliasName=name, TargetKeyId=metadata["KeyId"])


def test_delete_a_missing_alias(kms: Any) -> None:
    name = unique_alias("never")
    with aws_error(kms, "NotFoundException", f"Alias {alias_arn(name)} is not found."):
        kms.delete_alias(AliasName=name)
    with aws_error(kms, "ValidationException", ALIAS_PREFIX_MESSAGE):
        kms.delete_alias(AliasName="never")


def test_delete_alias_of_a_key_in_any_state(kms: Any) -> None:
    disabled, pending = new_key(kms)["KeyId"], new_key(kms)["KeyId"]
    names = {disabled: unique_alias("del-dis"), pending: unique_alias("del-pd")}
    for key_id, name in names.items():
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    kms.disable_key(KeyId=disabled)
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    for key_id, name in names.items():
        kms.delete_alias(AliasName=name)
        assert aliases_of(kms, key_id) == []


# ===================================================================== ListAliases filter and pagination


def test_list_aliases_key_filter_errors(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    name = unique_alias("filter")
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    missing = str(uuid.uuid4())
    with aws_error(kms, "NotFoundException", f"Key '{key_arn(missing)}' does not exist"):
        kms.list_aliases(KeyId=missing)
    with aws_error(kms, "NotFoundException", "Invalid keyId 'nonsense'"):
        kms.list_aliases(KeyId="nonsense")
    with aws_error(kms, "NotFoundException") as caught:
        kms.list_aliases(KeyId=name)
    assert name in caught.message
    with aws_error(kms, "NotFoundException", f"Invalid arn {OTHER_REGION}"):
        kms.list_aliases(KeyId=key_arn(key_id, OTHER_REGION))


def test_list_aliases_of_a_key_without_aliases(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    assert body(kms.list_aliases(KeyId=key_id)) == {"Aliases": [], "Truncated": False}


def test_list_aliases_pages_by_limit_and_marker(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    names = {unique_alias("page") for _ in range(7)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)

    seen: list[str] = []
    marker: str | None = None
    sizes: list[int] = []
    while True:
        kwargs: dict[str, Any] = {"KeyId": key_id, "Limit": 2}
        if marker is not None:
            kwargs["Marker"] = marker
        page = body(kms.list_aliases(**kwargs))
        sizes.append(len(page["Aliases"]))
        seen.extend(a["AliasName"] for a in page["Aliases"])
        if not page["Truncated"]:
            assert set(page) == {"Aliases", "Truncated"}
            break
        assert set(page) == {"Aliases", "Truncated", "NextMarker"}
        marker = page["NextMarker"]
        assert len(sizes) < 20
    assert sizes == [2, 2, 2, 1]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == names


def test_list_aliases_exact_page_boundary(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    for _ in range(4):
        kms.create_alias(AliasName=unique_alias("exact"), TargetKeyId=key_id)
    first = kms.list_aliases(KeyId=key_id, Limit=2)
    assert first["Truncated"] is True
    second = body(kms.list_aliases(KeyId=key_id, Limit=2, Marker=first["NextMarker"]))
    assert len(second["Aliases"]) == 2
    if second["Truncated"]:  # AWS may end with an empty page; it must then say so
        third = body(kms.list_aliases(KeyId=key_id, Limit=2, Marker=second["NextMarker"]))
        assert third == {"Aliases": [], "Truncated": False}


def test_list_aliases_paginators(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    names = {unique_alias("pgn") for _ in range(5)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    pages = list(kms.get_paginator("list_aliases").paginate(KeyId=key_id, PaginationConfig={"PageSize": 2}))
    assert [len(p["Aliases"]) for p in pages] == [2, 2, 1]
    assert {a["AliasName"] for p in pages for a in p["Aliases"]} == names
    assert [p["Truncated"] for p in pages] == [True, True, False]

    # Unfiltered: every alias of this account and Region exactly once, whatever the page size.
    def walk(page_size: int) -> list[str]:
        paginator = kms.get_paginator("list_aliases")
        return [
            a["AliasName"] for p in paginator.paginate(PaginationConfig={"PageSize": page_size}) for a in p["Aliases"]
        ]

    walked = walk(3)
    assert len(walked) == len(set(walked))
    assert names <= set(walked)
    assert walk(100) == walk(7) == walked


def test_list_aliases_default_limit_is_50(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    keys = [new_key(kms)["KeyId"] for _ in range(2)]
    names = {unique_alias("dflt") for _ in range(51)}
    for n, name in enumerate(sorted(names)):
        kms.create_alias(AliasName=name, TargetKeyId=keys[n % 2])
    first = body(kms.list_aliases())
    assert len(first["Aliases"]) == 50
    assert first["Truncated"] is True
    second = body(kms.list_aliases(Marker=first["NextMarker"]))
    assert second["Truncated"] is False
    listed = [a["AliasName"] for a in first["Aliases"] + second["Aliases"]]
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed))
    # Ours, and AWS's predefined alias/aws/* names (without a target until their first use).
    assert {n for n in listed if not n.startswith("alias/aws/")} == names
    predefined = [a for a in first["Aliases"] + second["Aliases"] if a["AliasName"].startswith("alias/aws/")]
    assert {"alias/aws/ebs", "alias/aws/s3", "alias/aws/lambda"} <= {a["AliasName"] for a in predefined}
    assert all(set(a) == {"AliasName", "AliasArn"} for a in predefined)


def test_list_aliases_pages_through_predefined_and_own_aliases_alike(fresh_server: TrentServer) -> None:
    kms = fresh_server.client()
    key_id = new_key(kms)["KeyId"]
    own = {"alias/a-first", "alias/aws-not-reserved", "alias/b", "alias/zzz"}
    for name in own:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    kms.describe_key(KeyId="alias/aws/s3")  # its first use: now a stored alias with a target
    pages = list(kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 3}))
    listed = [a for page in pages for a in page["Aliases"]]
    names = [a["AliasName"] for a in listed]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    assert own <= set(names)
    assert all(len(page["Aliases"]) == 3 for page in pages[:-1])
    s3 = next(a for a in listed if a["AliasName"] == "alias/aws/s3")
    assert "TargetKeyId" in s3
    assert "CreationDate" in s3
    # With a KeyId, only the aliases of that key.
    assert {a["AliasName"] for a in aliases_of(kms, key_id)} == own


@pytest.mark.parametrize("marker", ["garbage", "%%%%", "TGlzdEtleXMAeA=="])
def test_list_aliases_rejects_a_garbage_marker(kms: Any, marker: str) -> None:
    with aws_error(kms, "InvalidMarkerException"):
        kms.list_aliases(Marker=marker)


def test_list_aliases_rejects_a_list_keys_marker(kms: Any) -> None:
    for _ in range(2):
        new_key(kms)
    list_keys_marker = kms.list_keys(Limit=1)["NextMarker"]
    with aws_error(kms, "InvalidMarkerException"):
        kms.list_aliases(Marker=list_keys_marker)


def test_list_aliases_limit_bounds(kms: Any) -> None:
    kms.list_aliases(Limit=100)
    with aws_error(kms, "ValidationException") as caught:
        kms.list_aliases(Limit=101)
    assert "'limit'" in caught.message


# ===================================================================== Regions


def test_aliases_are_per_region(server: TrentServer, kms: Any) -> None:
    europe = server.client(region=OTHER_REGION)
    us_key, eu_key = new_key(kms)["KeyId"], new_key(europe)["KeyId"]
    name = unique_alias("regional")
    kms.create_alias(AliasName=name, TargetKeyId=us_key)
    assert name not in all_aliases(europe)
    with aws_error(europe, "NotFoundException", f"Alias {alias_arn(name, OTHER_REGION)} is not found."):
        europe.describe_key(KeyId=name)
    with aws_error(europe, "NotFoundException", f"Invalid arn {REGION}"):
        europe.describe_key(KeyId=alias_arn(name))
    with aws_error(europe, "NotFoundException", f"Alias {alias_arn(name, OTHER_REGION)} is not found."):
        europe.delete_alias(AliasName=name)
    # A key of another Region cannot be a target.
    with aws_error(europe, "NotFoundException", f"Key '{key_arn(us_key, OTHER_REGION)}' does not exist"):
        europe.create_alias(AliasName=unique_alias("cross"), TargetKeyId=us_key)

    # The same name is free in the other Region and points to that Region's key.
    europe.create_alias(AliasName=name, TargetKeyId=eu_key)
    eu_entry = all_aliases(europe)[name]
    assert eu_entry["AliasArn"] == alias_arn(name, OTHER_REGION)
    assert eu_entry["TargetKeyId"] == eu_key
    assert europe.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == eu_key
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == us_key
    europe.delete_alias(AliasName=name)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == us_key


# ===================================================================== tags


def test_tag_list_and_overwrite(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    assert body(kms.list_resource_tags(KeyId=key_id)) == {"Tags": [], "Truncated": False}
    kms.tag_resource(
        KeyId=key_id,
        Tags=[{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": "prod"}],
    )
    response = body(kms.list_resource_tags(KeyId=key_id))
    assert set(response) == {"Tags", "Truncated"}
    assert response["Truncated"] is False
    assert all(set(tag) == {"TagKey", "TagValue"} for tag in response["Tags"])
    assert tags_of(kms, key_id) == {"team": "payments", "env": "prod"}
    # Existing key with a new value overwrites; other tags stay.
    kms.tag_resource(KeyId=key_arn(key_id), Tags=[{"TagKey": "env", "TagValue": "staging"}])
    assert tags_of(kms, key_id) == {"team": "payments", "env": "staging"}
    assert tags_of(kms, key_arn(key_id)) == {"team": "payments", "env": "staging"}
    # Empty values are allowed; keys are case-sensitive.
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "Env", "TagValue": ""}])
    assert tags_of(kms, key_id) == {"team": "payments", "env": "staging", "Env": ""}


def test_untag(kms: Any) -> None:
    key_id = new_key(kms, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])["KeyId"]
    kms.untag_resource(KeyId=key_id, TagKeys=["a"])
    assert tags_of(kms, key_id) == {"b": "2"}
    kms.untag_resource(KeyId=key_id, TagKeys=["a", "never-there"])  # absent keys: fine
    assert tags_of(kms, key_id) == {"b": "2"}
    kms.untag_resource(KeyId=key_arn(key_id), TagKeys=["b"])
    assert tags_of(kms, key_id) == {}


@pytest.mark.parametrize("tag_key", ["aws:owner", "AWS:owner", "Aws:x", "aws:"])
def test_tags_beginning_with_aws_are_reserved(kms: Any, tag_key: str) -> None:
    key_id = new_key(kms, Tags=[{"TagKey": "keep", "TagValue": "1"}])["KeyId"]
    with aws_error(kms, "TagException", "Tags beginning with aws: are reserved"):
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "fine", "TagValue": "x"}, {"TagKey": tag_key, "TagValue": "x"}])
    with aws_error(kms, "TagException", "Tags beginning with aws: are reserved"):
        kms.create_key(Tags=[{"TagKey": tag_key, "TagValue": "x"}])
    assert tags_of(kms, key_id) == {"keep": "1"}  # all or nothing


def test_tag_keys_merely_containing_aws_are_fine(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "my-aws:tag", "TagValue": "1"}, {"TagKey": "aws", "TagValue": "2"}])
    assert tags_of(kms, key_id) == {"my-aws:tag": "1", "aws": "2"}


def test_duplicate_tag_keys(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    with aws_error(kms, "TagException", "Duplicate tag keys"):
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])
    assert tags_of(kms, key_id) == {}


def test_too_many_tags(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    fifty_one = [{"TagKey": f"k{i:02}", "TagValue": "v"} for i in range(51)]
    with aws_error(kms, "TagException", "Too many tags"):
        kms.tag_resource(KeyId=key_id, Tags=fifty_one)
    assert tags_of(kms, key_id) == {}
    kms.tag_resource(KeyId=key_id, Tags=fifty_one[:50])
    assert len(tags_of(kms, key_id)) == 50
    # Overwriting at the limit is fine; one more key is not.
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k00", "TagValue": "changed"}])
    assert tags_of(kms, key_id)["k00"] == "changed"
    with aws_error(kms, "TagException", "Too many tags"):
        kms.tag_resource(KeyId=key_id, Tags=[fifty_one[50]])
    assert len(tags_of(kms, key_id)) == 50
    # Removing one makes room again.
    kms.untag_resource(KeyId=key_id, TagKeys=["k01"])
    kms.tag_resource(KeyId=key_id, Tags=[fifty_one[50]])
    assert len(tags_of(kms, key_id)) == 50


def test_tag_key_and_value_lengths(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k" * 128, "TagValue": "v" * 256}])
    assert tags_of(kms, key_id) == {"k" * 128: "v" * 256}
    long_key = "k" * 129
    with aws_error(
        kms,
        "ValidationException",
        f"1 validation error detected: Value '{long_key}' at 'tags.1.member.tagKey' failed to satisfy constraint: "
        "Member must have length less than or equal to 128",
    ):
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": long_key, "TagValue": "v"}])
    long_value = "v" * 257
    with aws_error(
        kms,
        "ValidationException",
        f"1 validation error detected: Value '{long_value}' at 'tags.2.member.tagValue' failed to satisfy "
        "constraint: Member must have length less than or equal to 256",
    ):
        kms.tag_resource(
            KeyId=key_id, Tags=[{"TagKey": "ok", "TagValue": "v"}, {"TagKey": "long", "TagValue": long_value}]
        )
    assert tags_of(kms, key_id) == {"k" * 128: "v" * 256}


def test_tag_key_too_long_on_create_key(kms: Any) -> None:
    long_key = "k" * 129
    with aws_error(kms, "ValidationException") as caught:
        kms.create_key(Tags=[{"TagKey": long_key, "TagValue": "v"}])
    assert "'tags.1.member.tagKey'" in caught.message


@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
def test_tag_operations_reject_aliases(kms: Any, form: str) -> None:
    key_id = new_key(kms)["KeyId"]
    name = unique_alias("tagalias")
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    reference = name if form == "alias name" else alias_arn(name)
    with aws_error(kms, "NotFoundException"):
        kms.tag_resource(KeyId=reference, Tags=[{"TagKey": "a", "TagValue": "b"}])
    with aws_error(kms, "NotFoundException"):
        kms.untag_resource(KeyId=reference, TagKeys=["a"])
    with aws_error(kms, "NotFoundException"):
        kms.list_resource_tags(KeyId=reference)
    assert tags_of(kms, key_id) == {}


def test_tags_of_unknown_keys(kms: Any) -> None:
    missing = str(uuid.uuid4())
    message = f"Key '{key_arn(missing)}' does not exist"
    with aws_error(kms, "NotFoundException", message):
        kms.tag_resource(KeyId=missing, Tags=[{"TagKey": "a", "TagValue": "b"}])
    with aws_error(kms, "NotFoundException", message):
        kms.untag_resource(KeyId=missing, TagKeys=["a"])
    with aws_error(kms, "NotFoundException", message):
        kms.list_resource_tags(KeyId=missing)


def test_tags_of_keys_in_other_states(kms: Any) -> None:
    disabled = new_key(kms, Tags=[{"TagKey": "a", "TagValue": "1"}])
    kms.disable_key(KeyId=disabled["KeyId"])
    kms.tag_resource(KeyId=disabled["KeyId"], Tags=[{"TagKey": "b", "TagValue": "2"}])
    kms.untag_resource(KeyId=disabled["KeyId"], TagKeys=["a"])
    assert tags_of(kms, disabled["KeyId"]) == {"b": "2"}

    pending = new_key(kms, Tags=[{"TagKey": "a", "TagValue": "1"}])
    kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=7)
    message = f"{pending['Arn']} is pending deletion."
    with aws_error(kms, "KMSInvalidStateException", message):
        kms.tag_resource(KeyId=pending["KeyId"], Tags=[{"TagKey": "b", "TagValue": "2"}])
    with aws_error(kms, "KMSInvalidStateException", message):
        kms.untag_resource(KeyId=pending["KeyId"], TagKeys=["a"])
    assert tags_of(kms, pending["KeyId"]) == {"a": "1"}  # ListResourceTags works in any state


def test_tags_are_per_key(kms: Any) -> None:
    first = new_key(kms, Tags=[{"TagKey": "owner", "TagValue": "first"}])["KeyId"]
    second = new_key(kms, Tags=[{"TagKey": "owner", "TagValue": "second"}])["KeyId"]
    kms.untag_resource(KeyId=first, TagKeys=["owner"])
    assert tags_of(kms, first) == {}
    assert tags_of(kms, second) == {"owner": "second"}


# ===================================================================== ListResourceTags pagination


def test_list_resource_tags_pages_by_limit_and_marker(kms: Any) -> None:
    tags = {f"key-{i}": f"value-{i}" for i in range(7)}
    key_id = new_key(kms, Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])["KeyId"]
    seen: list[tuple[str, str]] = []
    sizes: list[int] = []
    marker: str | None = None
    while True:
        kwargs: dict[str, Any] = {"KeyId": key_id, "Limit": 3}
        if marker is not None:
            kwargs["Marker"] = marker
        page = body(kms.list_resource_tags(**kwargs))
        sizes.append(len(page["Tags"]))
        seen.extend((t["TagKey"], t["TagValue"]) for t in page["Tags"])
        if not page["Truncated"]:
            assert set(page) == {"Tags", "Truncated"}
            break
        assert set(page) == {"Tags", "Truncated", "NextMarker"}
        marker = page["NextMarker"]
        assert len(sizes) < 20
    assert sizes == [3, 3, 1]
    assert len(seen) == len(set(seen))
    assert dict(seen) == tags


def test_list_resource_tags_paginator_and_limit_one(kms: Any) -> None:
    tags = {f"t{i}": str(i) for i in range(5)}
    key_id = new_key(kms, Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])["KeyId"]
    pages = list(kms.get_paginator("list_resource_tags").paginate(KeyId=key_id, PaginationConfig={"PageSize": 1}))
    assert [len(p["Tags"]) for p in pages] == [1, 1, 1, 1, 1]
    assert [p["Truncated"] for p in pages] == [True, True, True, True, False]
    assert {t["TagKey"]: t["TagValue"] for p in pages for t in p["Tags"]} == tags
    full = kms.get_paginator("list_resource_tags").paginate(KeyId=key_id).build_full_result()
    assert {t["TagKey"]: t["TagValue"] for t in full["Tags"]} == tags


def test_list_resource_tags_marker_survives_changes(kms: Any) -> None:
    key_id = new_key(kms, Tags=[{"TagKey": f"t{i}", "TagValue": "v"} for i in range(4)])["KeyId"]
    first = kms.list_resource_tags(KeyId=key_id, Limit=2)
    kms.untag_resource(KeyId=key_id, TagKeys=[first["Tags"][-1]["TagKey"]])
    rest = kms.list_resource_tags(KeyId=key_id, Limit=50, Marker=first["NextMarker"])
    keys = [t["TagKey"] for t in first["Tags"]] + [t["TagKey"] for t in rest["Tags"]]
    # The removed tag was on the first page; nothing after it is lost and nothing comes twice.
    assert sorted(keys) == ["t0", "t1", "t2", "t3"]
    assert rest["Truncated"] is False


@pytest.mark.parametrize("marker", ["garbage", "\u00e9t\u00e9", "TGlzdEtleXMAeA=="])
def test_list_resource_tags_rejects_a_garbage_marker(kms: Any, marker: str) -> None:
    key_id = new_key(kms, Tags=[{"TagKey": "a", "TagValue": "b"}])["KeyId"]
    with aws_error(kms, "InvalidMarkerException"):
        kms.list_resource_tags(KeyId=key_id, Marker=marker)


def test_list_resource_tags_limit_bounds(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    kms.list_resource_tags(KeyId=key_id, Limit=50)
    with aws_error(kms, "ValidationException") as caught:
        kms.list_resource_tags(KeyId=key_id, Limit=51)
    assert "'limit'" in caught.message
