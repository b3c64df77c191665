"""The web console (issue 14) through a real browser: Chromium, driven by Playwright, against `trent serve`.

Every test but the dev sign-in one runs a non-dev server of its own (requests are signed, the console
signs in with an access key), signs in through the sign-in page and checks what the page shows against
what boto3 reads back from the same server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, TrentServer
from tests.console.conftest import DOCS_DIR, NARROW, WIDE, admin, expect, sign_in

pytestmark = pytest.mark.e2e

KEY_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
KEY_URL = re.compile(rf"/console/keys/({KEY_ID})$")
SIGN_IN_URL = re.compile(r"/console/sign-in(\?.*)?$")
KEYS_URL = re.compile(r"/console/keys(\?.*)?$")
BAD_CREDENTIALS = "The access key ID or secret access key is not valid."
CSRF_REFUSED = "CSRF token missing or invalid"


# ----------------------------------------------------------------- helpers


def alert(page: Any, text: str | re.Pattern[str]) -> Any:
    """The role=alert element showing `text` (a page may hold an empty live region besides)."""
    return page.get_by_role("alert").filter(has_text=text)


def state_cell(page: Any, state: str) -> Any:
    """The metadata <dl>'s <dd> whose text is the key state (not a dt such as "Enabled")."""
    return page.locator("dl dd").filter(has_text=re.compile(rf"^\s*{state}\b"))


def expect_state(page: Any, server: TrentServer, key_id: str, state: str) -> None:
    expect(state_cell(page, state)).to_have_count(1)
    for other in {"Enabled", "Disabled", "PendingDeletion"} - {state}:
        expect(state_cell(page, other)).to_have_count(0)
    assert kms_of(server).describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == state


def form_with(page: Any, button: str) -> Any:
    return page.locator("form").filter(has=page.get_by_role("button", name=button, exact=True))


def kms_of(server: TrentServer) -> Any:
    return server.client("kms", **admin(server))


def key_ids_listed(page: Any) -> set[str]:
    expect(page.locator("table#keys")).to_be_visible()
    hrefs = page.locator("table#keys a[href*='/console/keys/']").evaluate_all("links => links.map(a => a.href)")
    ids = set()
    for href in hrefs:
        match = re.search(rf"/console/keys/({KEY_ID})(?:[/?#]|$)", href)
        if match:
            ids.add(match.group(1))
    return ids


def create_key_through_form(page: Any, server: TrentServer, **fields: str) -> str:
    page.goto(server.endpoint + "/console/keys")
    page.get_by_role("link", name="Create key").click()
    expect(page).to_have_url(re.compile(r"/console/keys/new$"))
    page.get_by_label("Alias").fill(fields.get("alias", ""))
    page.get_by_label("Description").fill(fields.get("description", ""))
    page.get_by_label("Key spec").select_option(fields.get("spec", "SYMMETRIC_DEFAULT"))
    page.get_by_label("Key usage").select_option(fields.get("usage", "ENCRYPT_DECRYPT"))
    page.get_by_label("Origin").select_option(fields.get("origin", "AWS_KMS"))
    page.get_by_label("Tags").fill(fields.get("tags", ""))
    if fields.get("policy"):
        page.get_by_label("Key policy").fill(fields["policy"])
    page.get_by_role("button", name="Create key", exact=True).click()
    expect(page).to_have_url(KEY_URL)
    match = KEY_URL.search(page.url)
    assert match is not None
    return match.group(1)


def cloudtrail_records(server: TrentServer, event_name: str) -> list[dict[str, Any]]:
    trail = server.client("cloudtrail", **admin(server))
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}], MaxResults=50
    )["Events"]
    return [json.loads(event["CloudTrailEvent"]) for event in events]


