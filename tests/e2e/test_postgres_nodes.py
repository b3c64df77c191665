"""Two `trent serve` nodes on one PostgreSQL database behave as one service, through boto3."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BIN, TrentServer, drop_postgres_schema, fresh_postgres_schema, require_postgres
from tests.e2e.helpers import aws_error, new_key, rotate_on_demand

pytestmark = pytest.mark.e2e

DAY = 86400


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Nodes:
    def __init__(self, url: str, a: TrentServer, b: TrentServer) -> None:
        self.url, self.a, self.b = url, a, b

    def advance_clocks(self, seconds: float) -> None:
        for node in (self.a, self.b):
            node.post("/_trent/dev/advance-clock", {"seconds": seconds})

    def events(self, name: str) -> list[dict[str, Any]]:
        trail = self.a.client("cloudtrail")
        pages = trail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
        )
        return [json.loads(e["CloudTrailEvent"]) for page in pages for e in page["Events"]]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    require_postgres()
    url = fresh_postgres_schema()
    env = {"TRENT_DATABASE_URL": url}
    a = TrentServer(tmp_path / "a", env=env).start()
    # Every node holds the same root of trust; the database alone decrypts nothing.
    (tmp_path / "b").mkdir(mode=0o700)
    shutil.copy2(tmp_path / "a" / "root.key", tmp_path / "b" / "root.key")
    b = TrentServer(tmp_path / "b", env=env).start()
    yield Nodes(url, a, b)
    a.stop()
    b.stop()
    drop_postgres_schema(url)


def seen_within_a_second(condition: Callable[[], bool], what: str) -> None:
    """The documented bound: a change made through one node reaches every other within 1 s."""
    wait_for(condition, what, timeout=1.0)


def refuses(call: Callable[[], object], code: str) -> bool:
    try:
        call()
    except ClientError as exc:
        return bool(exc.response["Error"]["Code"] == code)
    return False


def test_what_one_node_changes_the_other_sees_within_a_second(nodes: Nodes) -> None:
    a, b = nodes.a.client(), nodes.b.client()
    key = new_key(a, Description="made on A")
    assert b.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "made on A"
    blob = a.encrypt(KeyId=key["KeyId"], Plaintext=b"across nodes")["CiphertextBlob"]
    assert b.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across nodes"

    a.disable_key(KeyId=key["KeyId"])
    seen_within_a_second(
        lambda: refuses(lambda: b.encrypt(KeyId=key["KeyId"], Plaintext=b"x"), "DisabledException"),
        "B refusing a disabled key",
    )
    with aws_error(a, "DisabledException", f"{key['Arn']} is disabled."):  # and at once on A itself
        a.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    b.enable_key(KeyId=key["KeyId"])
    seen_within_a_second(
        lambda: not refuses(lambda: a.encrypt(KeyId=key["KeyId"], Plaintext=b"x"), "DisabledException"),
        "A using the key again",
    )

    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
            ],
        }
    )
    a.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy)
    seen_within_a_second(
        lambda: b.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"] == policy, "the policy on B"
    )
    seen_within_a_second(lambda: refuses(lambda: b.decrypt(CiphertextBlob=blob), "AccessDeniedException"), "B denying")

    rotate_on_demand(a, key["KeyId"])
    current = a.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    seen_within_a_second(
        lambda: b.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"] == current,
        "the rotation on B",
    )
    a.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    seen_within_a_second(
        lambda: b.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion", "the deletion on B"
    )


def test_a_thousand_concurrent_create_alias_calls_have_one_winner(nodes: Nodes) -> None:
    clients = [nodes.a.client(), nodes.b.client()]
    key_id = new_key(clients[0])["KeyId"]

    def create(i: int) -> str:
        try:
            clients[i % 2].create_alias(AliasName="alias/contested", TargetKeyId=key_id)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(create, range(1000)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("AlreadyExistsException") == 999


def test_no_tag_or_grant_is_lost_under_concurrent_updates(nodes: Nodes) -> None:
    clients = [nodes.a.client(), nodes.b.client()]
    key_id = new_key(clients[0])["KeyId"]

    def tag_and_grant(i: int) -> None:
        client = clients[i % 2]
        client.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"t{i}", "TagValue": str(i)}])
        client.create_grant(
            KeyId=key_id, GranteePrincipal=f"arn:aws:iam::111122223333:role/r{i}", Operations=["Encrypt"]
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(tag_and_grant, range(40)))
    tags = {t["TagKey"] for t in clients[1].list_resource_tags(KeyId=key_id, Limit=50)["Tags"]}
    assert tags == {f"t{i}" for i in range(40)}
    grants = clients[0].get_paginator("list_grants").paginate(KeyId=key_id)
    assert len([g for page in grants for g in page["Grants"]]) == 40


def test_background_jobs_run_once_across_nodes(nodes: Nodes) -> None:
    a = nodes.a.client()
    doomed = [new_key(a)["KeyId"] for _ in range(6)]
    rotating = [new_key(a)["KeyId"] for _ in range(6)]
    for key_id in doomed:
        a.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    for key_id in rotating:
        a.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    nodes.advance_clocks(91 * DAY)  # both nodes' sweepers now find all of them due

    def all_done() -> bool:
        listed = {k["KeyId"] for k in a.list_keys(Limit=1000)["Keys"]}
        rotated = all(a.list_key_rotations(KeyId=k)["Rotations"] for k in rotating)
        return not (set(doomed) & listed) and rotated

    wait_for(all_done, "the deletions and rotations")
    time.sleep(1.0)  # several more sweeps on both nodes: nothing happens twice
    deletions = [e["resources"][0]["ARN"].rsplit("/", 1)[1] for e in nodes.events("DeleteKey")]
    assert sorted(deletions) == sorted(doomed)
    rotations = [e["resources"][0]["ARN"].rsplit("/", 1)[1] for e in nodes.events("RotateKey")]
    assert sorted(rotations) == sorted(rotating)
    for key_id in rotating:
        assert len(a.list_key_rotations(KeyId=key_id)["Rotations"]) == 1


def test_the_audit_trail_is_one_verifiable_chain(nodes: Nodes) -> None:
    clients = [nodes.a.client(), nodes.b.client()]
    key_id = new_key(clients[0])["KeyId"]

    def use(i: int) -> None:
        clients[i % 2].encrypt(KeyId=key_id, Plaintext=b"x")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(use, range(300)))
    result = subprocess.run(
        [str(BIN / "trent"), "audit", "verify", "--json", "--data-dir", str(nodes.a.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"TRENT_DATABASE_URL": nodes.url, "PATH": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["intact"] is True
    assert report["records"] >= 301
    encrypts = nodes.events("Encrypt")
    assert len(encrypts) == 300


def test_a_node_with_another_root_key_refuses_to_start(nodes: Nodes, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    stranger.mkdir(mode=0o700)  # no root.key: serve would make a new one, which the database refuses
    result = subprocess.run(
        [str(BIN / "trent"), "serve", "--dev", "--data-dir", str(stranger), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"TRENT_DATABASE_URL": nodes.url, "PATH": ""},
    )
    assert result.returncode == 2
    assert "root.key is not the root key of the database" in result.stderr
    # The nodes are unharmed.
    assert new_key(nodes.b.client())["KeyState"] == "Enabled"
