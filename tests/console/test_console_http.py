"""The console over plain HTTP (no browser): sign-in, CSRF, the wrong-secret alert, the audit record.

A real non-dev `trent serve`; urllib with a cookie jar, redirects not followed so each answer shows.
"""

from __future__ import annotations

import base64
import html
import http.cookiejar
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import ACCOUNT_ID, TrentServer
from tests.console.conftest import Browserless, admin

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(Path(tmp_path_factory.mktemp("console-http")) / "data", dev=False).start()
    yield srv
    srv.stop()


def test_console_redirects_to_sign_in_and_signs_in_with_a_cookie_that_is_http_only(server: TrentServer) -> None:
    client = Browserless(server)
    status, headers, _ = client.get("/console")
    assert (status, headers["location"]) == (302, "/console/sign-in")
    status, _, body = client.get("/console/sign-in")
    assert status == 200
    assert 'name="access_key_id"' in body
    assert 'type="password"' in body
    assert "Sign in as the dev root" not in body  # --dev only
    credentials = admin(server)
    status, headers, _ = client.sign_in(credentials["access_key"], credentials["secret_key"])
    assert (status, headers["location"]) == (303, "/console/keys")
    cookie = headers["set-cookie"]
    assert cookie.startswith("trent_console=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http here
    status, _, body = client.get("/console/keys")
    assert status == 200
    assert '<table id="keys">' in body
    for link in ("Keys", "Aliases", "Identities", "Audit"):
        assert f">{link}</a>" in body


def test_a_wrong_secret_shows_the_alert_and_no_session(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    status, headers, body = client.sign_in(credentials["access_key"], "not-the-secret")
    assert status == 401
    # No session: at most the sign-in form's token cookie comes back, never trent_console.
    assert not [c for c in headers.get_all("set-cookie") or [] if c.startswith("trent_console=")]
    assert re.search(r'role="alert">The access key ID or secret access key is not valid.<', body)
    assert "Traceback" not in body
    status, _, body = client.sign_in("AKIAUNKNOWNUNKNOWN00", "whatever")
    assert status == 401
    assert "The access key ID or secret access key is not valid." in body
    status, headers, _ = client.get("/console/keys")
    assert (status, headers["location"]) == (302, "/console/sign-in")


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms = server.client("kms", **credentials)
    before = len(kms.list_keys(Limit=1000)["Keys"])
    for form in ({"description": "forged"}, {"description": "forged", "csrf_token": "wrong"}):
        status, _, body = client.post("/console/keys", form)
        assert status == 403
        assert "CSRF token missing or invalid" in body
    assert len(kms.list_keys(Limit=1000)["Keys"]) == before
    # With the session's token the same form works.
    status, headers, _ = client.post("/console/keys", {"description": "real", "csrf_token": client.csrf()})
    assert status == 303
    assert re.fullmatch(r"/console/keys/[0-9a-f-]{36}", headers["location"])


def test_a_console_create_key_is_audited_with_the_console_user_agent(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    status, headers, _ = client.post(
        "/console/keys",
        {
            "csrf_token": client.csrf(),
            "alias": "console-http-audited",
            "description": "audited",
            "key_spec": "SYMMETRIC_DEFAULT",
            "key_usage": "ENCRYPT_DECRYPT",
            "origin": "AWS_KMS",
            "tags": "team=console\nenv=test",
        },
    )
    assert status == 303
    key_id = headers["location"].rsplit("/", 1)[1]
    kms = server.client("kms", **credentials)
    metadata = kms.describe_key(KeyId="alias/console-http-audited")["KeyMetadata"]
    assert metadata["KeyId"] == key_id
    assert {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]} == {
        "team": "console",
        "env": "test",
    }
    trail = server.client("cloudtrail", **credentials)
    deadline = time.monotonic() + 10
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": metadata["Arn"]}]
        )["Events"]
        records = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "CreateKey"]
        if records:
            break
        time.sleep(0.1)
    assert len(records) == 1
    record = records[0]
    assert record["userAgent"].startswith("trent-console/")
    assert record["userAgent"].endswith("console-http-test/1")
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["readOnly"] is False
    assert record["requestParameters"]["description"] == "audited"
    assert record["userIdentity"]["accessKeyId"] == credentials["access_key"]
    # The key page shows it; the audit page lists it and its record.
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert status == 200
    assert "alias/console-http-audited" in body
    assert '<svg role="img"' in body
    status, _, body = client.get("/console/audit?event_name=CreateKey")
    assert status == 200
    assert '<table id="events">' in body
    assert 'href="/console/audit/verify"' in body
    assert f"/console/audit/{record['eventID']}" in body
    status, _, body = client.get("/console/audit/verify")
    assert status == 200
    checked = re.search(r"Chain intact: (\d+) records", body)
    assert checked is not None, body
    # A reload within 30 s shows the same check rather than reading the trail again: the same count,
    # though the first view's own LookupEvents and more have been appended since.
    status, _, body = client.get("/console/audit/verify")
    assert f"Chain intact: {checked.group(1)} records" in body
    status, _, body = client.get(f"/console/audit/{record['eventID']}")
    assert status == 200
    assert "trent-console/" in body