def new_user(server: TrentServer, name: str, policy: dict[str, Any] | None = None) -> dict[str, str]:
    iam = server.client("iam", **admin(server))
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def raw_get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    """One GET that does not follow redirects: status, headers, body."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"cookie": cookie} if cookie else {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode(errors="replace")


def cookie_header(context: Any) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())


# ----------------------------------------------------------------- sign-in and navigation


def test_console_redirects_and_sign_in_with_a_wrong_then_right_secret(
    console_server: TrentServer, page: Any, context: Any
) -> None:
    server, credentials = console_server, admin(console_server)
    # Without a session /console sends the browser to the sign-in page (a redirect, not a page of its own).
    status, headers, _ = raw_get(server.endpoint + "/console")
    assert status in {302, 303, 307}, status
    assert SIGN_IN_URL.search(headers.get("Location", headers.get("location", ""))), headers
    page.goto(server.endpoint + "/console")
    expect(page).to_have_url(SIGN_IN_URL)
    expect(page.get_by_label("Access key ID")).to_be_visible()
    expect(page.get_by_label("Secret access key")).to_be_visible()
    expect(page.get_by_label("Secret access key")).to_have_attribute("type", "password")
    # Not in --dev: no one-click root.
    expect(page.get_by_role("button", name="Sign in as the dev root")).to_have_count(0)

    page.get_by_label("Access key ID").fill(credentials["access_key"])
    page.get_by_label("Secret access key").fill(credentials["secret_key"] + "x")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(alert(page, BAD_CREDENTIALS)).to_be_visible()
    expect(page).to_have_url(SIGN_IN_URL)
    assert "Traceback" not in page.content()
    page.goto(server.endpoint + "/console/keys")
    expect(page).to_have_url(SIGN_IN_URL)  # the failed attempt made no session

    sign_in(page, server, credentials)
    nav = page.get_by_role("navigation")
    for name in ("Keys", "Aliases", "Identities", "Audit"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # With a session, /console goes to the keys.
    status, headers, _ = raw_get(server.endpoint + "/console", cookie_header(context))
    assert status in {302, 303, 307}, status
    assert re.search(r"/console/keys$", headers.get("Location", headers.get("location", ""))), headers
    page.goto(server.endpoint + "/console")
    expect(page).to_have_url(KEYS_URL)


def test_the_session_cookie_is_http_only_and_same_site_strict(console_server: TrentServer, page: Any) -> None:
    sign_in(page, console_server, admin(console_server))
    cookies = page.context.cookies()
    assert cookies, "no session cookie"
    for cookie in cookies:
        assert cookie["httpOnly"], cookie
        assert cookie["sameSite"] == "Strict", cookie


def test_dev_mode_one_click_sign_in_as_the_dev_root(dev_server: TrentServer, page: Any) -> None:
    page.goto(dev_server.endpoint + "/console")
    expect(page).to_have_url(SIGN_IN_URL)
    page.get_by_role("button", name="Sign in as the dev root").click()
    expect(page).to_have_url(KEYS_URL)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("table#keys")).to_be_attached()
    key_id = dev_server.client().create_key(Description="dev")["KeyMetadata"]["KeyId"]
    page.reload()
    assert key_id in key_ids_listed(page)


# ----------------------------------------------------------------- keys: create, encrypt, audit, chart


def test_create_a_key_with_alias_and_tags_encrypt_with_boto3_and_see_it_in_audit_and_chart(
    console_server: TrentServer, page: Any
) -> None:
    server, kms = console_server, kms_of(console_server)
    sign_in(page, server, admin(server))
    fields = {"alias": "alias/console-orders", "description": "orders, from the console"}
    key_id = create_key_through_form(page, server, **fields, tags="team=payments\nenv=test")

    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["Description"] == "orders, from the console"
    assert (metadata["KeySpec"], metadata["KeyUsage"], metadata["Origin"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "AWS_KMS",
    )
    assert metadata["MultiRegion"] is False
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags == {"team": "payments", "env": "test"}
    aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]]
    assert aliases == ["alias/console-orders"]
    expect_state(page, server, key_id, "Enabled")
    expect(page.locator("dl")).to_contain_text(key_id)

    # The list links the key to its page.
    page.get_by_role("navigation").get_by_role("link", name="Keys", exact=True).click()
    expect(page).to_have_url(KEYS_URL)
    assert key_id in key_ids_listed(page)
    expect(page.locator(f"table#keys a[href$='/console/keys/{key_id}']").first).to_be_visible()

    # Encrypt outside the console; the audit page and the key's chart show it.
    blob = kms.encrypt(KeyId="alias/console-orders", Plaintext=b"card 4111")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"card 4111"

    page.get_by_role("navigation").get_by_role("link", name="Audit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/audit(\?.*)?$"))
    events = page.locator("table#events")
    expect(events).to_be_visible()
    encrypt_row = events.locator("tr").filter(has=page.locator("td", has_text=re.compile(r"^\s*Encrypt\s*$"))).first
    expect(encrypt_row).to_be_visible()
    page.get_by_role("link", name="Verify the chain").click()
    expect(page).to_have_url(re.compile(r"/console/audit/verify$"))
    expect(page.get_by_text("Chain intact")).to_be_visible()
    page.go_back()
    encrypt_row.locator("a[href*='/console/audit/']").first.click()
    expect(page).to_have_url(re.compile(r"/console/audit/[^/?#]+$"))
    event_id = page.url.rsplit("/", 1)[1]
    record = json.loads(page.locator("pre").first.inner_text())
    assert record["eventName"] == "Encrypt"
    assert record["eventID"] == event_id
    assert record["userAgent"].startswith("Boto3/"), record["userAgent"]
    assert any(key_id in resource.get("ARN", "") for resource in record.get("resources", [])), record

    page.goto(f"{server.endpoint}/console/keys/{key_id}")
    chart = page.locator("svg[role='img']")
    expect(chart.first).to_be_visible()
    drawn = " ".join(chart.evaluate_all("charts => charts.map(c => c.textContent)"))
    assert re.search(r"\bEncrypt\b", drawn), drawn  # the bars name their operation
    # GetKeyLastUsage: the last cryptographic use, linked to its audit record.
    last_used = page.locator("#last-used")
    expect(last_used).to_contain_text("Last used for Decrypt")  # the test decrypted after encrypting
    last_used.get_by_role("link", name="its audit record").click()
    expect(page).to_have_url(re.compile(r"/console/audit/[0-9a-f-]{36}$"))
    assert json.loads(page.locator("pre").first.inner_text())["eventName"] == "Decrypt"
    page.go_back()

    # What the console did is audited as the console's.
    created = [r for r in cloudtrail_records(server, "CreateKey") if r.get("responseElements")]
    mine = [r for r in created if key_id in json.dumps(r["responseElements"])]
    assert mine, created
    assert mine[0]["userAgent"].startswith("trent-console/"), mine[0]["userAgent"]
    aliased = cloudtrail_records(server, "CreateAlias")
    assert aliased, "no CreateAlias record"
    assert all(r["userAgent"].startswith("trent-console/") for r in aliased), [r["userAgent"] for r in aliased]


def test_create_key_form_spec_usage_origin_multi_region_and_policy(console_server: TrentServer, page: Any) -> None:
    server, kms = console_server, kms_of(console_server)
    sign_in(page, server, admin(server))

    signing = create_key_through_form(page, server, alias="alias/signer", spec="ECC_NIST_P256", usage="SIGN_VERIFY")
    metadata = kms.describe_key(KeyId=signing)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    expect(page.locator("dl")).to_contain_text("ECC_NIST_P256")

    external = create_key_through_form(page, server, alias="alias/byok", origin="EXTERNAL")
    assert kms.describe_key(KeyId=external)["KeyMetadata"]["Origin"] == "EXTERNAL"
    expect(state_cell(page, "PendingImport")).to_have_count(1)

    policy = {
        "Version": "2012-10-17",
        "Id": "from-the-create-form",
        "Statement": [
            {
                "Sid": "Root",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    page.goto(server.endpoint + "/console/keys/new")
    page.get_by_label("Alias").fill("alias/replicated")
    page.get_by_label("Multi-Region").check()
    page.get_by_label("Key policy").fill(json.dumps(policy, indent=2))
    page.get_by_role("button", name="Create key", exact=True).click()
    expect(page).to_have_url(KEY_URL)
    multi = KEY_URL.search(page.url).group(1)  # type: ignore[union-attr]
    assert multi.startswith("mrk-"), multi
    assert kms.describe_key(KeyId=multi)["KeyMetadata"]["MultiRegion"] is True
    assert json.loads(kms.get_key_policy(KeyId=multi, PolicyName="default")["Policy"]) == policy

    # A refused create keeps the form and says why.
    page.goto(server.endpoint + "/console/keys/new")
    page.get_by_label("Alias").fill("alias/aws/not-mine")
    page.get_by_role("button", name="Create key", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text=re.compile(r"Exception: \S"))).to_be_visible()
    assert {k["KeyId"] for k in kms.list_keys()["Keys"]} >= {signing, external, multi}


def test_key_list_filters(console_server: TrentServer, page: Any) -> None:
    server, kms = console_server, kms_of(console_server)
    symmetric = kms.create_key(Description="findme symmetric")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/findme", TargetKeyId=symmetric)
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    multi = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]  # PendingImport
    disabled = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=disabled)
    mine = {symmetric, signing, multi, external, disabled}

    sign_in(page, server, admin(server))
    assert mine <= key_ids_listed(page)

    def filtered(**values: str) -> set[str]:
        page.goto(server.endpoint + "/console/keys")
        form = page.locator("form").filter(has=page.locator("[name=q]")).first
        for name, value in values.items():
            control = form.locator(f"[name={name}]")
            tag = control.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
            if tag.startswith("select"):
                control.select_option(value)
            elif tag.endswith(":checkbox"):
                control.set_checked(value == "true")
            else:
                control.fill(value)
        form.evaluate("f => f.requestSubmit()")
        page.wait_for_url(re.compile(r"/console/keys\?"))
        return key_ids_listed(page) & mine

    assert filtered(q="findme") == {symmetric}
    assert filtered(q="alias/findme") == {symmetric}
    assert filtered(q=signing) == {signing}
    assert filtered(state="Disabled") == {disabled}
    assert filtered(state="PendingImport") == {external}
    assert filtered(spec="RSA_2048") == {signing}
    assert filtered(usage="SIGN_VERIFY") == {signing}
    assert filtered(origin="EXTERNAL") == {external}
    assert filtered(multi_region="true") == {multi}
    # AWS managed keys apart, as AWS's console lists them: alias/aws/ebs is made on first use.
    kms.encrypt(KeyId="alias/aws/ebs", Plaintext=b"x")
    managed = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"]
    mine.add(managed)
    assert filtered(manager="AWS") == {managed}
    assert filtered(manager="CUSTOMER") == mine - {managed}


# ----------------------------------------------------------------- key page: tags, policy, lifecycle


def test_edit_tags_and_key_policy_with_an_invalid_policy_shown_inline(console_server: TrentServer, page: Any) -> None:
    server, kms = console_server, kms_of(console_server)
    sign_in(page, server, admin(server))
    key_id = create_key_through_form(page, server, alias="alias/policy-edit", tags="team=payments\nenv=test")

    tags_box = form_with(page, "Save tags").locator("textarea")
    expect(tags_box).to_have_value(re.compile(r"team=payments"))
    tags_box.fill("team=payments\nowner=alice")
    form_with(page, "Save tags").get_by_role("button", name="Save tags").click()
    expect(form_with(page, "Save tags").locator("textarea")).to_have_value(re.compile(r"owner=alice"))
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags == {"team": "payments", "owner": "alice"}

    policy_box = page.locator("textarea[name=policy]")
    current = json.loads(policy_box.input_value())
    assert current == json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])

    broken = '{"Version": "2012-10-17", "Statement": [ {"Effect": "Allow", '
    policy_box.fill(broken)
    page.get_by_role("button", name="Save policy").click()
    malformed = alert(page, "MalformedPolicyDocumentException")
    expect(malformed).to_have_text(re.compile(r"^\s*MalformedPolicyDocumentException"))
    expect(page.locator("textarea[name=policy]")).to_have_value(broken)
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == current

    updated = {
        "Version": "2012-10-17",
        "Id": "console-edited",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    page.locator("textarea[name=policy]").fill(json.dumps(updated, indent=2))
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("textarea[name=policy]")).to_have_value(re.compile(r"console-edited"))
    expect(alert(page, "Exception")).to_have_count(0)
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == updated
    records = cloudtrail_records(server, "PutKeyPolicy")
    assert records, "no PutKeyPolicy record"
    assert all(r["userAgent"].startswith("trent-console/") for r in records), [r["userAgent"] for r in records]


def test_disable_enable_schedule_and_cancel_deletion(console_server: TrentServer, page: Any) -> None:
    server, kms = console_server, kms_of(console_server)
    sign_in(page, server, admin(server))
    key_id = create_key_through_form(page, server, alias="alias/lifecycle")
    expect_state(page, server, key_id, "Enabled")

    page.get_by_role("button", name="Disable key").click()
    expect_state(page, server, key_id, "Disabled")
    expect(page.get_by_role("button", name="Enable key")).to_be_visible()

    page.get_by_role("button", name="Enable key").click()
    expect_state(page, server, key_id, "Enabled")
    expect(page.get_by_role("button", name="Disable key")).to_be_visible()

    page.locator("input[name=pending_window_days]").fill("9")
    page.get_by_role("button", name="Schedule deletion").click()
    expect_state(page, server, key_id, "PendingDeletion")
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    days = (metadata["DeletionDate"] - datetime.now(UTC)).total_seconds() / 86400
    assert 8.9 < days <= 9.01, metadata["DeletionDate"]  # the window typed in the form

    page.get_by_role("button", name="Cancel deletion").click()
    expect_state(page, server, key_id, "Disabled")  # as in AWS: a cancelled deletion leaves the key disabled
    assert "DeletionDate" not in kms.describe_key(KeyId=key_id)["KeyMetadata"]

    page.get_by_role("button", name="Enable key").click()
    expect_state(page, server, key_id, "Enabled")
    for event in ("DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion"):
        records = cloudtrail_records(server, event)
        assert records, f"no {event} record"
        assert all(r["userAgent"].startswith("trent-console/") for r in records), (event, records)


# ----------------------------------------------------------------- authorization


READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:Describe*", "kms:List*", "kms:Get*"], "Resource": "*"}],
}


def test_a_user_without_permission_sees_access_denied_and_changes_nothing(
    console_server: TrentServer, browser: Any
) -> None:
    server, kms = console_server, kms_of(console_server)
    key_id = kms.create_key(Description="guarded", Tags=[{"TagKey": "team", "TagValue": "payments"}])["KeyMetadata"][
        "KeyId"
    ]
    kms.create_alias(AliasName="alias/guarded", TargetKeyId=key_id)
    policy_before = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    keys_before = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    nobody = new_user(server, "nobody")
    reader = new_user(server, "reader", READ_ONLY)

    # No policy at all: the key list itself is refused, and said so.
    ctx = browser.new_context(viewport=WIDE)
    page = ctx.new_page()
    sign_in(page, server, nobody)
    expect(alert(page, "AccessDeniedException")).to_have_text(re.compile(r"AccessDeniedException: \S"))
    page.goto(f"{server.endpoint}/console/keys/{key_id}")
    expect(alert(page, "AccessDeniedException")).to_have_text(re.compile(r"AccessDeniedException: \S"))
    ctx.close()

    # Read-only: sees the key; every change is refused with AccessDenied.
    ctx = browser.new_context(viewport=WIDE)
    page = ctx.new_page()
    sign_in(page, server, reader)
    assert key_id in key_ids_listed(page)
    key_page = f"{server.endpoint}/console/keys/{key_id}"

    def refused(action: Any) -> None:
        page.goto(key_page)
        expect_state(page, server, key_id, "Enabled")
        action()
        expect(alert(page, "AccessDeniedException")).to_have_text(re.compile(r"AccessDeniedException: \S"))

    refused(lambda: page.get_by_role("button", name="Disable key").click())

    def save_tags() -> None:
        form_with(page, "Save tags").locator("textarea").fill("team=thieves")
        page.get_by_role("button", name="Save tags").click()

    refused(save_tags)

    def save_policy() -> None:
        page.locator("textarea[name=policy]").fill(json.dumps(READ_ONLY))
        page.get_by_role("button", name="Save policy").click()

    refused(save_policy)

    def schedule_deletion() -> None:
        page.locator("input[name=pending_window_days]").fill("7")
        page.get_by_role("button", name="Schedule deletion").click()

    refused(schedule_deletion)

    page.goto(server.endpoint + "/console/keys/new")
    page.get_by_label("Alias").fill("alias/should-not-exist")
    page.get_by_role("button", name="Create key", exact=True).click()
    expect(alert(page, "AccessDeniedException")).to_have_text(re.compile(r"AccessDeniedException: \S"))
    ctx.close()

    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Enabled"
    assert "DeletionDate" not in metadata
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "payments"}]
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy_before
    assert {k["KeyId"] for k in kms.list_keys()["Keys"]} == keys_before
    with pytest.raises(ClientError):
        kms.describe_key(KeyId="alias/should-not-exist")
    denied = cloudtrail_records(server, "DisableKey")
    assert denied, "the refused DisableKey is not in the audit trail"
    assert denied[0].get("errorCode") == "AccessDenied", denied[0]  # as CloudTrail writes a denial
    assert denied[0]["userAgent"].startswith("trent-console/"), denied[0]["userAgent"]


# ----------------------------------------------------------------- CSRF and sign-out


def test_every_post_form_carries_a_csrf_token_and_a_forged_post_is_refused(
    console_server: TrentServer, page: Any
) -> None:
    server, kms = console_server, kms_of(console_server)
    sign_in(page, server, admin(server))
    key_id = create_key_through_form(page, server, alias="alias/csrf")
    new_user(server, "someone")
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    pages = ["/console/keys", "/console/keys/new", f"/console/keys/{key_id}", "/console/aliases"]
    pages += ["/console/identities", "/console/audit", "/console/usage"]
    for path in pages:
        page.goto(server.endpoint + path)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        forms = page.locator("form[method='post' i]")
        assert forms.count() > 0, path
        for index in range(forms.count()):
            token = forms.nth(index).locator("input[type=hidden][name=csrf_token]")
            expect(token).to_have_count(1)
            assert token.get_attribute("value"), (path, index)

    page.goto(f"{server.endpoint}/console/keys/{key_id}")
    form = form_with(page, "Disable key")
    action = form.get_attribute("action") or page.url
    url = action if action.startswith("http") else server.endpoint + action
    fields = form.locator("input[name]").evaluate_all(
        "inputs => Object.fromEntries(inputs.map(i => [i.name, i.value]))"
    )
    button = form.get_by_role("button", name="Disable key")
    if button.get_attribute("name"):
        fields[button.get_attribute("name")] = button.get_attribute("value") or ""
    assert fields.get("csrf_token")
    headers = {"Origin": server.endpoint, "Referer": page.url}

    forged = {name: value for name, value in fields.items() if name != "csrf_token"}
    response = page.request.post(url, form=forged, headers=headers, max_redirects=0)
    assert response.status == 403, (response.status, response.text()[:500])
    assert CSRF_REFUSED in response.text()
    wrong = {**forged, "csrf_token": "A" * len(fields["csrf_token"])}
    response = page.request.post(url, form=wrong, headers=headers, max_redirects=0)
    assert response.status == 403, (response.status, response.text()[:500])
    assert CSRF_REFUSED in response.text()
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    # The same request with the page's token goes through: the token, not the URL, made the difference.
    response = page.request.post(url, form=fields, headers=headers)
    assert response.status == 200, (response.status, response.text()[:500])
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_the_sign_in_forms_carry_a_csrf_token_too(dev_server: TrentServer, page: Any) -> None:
    """ "Every POST form has a hidden csrf_token": the sign-in forms (before any session) included."""
    page.goto(dev_server.endpoint + "/console/sign-in")
    forms = page.locator("form[method='post' i]")
    expect(forms).to_have_count(2)  # access key sign-in, and the dev root's one click
    missing = []
    for index in range(forms.count()):
        token = forms.nth(index).locator("input[type=hidden][name=csrf_token]")
        if token.count() != 1 or not token.get_attribute("value"):
            missing.append(forms.nth(index).get_attribute("action"))
    assert not missing, f"POST forms without a csrf_token: {missing}"


def test_sign_out_ends_the_session(console_server: TrentServer, page: Any, browser: Any) -> None:
    server = console_server
    sign_in(page, server, admin(server))
    old_cookies = page.context.cookies()
    old_header = cookie_header(page.context)
    assert old_cookies
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(SIGN_IN_URL)
    page.goto(server.endpoint + "/console/keys")
    expect(page).to_have_url(SIGN_IN_URL)

    # The old cookie, replayed, is no session any more.
    replay = browser.new_context(viewport=WIDE)
    replay.add_cookies([{k: v for k, v in c.items() if k != "partitionKey"} for c in old_cookies])
    other = replay.new_page()
    other.goto(server.endpoint + "/console/keys")
    expect(other).to_have_url(SIGN_IN_URL)
    replay.close()
    status, _, body = raw_get(server.endpoint + "/console/keys", old_header)
    assert status in {302, 303, 307, 401, 403}, status
    assert 'id="keys"' not in body


def test_an_idle_session_expires(tmp_path: Path, page: Any) -> None:
    server = TrentServer(tmp_path / "data", dev=False, env={"TRENT_CONSOLE_IDLE_SECONDS": "2"}).start()
    try:
        sign_in(page, server, admin(server))
        page.goto(server.endpoint + "/console/aliases")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        time.sleep(3)  # the idle timeout itself: nothing on the page to wait for
        page.goto(server.endpoint + "/console/keys")
        expect(page).to_have_url(SIGN_IN_URL)
    finally:
        server.stop()


# ----------------------------------------------------------------- pages and screenshots


PAGES = ["sign-in", "keys", "create-key", "key-detail", "aliases", "identities", "audit", "audit-event", "usage"]
DOC_PAGES = {"sign-in", "keys", "create-key", "key-detail", "aliases", "identities", "audit", "usage"}


def _prepare(server: TrentServer) -> dict[str, str]:
    """Some state for pages worth looking at: keys of several kinds, aliases, a user, traffic."""
    kms = kms_of(server)
    orders = kms.create_key(
        Description="Card numbers of the orders service",
        Tags=[{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": "prod"}],
    )["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=orders)
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Description="Release signing")
    kms.create_alias(AliasName="alias/release-signing", TargetKeyId=signing["KeyMetadata"]["KeyId"])
    kms.create_key(MultiRegion=True, Description="Replicated session tokens")
    kms.create_key(Origin="EXTERNAL", Description="Bring your own key")
    old = kms.create_key(Description="Retired")["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=old, PendingWindowInDays=30)
    for _ in range(12):
        blob = kms.encrypt(KeyId=orders, Plaintext=b"4111 1111 1111 1111")["CiphertextBlob"]
        kms.decrypt(CiphertextBlob=blob)
    kms.generate_data_key(KeyId=orders, KeySpec="AES_256")
    with contextlib.suppress(ClientError):
        kms.decrypt(CiphertextBlob=b"\x01" * 64)  # an error for the chart
    new_user(server, "alice", READ_ONLY)
    return {"orders": orders}


def _shoot(page: Any, folder: Path, name: str, docs: bool) -> None:
    width = page.viewport_size["width"]
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    if docs and width == WIDE["width"] and name in DOC_PAGES:
        DOCS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_DIR / f"{name}.png"))  # the first screenful, for the README


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280px", "390px"])
def test_every_page_renders_and_is_captured(
    console_server: TrentServer, browser: Any, screenshots: Path, viewport: dict[str, int]
) -> None:
    server = console_server
    ids = _prepare(server)
    docs = os.environ.get("TRENT_CONSOLE_DOCS") == "1"
    ctx = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = ctx.new_page()
    try:
        page.goto(server.endpoint + "/console/sign-in")
        expect(page.get_by_label("Access key ID")).to_be_visible()
        _shoot(page, screenshots, "sign-in", docs)
        credentials = admin(server)
        page.get_by_label("Access key ID").fill(credentials["access_key"])
        page.get_by_label("Secret access key").fill("wrong")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(alert(page, BAD_CREDENTIALS)).to_be_visible()
        _shoot(page, screenshots, "sign-in-error", docs=False)
        sign_in(page, server, credentials)
        expect(page.locator("table#keys")).to_be_visible()
        _shoot(page, screenshots, "keys", docs)
        page.goto(server.endpoint + "/console/keys/new")
        expect(page.get_by_label("Key spec")).to_be_visible()
        _shoot(page, screenshots, "create-key", docs)
        page.goto(f"{server.endpoint}/console/keys/{ids['orders']}")
        expect(page.locator("svg[role='img']").first).to_be_visible()
        _shoot(page, screenshots, "key-detail", docs)
        page.goto(server.endpoint + "/console/aliases")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        _shoot(page, screenshots, "aliases", docs)
        page.goto(server.endpoint + "/console/identities")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        _shoot(page, screenshots, "identities", docs)
        page.goto(server.endpoint + "/console/audit")
        expect(page.locator("table#events")).to_be_visible()
        _shoot(page, screenshots, "audit", docs)
        page.locator("table#events a[href*='/console/audit/']").first.click()
        expect(page.locator("pre").first).to_be_visible()
        _shoot(page, screenshots, "audit-event", docs)
        page.goto(server.endpoint + "/console/usage")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        _shoot(page, screenshots, "usage", docs)
    finally:
        ctx.close()
    width = viewport["width"]
    missing = [name for name in PAGES if not (screenshots / f"{name}-{width}.png").is_file()]
    assert not missing, missing
    print(f"console screenshots ({width} px): {screenshots}")


def test_aliases_identities_and_usage_pages(console_server: TrentServer, page: Any) -> None:
    server = console_server
    ids = _prepare(server)
    sign_in(page, server, admin(server))
    nav = page.get_by_role("navigation")
    nav.get_by_role("link", name="Aliases", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/aliases(\?.*)?$"))
    expect(page.get_by_text("alias/orders").first).to_be_visible()
    expect(page.locator(f"a[href$='/console/keys/{ids['orders']}']").first).to_be_visible()
    nav.get_by_role("link", name="Identities", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/identities(\?.*)?$"))
    expect(page.get_by_text("alice").first).to_be_visible()
    page.goto(server.endpoint + "/console/usage")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("svg[role='img']").first).to_be_visible()  # the account's requests over time


def test_pages_fit_a_narrow_screen(console_server: TrentServer, browser: Any) -> None:
    """At 390 px no page scrolls sideways as a whole (wide tables may scroll inside their own box)."""
    server = console_server
    ids = _prepare(server)
    ctx = browser.new_context(viewport=NARROW)
    page = ctx.new_page()
    sign_in(page, server, admin(server))
    overflowing = {}
    for path in ["/console/keys", "/console/keys/new", f"/console/keys/{ids['orders']}", "/console/aliases"]:
        page.goto(server.endpoint + path)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW["width"] + 1:
            overflowing[path] = width
    ctx.close()
    assert not overflowing, overflowing


# ----------------------------------------------------------------- import key material as files


def test_import_key_material_with_the_downloaded_zip_and_uploaded_files(
    console_server: TrentServer, page: Any, tmp_path: Path
) -> None:
    """As in AWS's console: download ImportParameters.zip, wrap with openssl as its README says, upload."""
    import shutil
    import subprocess
    import zipfile

    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is needed (.ci/run installs it)")
    server, kms = console_server, kms_of(console_server)
    sign_in(page, server, admin(server))
    key_id = create_key_through_form(page, server, alias="alias/console-byok", origin="EXTERNAL")
    expect(state_cell(page, "PendingImport")).to_be_visible()
    page.get_by_label("Wrapping algorithm").select_option("RSAES_OAEP_SHA_256")
    page.get_by_label("Wrapping key spec").select_option("RSA_3072")
    with page.expect_download() as download_info:
        page.get_by_role("button", name=re.compile(r"^Download wrapping key and import token")).click()
    archive = tmp_path / "ImportParameters.zip"
    download_info.value.save_as(archive)
    with zipfile.ZipFile(archive) as files:
        assert sorted(files.namelist()) == ["ImportToken.bin", "README.txt", "WrappingPublicKey.bin"]
        files.extractall(tmp_path)
    readme = (tmp_path / "README.txt").read_text()
    assert key_id in readme
    assert "RSA_3072" in readme
    material = tmp_path / "PlaintextKeyMaterial.bin"
    material.write_bytes(os.urandom(32))
    command = readme.split("is wrapped with:\n", 1)[1].split("\nthen upload", 1)[0].replace("\\\n", " ")
    subprocess.run(command, shell=True, cwd=tmp_path, check=True, capture_output=True)  # noqa: S602 - the README's own command
    page.get_by_label("Import token file (ImportToken.bin)").set_input_files(str(tmp_path / "ImportToken.bin"))
    page.get_by_label("Wrapped key material file (EncryptedKeyMaterial.bin)").set_input_files(
        str(tmp_path / "EncryptedKeyMaterial.bin")
    )
    page.get_by_role("button", name="Import key material").click()
    expect(page.get_by_role("status").filter(has_text="Key material imported.")).to_be_visible()
    expect(state_cell(page, "Enabled")).to_be_visible()
    blob = kms.encrypt(KeyId="alias/console-byok", Plaintext=b"bring your own key")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"bring your own key"
    # Pasted material that is not base64 is refused on the page, and nothing is imported.
    page.get_by_label("Import token file (ImportToken.bin)").set_input_files(str(tmp_path / "ImportToken.bin"))
    page.get_by_label("Wrapped key material (base64)").fill("not base64!")
    page.get_by_role("button", name="Import key material").click()
    expect(alert(page, "ValidationException")).to_be_visible()