def test_sign_out_ends_the_session(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    status, headers, _ = client.post("/console/sign-out", {"csrf_token": client.csrf()})
    assert (status, headers["location"]) == (303, "/console/sign-in")
    status, headers, _ = client.get("/console/keys")
    assert (status, headers["location"]) == (302, "/console/sign-in")


def test_import_key_material_for_an_external_key_through_the_console(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    token = client.csrf()
    status, headers, _ = client.post("/console/keys", {"csrf_token": token, "origin": "EXTERNAL"})
    assert status == 303
    key_path = headers["location"]
    status, _, body = client.get(key_path)
    assert "Download wrapping key and import token" in body
    assert re.search(r'<dd id="key-state">PendingImport</dd>', body)
    status, _, body = client.post(
        key_path + "/import-parameters",
        {"csrf_token": token, "wrapping_algorithm": "RSAES_OAEP_SHA_256", "wrapping_key_spec": "RSA_2048"},
    )
    assert status == 200
    pem = re.search(r'id="wrapping_public_key"[^>]*>([^<]+)<', body)
    import_token = re.search(r'id="import_token_out"[^>]*>([^<]+)<', body)
    assert pem is not None
    assert import_token is not None
    public = serialization.load_pem_public_key(html.unescape(pem.group(1)).encode())
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = public.encrypt(os.urandom(32), oaep)
    status, headers, body = client.post(
        key_path + "/import",
        {
            "csrf_token": token,
            "import_token": html.unescape(import_token.group(1)),
            "encrypted_key_material": base64.b64encode(wrapped).decode(),
            "expiration_model": "KEY_MATERIAL_DOES_NOT_EXPIRE",
        },
    )
    assert status == 303, body
    kms = server.client("kms", **credentials)
    key_id = key_path.rsplit("/", 1)[1]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"])["Plaintext"] == b"x"


def test_a_sign_in_without_its_form_token_is_refused(server: TrentServer) -> None:
    """Login CSRF: a sign-in posted from elsewhere carries neither the form's token nor its cookie."""
    client = Browserless(server)
    status, _, body = client.post("/console/sign-in", {"access_key_id": "AKIAX", "secret_access_key": "x"})
    assert status == 403
    assert "CSRF token missing or invalid" in body
    assert not any(cookie.name == "trent_console" for cookie in client.jar)


def test_the_verify_page_finds_a_record_altered_behind_the_servers_back(tmp_path: Path) -> None:
    import sqlite3

    # Each check fresh (by default one is reused for 30 s, so reloads cannot re-read the trail back to back).
    server = TrentServer(tmp_path / "data", dev=False, env={"TRENT_CONSOLE_VERIFY_REUSE_SECONDS": "0"}).start()
    try:
        client = Browserless(server)
        credentials = admin(server)
        client.sign_in(credentials["access_key"], credentials["secret_key"])
        server.client("kms", **credentials).create_key(Description="to be audited")
        status, _, body = client.get("/console/audit/verify")
        assert (status, "Chain intact" in body) == (200, True), body
        with sqlite3.connect(server.data_dir / "trent.db") as db:
            db.execute("UPDATE audit_events SET record = CAST(replace(CAST(record AS TEXT), 'to be audited', "
                       "'nothing here') AS BLOB) WHERE event_name = 'CreateKey'")  # fmt: skip
        status, _, body = client.get("/console/audit/verify")
        assert status == 200
        assert re.search(r"Chain broken at record \d+: altered", body), body
    finally:
        server.stop()


def test_a_user_who_may_not_look_up_events_does_not_see_the_chain_report(server: TrentServer) -> None:
    kms_admin = admin(server)
    iam = server.client("iam", **kms_admin)
    iam.create_user(UserName="no-trail-reader")
    key = iam.create_access_key(UserName="no-trail-reader")["AccessKey"]
    client = Browserless(server)
    status, _, _ = client.sign_in(key["AccessKeyId"], key["SecretAccessKey"])
    assert status == 303
    status, _, body = client.get("/console/audit/verify")
    assert status in {400, 403}, body
    assert "AccessDenied" in body
    assert "Chain intact" not in body


def test_a_multi_region_key_is_replicated_and_its_primary_moved_from_the_console(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms = server.client("kms", **credentials)
    key_id = kms.create_key(MultiRegion=True, Description="mrk")["KeyMetadata"]["KeyId"]
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert status == 200
    assert 'id="h-regions"' in body
    assert "multi-Region <strong>primary</strong> key" in body
    assert "<option>eu-west-1</option>" in body  # a served Region the key is not in yet
    status, _, body = client.post(
        f"/console/keys/{key_id}/replicate",
        {
            "replica_region": "eu-west-1",
            "replica_description": "copy",
            "replica_tags": "team=west",
            "csrf_token": client.csrf(),
        },
    )
    assert status == 303, body
    west = server.client("kms", region="eu-west-1", **credentials)
    replica = west.describe_key(KeyId=key_id)["KeyMetadata"]
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replica["Description"] == "copy"
    assert west.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "west"}]
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert re.search(r"<td>eu-west-1</td><td>Replica</td>", body)
    assert "<option>eu-west-1</option>" not in body.split('id="replica_region"', 1)[1].split("</select>", 1)[0]
    # A replica policy that is not JSON: ReplicateKey's own refusal, and no replica there.
    status, _, body = client.post(
        f"/console/keys/{key_id}/replicate",
        {"replica_region": "ap-south-1", "replica_policy": "{", "csrf_token": client.csrf()},
    )
    assert status == 400
    assert 'role="alert">MalformedPolicyDocumentException: ' in body
    with pytest.raises(ClientError):
        server.client("kms", region="ap-south-1", **credentials).describe_key(KeyId=key_id)
    # The same Region again: AWS's AlreadyExistsException, shown on the page.
    status, _, body = client.post(
        f"/console/keys/{key_id}/replicate", {"replica_region": "eu-west-1", "csrf_token": client.csrf()}
    )
    assert status == 400
    assert 'role="alert">AlreadyExistsException: ' in body
    status, _, body = client.post(
        f"/console/keys/{key_id}/primary-region", {"primary_region": "eu-west-1", "csrf_token": client.csrf()}
    )
    assert status == 303, body
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        config = kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
        if config["PrimaryKey"]["Region"] == "eu-west-1":
            break
        time.sleep(0.2)
    assert config["PrimaryKey"]["Region"] == "eu-west-1"
    assert config["MultiRegionKeyType"] == "REPLICA"


def test_an_alias_is_pointed_at_another_key_and_a_bad_target_is_shown(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms = server.client("kms", **credentials)
    first = kms.create_key()["KeyMetadata"]["KeyId"]
    second = kms.create_key()["KeyMetadata"]["KeyId"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/console-moving", TargetKeyId=first)
    status, _, body = client.get("/console/aliases")
    assert 'aria-label="New key ID for alias/console-moving"' in body
    status, headers, _ = client.post(
        "/console/aliases/update",
        {"alias_name": "alias/console-moving", "target_key_id": second, "csrf_token": client.csrf()},
    )
    assert (status, headers["location"]) == (303, "/console/aliases")
    assert kms.describe_key(KeyId="alias/console-moving")["KeyMetadata"]["KeyId"] == second
    assert f"Alias alias/console-moving now points to {second}." in client.get("/console/aliases")[2]
    # AWS refuses a target of another key usage; the page says so and the alias stays.
    status, _, body = client.post(
        "/console/aliases/update",
        {"alias_name": "alias/console-moving", "target_key_id": signing, "csrf_token": client.csrf()},
    )
    assert status == 400
    assert re.search(r'role="alert">ValidationException: ', body), body
    assert kms.describe_key(KeyId="alias/console-moving")["KeyMetadata"]["KeyId"] == second


def test_a_key_with_many_grants_pages_through_them(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms = server.client("kms", **credentials)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{ACCOUNT_ID}:root"
    names = [f"grant-{i:02d}" for i in range(55)]
    for name in names:
        kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Decrypt"], Name=name)
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert status == 200
    first = set(re.findall(r"<td>(grant-\d\d)</td>", body))
    assert len(first) == 50
    more = re.search(r'<a href="([^"]+)#h-grants">More grants</a>', body)
    assert more is not None
    status, _, body = client.get(html.unescape(more.group(1)))
    rest = set(re.findall(r"<td>(grant-\d\d)</td>", body))
    assert first | rest == set(names)
    assert not first & rest
    assert "More grants" not in body
    assert "First grants" in body
    # A marker ListGrants did not hand out is refused as the API refuses it; the rest of the page stays.
    for bogus in ("bogus", "%C2%B2", "99999999999999999999999"):
        status, _, body = client.get(f"/console/keys/{key_id}?grants_marker={bogus}")
        assert status == 200
        assert "InvalidMarkerException" in body
        assert 'id="h-policy"' in body


def test_a_forged_marker_or_number_gets_the_apis_error_not_a_500(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    for path in ("/console/keys?marker=%C2%B2", "/console/keys?marker=25", "/console/keys?marker=x"):
        status, _, body = client.get(path)
        assert status == 400, path
        assert 'role="alert">InvalidMarkerException: ' in body, path
    key_id = server.client("kms", **credentials).create_key()["KeyMetadata"]["KeyId"]
    for days in ("99999999999999999999", "-99999999999999999999", "4.5", "²"):
        status, _, body = client.post(
            f"/console/keys/{key_id}/schedule-deletion", {"pending_window_days": days, "csrf_token": client.csrf()}
        )
        assert status == 400, days
        assert re.search(r'role="alert">(Validation|Serialization)Exception: ', body), days
    for path in ("/console/audit?before=%C2%B2", "/console/identities?max_items=%C2%B2"):
        status, _, body = client.get(path)
        assert status in {200, 400}, path
        assert "Traceback" not in body
    assert "Traceback" not in server.log()


def _records(server: TrentServer, credentials: dict[str, str], name: str, count: int) -> list[dict[str, Any]]:
    trail = server.client("cloudtrail", **credentials)
    deadline = time.monotonic() + 10
    while True:
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
        records = [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def test_console_input_is_checked_by_the_apis_model_with_its_words(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms = server.client("kms", **credentials)
    before = len(kms.list_keys(Limit=1000)["Keys"])
    status, _, body = client.post("/console/keys", {"description": "x" * 8193, "csrf_token": client.csrf()})
    assert status == 400
    assert re.search(
        r"ValidationException: 1 validation error detected: Value &#39;x{8193}&#39; at &#39;description&#39; "
        r"failed to satisfy constraint: Member must have length less than or equal to 8192<",
        body,
    )
    status, _, body = client.post("/console/keys", {"tags": "k" * 129 + "=v", "csrf_token": client.csrf()})
    assert status == 400
    assert "at &#39;tags.1.member.tagKey&#39; failed to satisfy constraint: Member must have length less than" in body
    assert len(kms.list_keys(Limit=1000)["Keys"]) == before
    # IAM's model, in IAM's words: a user name with a space.
    status, _, body = client.post("/console/identities/users", {"user_name": "no spaces", "csrf_token": client.csrf()})
    assert status == 400
    assert "ValidationError: 1 validation error detected: Value &#39;no spaces&#39; at &#39;userName&#39;" in body


def test_a_console_create_key_is_recorded_exactly_as_an_sdk_create_key(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms = server.client("kms", **credentials)
    kms.create_key(
        Description="same", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Tags=[{"TagKey": "a", "TagValue": "1"}]
    )
    form = {"description": "same", "key_spec": "ECC_NIST_P256", "key_usage": "SIGN_VERIFY", "tags": "a=1"}
    status, _, _ = client.post("/console/keys", {**form, "origin": "AWS_KMS", "csrf_token": client.csrf()})
    assert status == 303
    records = [
        r
        for r in _records(server, credentials, "CreateKey", 2)
        if (r.get("requestParameters") or {}).get("description") == "same"
    ]
    console = next(r for r in records if r["userAgent"].startswith("trent-console/"))
    sdk = next(r for r in records if not r["userAgent"].startswith("trent-console/"))
    # The console's form always says the origin, as AWS's console does; the rest is the SDK's request.
    assert console["requestParameters"] == {**sdk["requestParameters"], "origin": "AWS_KMS"}
    assert set(console["responseElements"]["keyMetadata"]) == set(sdk["responseElements"]["keyMetadata"])
    for name in ("keySpec", "keyUsage", "keyManager", "keyState", "description", "origin"):
        assert console["responseElements"]["keyMetadata"][name] == sdk["responseElements"]["keyMetadata"][name]
    assert set(console) == set(sdk)


def test_an_aws_managed_key_is_shown_read_only(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms = server.client("kms", **credentials)
    kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"x")  # made on first use
    key_id = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"]
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert status == 200
    assert "<dd>AWS</dd>" in body
    assert re.search(r'<textarea id="policy" rows="16" class="code" readonly>\{', body)
    for action in ("policy", "tags", "disable", "schedule-deletion", "grants", "rotate", "rotation/enable"):
        assert f'action="/console/keys/{key_id}/{action}"' not in body, action
    # A forged form is refused by the service, as AWS refuses changes to AWS managed keys.
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    status, _, body = client.post(f"/console/keys/{key_id}/disable", {"csrf_token": client.csrf()})
    assert status == 403
    assert 'role="alert">AccessDeniedException: ' in body
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy


def test_a_planted_sign_in_cookie_is_neither_echoed_nor_accepted(server: TrentServer) -> None:
    planted = "a; Domain=evil.example; Path=/"
    for value in (f'"{planted}"', '"a\\012b"'):
        request = urllib.request.Request(
            server.endpoint + "/console/sign-in", headers={"cookie": f"trent_console_sign_in={value}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            cookies = response.headers.get_all("set-cookie") or []
        assert len(cookies) == 1
        assert re.fullmatch(
            r"trent_console_sign_in=[A-Za-z0-9_-]{43}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=900",
            cookies[0],
        ), cookies
    # Double submit counts only a token of the form the server hands out; the cookie does reach it
    # (a well-formed one is taken, which is all double submit can check).
    credentials = admin(server)
    form = {"access_key_id": credentials["access_key"], "secret_access_key": credentials["secret_key"]}
    for token, expected in (("chosen", 403), ("A" * 43, 303)):
        client = Browserless(server)
        client.jar.set_cookie(
            http.cookiejar.Cookie(
                0, "trent_console_sign_in", token, None, False, "127.0.0.1", False, False, "/console", True,
                False, None, False, None, None, {},
            )
        )  # fmt: skip
        status, _, body = client.post("/console/sign-in", {**form, "csrf_token": token})
        assert status == expected, body


def test_the_audit_page_checks_its_query_as_lookup_events_does(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    status, _, body = client.get("/console/audit?start=2030-01-01T00:00&end=2020-01-01T00:00")
    assert status == 400
    assert 'role="alert">InvalidTimeRangeException: ' in body
    status, _, body = client.get("/console/audit?next_token=forged")
    assert status == 400
    assert 'role="alert">InvalidNextTokenException: ' in body
    # Paging follows LookupEvents' own NextToken.
    kms = server.client("kms", **credentials)
    for _ in range(55):
        kms.list_keys()
    status, _, body = client.get("/console/audit?event_name=ListKeys")
    assert status == 200
    first = re.findall(r'href="/console/audit/([0-9a-f-]{36})"', body)
    assert len(first) == 50
    more = re.search(r'<a href="(/console/audit\?[^"]*next_token=[^"]+)">Next page</a>', body)
    assert more is not None
    status, _, body = client.get(html.unescape(more.group(1)))
    assert status == 200
    second = re.findall(r'href="/console/audit/([0-9a-f-]{36})"', body)
    assert second
    assert not set(first) & set(second)


def test_a_console_create_access_key_is_recorded_as_the_apis_without_the_secret(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    iam = server.client("iam", **credentials)
    iam.create_user(UserName="recorded-twice")
    sdk_key = iam.create_access_key(UserName="recorded-twice")["AccessKey"]
    status, _, body = client.post(
        "/console/identities/access-keys", {"user_name": "recorded-twice", "csrf_token": client.csrf()}
    )
    assert status == 200
    console_key_id = re.search(r'id="new-access-key-id">([A-Z0-9]+)<', body)
    secret = re.search(r'id="new-secret-access-key">([^<]+)<', body)
    assert console_key_id is not None
    assert secret is not None
    records = _records(server, credentials, "CreateAccessKey", 2)
    by_key = {r["responseElements"]["accessKey"]["accessKeyId"]: r for r in records if r.get("responseElements")}
    console, sdk = by_key[console_key_id.group(1)], by_key[sdk_key["AccessKeyId"]]
    assert console["requestParameters"] == sdk["requestParameters"] == {"userName": "recorded-twice"}
    assert set(console["responseElements"]["accessKey"]) == set(sdk["responseElements"]["accessKey"])
    assert secret.group(1) not in json.dumps(console)
    assert sdk_key["SecretAccessKey"] not in json.dumps(sdk)
    assert console["userAgent"].startswith("trent-console/")
    # Every IAM change goes through IAM's handler: a console CreateUser records its user as the API's does.
    status, _, _ = client.post(
        "/console/identities/users", {"user_name": "made-in-console", "csrf_token": client.csrf()}
    )
    assert status == 303
    users = {
        r["requestParameters"]["userName"]: r["responseElements"]
        for r in _records(server, credentials, "CreateUser", 2)
        if r.get("requestParameters")
    }
    assert users["made-in-console"]["user"]["userName"] == "made-in-console"
    assert set(users["made-in-console"]["user"]) == set(users["recorded-twice"]["user"])


def test_the_audit_page_takes_every_lookup_attribute_and_combines_them(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    iam = server.client("iam", **credentials)
    iam.create_user(UserName="audited-user")
    iam.put_user_policy(
        UserName="audited-user",
        PolicyName="kms",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="audited-user")["AccessKey"]
    user_kms = server.client("kms", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    key_id = user_kms.create_key(Description="by the user")["KeyMetadata"]["KeyId"]
    user_kms.describe_key(KeyId=key_id)

    def names(**query: str) -> list[str]:
        status, _, body = client.get("/console/audit?" + urllib.parse.urlencode(query))
        assert status == 200, body
        rows = re.findall(r"</a></td><td>([A-Za-z]+)</td><td>([^<]*)</td>", body)
        return [name for name, _user in rows]

    assert sorted(names(access_key=key["AccessKeyId"])) == ["CreateKey", "DescribeKey"]
    assert names(access_key=key["AccessKeyId"], read_only="true") == ["DescribeKey"]
    assert names(access_key=key["AccessKeyId"], read_only="false") == ["CreateKey"]
    assert names(user="audited-user", event_source="kms.amazonaws.com", event_name="CreateKey") == ["CreateKey"]
    iam_names = names(event_source="iam.amazonaws.com")
    assert {"CreateUser", "PutUserPolicy", "CreateAccessKey"} <= set(iam_names)
    assert not set(iam_names) & {"CreateKey", "DescribeKey"}
    assert "CreateUser" not in names(resource_type="AWS::KMS::Key")
    # The page's events as a CloudTrail file.
    status, headers, body = client.get(
        "/console/audit?" + urllib.parse.urlencode({"access_key": key["AccessKeyId"], "format": "json"})
    )
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert "attachment" in headers["content-disposition"]
    records = json.loads(body)["Records"]
    assert sorted(r["eventName"] for r in records) == ["CreateKey", "DescribeKey"]
    assert all(r["userIdentity"]["accessKeyId"] == key["AccessKeyId"] for r in records)


def test_key_administrators_and_users_picked_at_creation_become_the_key_policy(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    iam = server.client("iam", **credentials)
    people = {}
    for name in ("key-admin", "key-user"):
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        people[name] = (arn, server.client("kms", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]))
    status, headers, body = client.post(
        "/console/keys",
        {
            "csrf_token": client.csrf(),
            "description": "picked people",
            "key_administrators": people["key-admin"][0],
            "key_users": people["key-user"][0],
        },
    )
    assert status == 303, body
    key_id = headers["location"].rsplit("/", 1)[1]
    policy = json.loads(
        server.client("kms", **credentials).get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
        "Allow use of the key",
        "Allow attachment of persistent resources",
    ]
    user_kms, admin_kms = people["key-user"][1], people["key-admin"][1]
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"for users")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"for users"
    with pytest.raises(ClientError) as denied:
        user_kms.disable_key(KeyId=key_id)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    admin_kms.disable_key(KeyId=key_id)
    admin_kms.enable_key(KeyId=key_id)
    with pytest.raises(ClientError) as denied:
        admin_kms.encrypt(KeyId=key_id, Plaintext=b"admins manage, not use")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # A principal that does not exist: CreateKey's own refusal, on the form, and no key.
    before = len(server.client("kms", **credentials).list_keys(Limit=1000)["Keys"])
    status, _, body = client.post(
        "/console/keys",
        {"csrf_token": client.csrf(), "key_users": f"arn:aws:iam::{ACCOUNT_ID}:user/nobody-here"},
    )
    assert status == 400
    assert 'role="alert">MalformedPolicyDocumentException: ' in body
    assert f"arn:aws:iam::{ACCOUNT_ID}:user/nobody-here</textarea>" in body  # what was typed stays
    assert len(server.client("kms", **credentials).list_keys(Limit=1000)["Keys"]) == before


def test_a_console_shaped_key_policy_is_edited_as_administrators_and_users(server: TrentServer) -> None:
    client = Browserless(server)
    credentials = admin(server)
    client.sign_in(credentials["access_key"], credentials["secret_key"])
    kms, iam = server.client("kms", **credentials), server.client("iam", **credentials)
    user_arn = iam.create_user(UserName="later-user")["User"]["Arn"]
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert f'action="/console/keys/{key_id}/policy/people"' in body  # the API's default: nobody picked
    status, _, body = client.post(
        f"/console/keys/{key_id}/policy/people", {"key_users": user_arn, "csrf_token": client.csrf()}
    )
    assert status == 303, body
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    use = next(s for s in policy["Statement"] if s["Sid"] == "Allow use of the key")
    assert use["Action"] == ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"]
    assert use["Principal"] == {"AWS": [user_arn]}
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert f'name="key_users" rows="2" class="code">{user_arn}</textarea>' in body
    # A policy the console would not write: only the JSON editor offers it.
    policy["Statement"].append(
        {"Sid": "x", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:GenerateMac", "Resource": "*"}
    )
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    status, _, body = client.get(f"/console/keys/{key_id}")
    assert "/policy/people" not in body
    assert 'action="/console/keys/' + key_id + '/policy"' in body


def test_a_filtered_key_list_looks_past_the_first_page_within_a_budget(tmp_path: Path) -> None:
    server = TrentServer(tmp_path / "data", dev=False).start()
    try:
        client = Browserless(server)
        credentials = admin(server)
        client.sign_in(credentials["access_key"], credentials["secret_key"])
        kms = server.client("kms", **credentials)
        ids = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(230)]
        near, far = ids[40], ids[215]  # on the 2nd ListKeys page of 25; past the 200-key budget
        for key_id in (near, far):
            kms.disable_key(KeyId=key_id)
        status, _, body = client.get("/console/keys?state=Disabled")
        assert status == 200
        listed = re.findall(r'<td><a href="/console/keys/([0-9a-f-]{36})">', body)
        assert listed == [near]
        assert 'id="scanned">This page looked at 200 keys' in body
        more = re.search(r'<a href="([^"]+)">Next page</a>', body)
        assert more is not None
        status, _, body = client.get(html.unescape(more.group(1)))
        assert re.findall(r'<td><a href="/console/keys/([0-9a-f-]{36})">', body) == [far]
        assert 'id="scanned">This page looked at 30 keys' in body
        assert "Next page" not in body
        # Unfiltered, a page is one ListKeys page.
        status, _, body = client.get("/console/keys")
        assert len(re.findall(r'<td><a href="/console/keys/([0-9a-f-]{36})">', body)) == 25
    finally:
        server.stop()
