"""The console's Identities section: roles, users, access keys and inline policies, against `trent serve`.

HTTP-level tests (urllib with a cookie jar, redirects not followed) share one non-dev server; the
browser tests run Chromium against a server of their own. Every change is checked twice: through
boto3 against the same server, and in the audit trail (CloudTrail LookupEvents), where the console's
records carry a userAgent that starts with ``trent-console/``.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, TrentServer
from tests.console.conftest import WIDE, Browserless, admin, expect, sign_in

pytestmark = pytest.mark.timeout(180)

BASE = "/console/identities"
CSRF_REFUSED = "CSRF token missing or invalid"
ALLOW_KMS_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:List*", "kms:Describe*"], "Resource": "*"}],
}


def trust(principal: str = f"arn:aws:iam::{ACCOUNT_ID}:root") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}],
        }
    )


def kms_policy(action: str = "kms:Encrypt") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


# ----------------------------------------------------------------- an HTTP client with a session


class Console(Browserless):
    """One signed-in console session whose POSTs carry its CSRF token."""

    def __init__(self, server: TrentServer, credentials: dict[str, str]) -> None:
        super().__init__(server, user_agent="console-identities-test/1")
        self.token = ""  # the sign-in form brings its own
        status, _, body = self.sign_in(credentials["access_key"], credentials["secret_key"])
        assert status == 303, body
        self.token = self.csrf(BASE)

    def post(self, path: str, form: dict[str, str], *, csrf: bool = True) -> tuple[int, Any, str]:
        return super().post(path, {"csrf_token": self.token, **form} if csrf else form)


def redirected_to(answer: tuple[int, Any, str], location: str) -> None:
    status, headers, body = answer
    assert (status, headers["location"]) == (303, location), body[:2000]


def inline_error(body: str, element_id: str) -> str:
    """The text of the role=alert paragraph a form shows beside itself."""
    match = re.search(rf'<p class="alert" role="alert" id="{element_id}">([^<]*)</p>', body)
    assert match is not None, body
    return html.unescape(match.group(1))


def textarea(body: str, element_id: str) -> str:
    match = re.search(rf'<textarea id="{element_id}"[^>]*>([^<]*)</textarea>', body)
    assert match is not None, body
    return html.unescape(match.group(1))


def console_records(server: TrentServer, event_name: str, **parameters: str) -> list[dict[str, Any]]:
    """The console's records of one IAM operation whose requestParameters include ``parameters``."""
    trail = server.client("cloudtrail", **admin(server))
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}], MaxResults=50
    )["Events"]
    records = [json.loads(event["CloudTrailEvent"]) for event in events]
    return [
        r
        for r in records
        if r["userAgent"].startswith("trent-console/")
        and r["eventSource"] == "iam.amazonaws.com"
        and all((r.get("requestParameters") or {}).get(k) == v for k, v in parameters.items())
    ]


def audited(server: TrentServer, event_name: str, error_code: str | None = None, **parameters: str) -> dict[str, Any]:
    """The newest console record of ``event_name`` (with that outcome), waiting briefly for it."""
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in console_records(server, event_name, **parameters) if r.get("errorCode") == error_code]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert found, f"no console record of {event_name} {parameters} with errorCode {error_code}"
    record = found[0]
    assert record["readOnly"] is (event_name.startswith(("Get", "List"))), record
    return record


def code_of(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def new_user(server: TrentServer, name: str, policy: dict[str, Any] | None = None) -> dict[str, str]:
    iam = server.client("iam", **admin(server))
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrentServer]:
    srv = TrentServer(Path(tmp_path_factory.mktemp("console-identities")) / "data", dev=False).start()
    yield srv
    srv.stop()


@pytest.fixture
def console(server: TrentServer) -> Console:
    return Console(server, admin(server))


@pytest.fixture
def iam(server: TrentServer) -> Any:
    return server.client("iam", **admin(server))


# ----------------------------------------------------------------- roles and their inline policies


def test_create_role_with_a_trust_policy_and_an_invalid_one_shown_inline(
    server: TrentServer, console: Console, iam: Any
) -> None:
    status, _, body = console.get(BASE)
    assert status == 200
    # The form starts with a trust policy for the account's own principals.
    assert json.loads(textarea(body, "new_role_trust"))["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"
    }

    status, _, body = console.post(
        f"{BASE}/roles", {"role_name": "broken-trust", "assume_role_policy_document": '{"Statement": ['}
    )
    assert status == 400
    assert inline_error(body, "new-role-error").startswith("MalformedPolicyDocument: ")
    assert textarea(body, "new_role_trust") == '{"Statement": ['  # as typed, to correct
    assert 'aria-invalid="true"' in body
    assert 'value="broken-trust"' in body
    with pytest.raises(ClientError) as info:
        iam.get_role(RoleName="broken-trust")
    assert code_of(info.value) == "NoSuchEntity"
    audited(server, "CreateRole", "MalformedPolicyDocument", roleName="broken-trust")

    # A trust policy with a Resource is an identity policy's shape: refused too.
    status, _, body = console.post(
        f"{BASE}/roles", {"role_name": "resourceful", "assume_role_policy_document": kms_policy()}
    )
    assert status == 400
    assert "Resource" in inline_error(body, "new-role-error")

    # A name outside IAM's pattern is refused with the model's wording, and audited.
    status, _, body = console.post(f"{BASE}/roles", {"role_name": "no spaces", "assume_role_policy_document": trust()})
    assert status == 400
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in body

    redirected_to(
        console.post(
            f"{BASE}/roles",
            {"role_name": "app-role", "description": "The app", "assume_role_policy_document": trust()},
        ),
        f"{BASE}/roles/app-role",
    )
    role = iam.get_role(RoleName="app-role")["Role"]
    assert role["Description"] == "The app"
    status, _, body = console.get(f"{BASE}/roles/app-role")
    assert status == 200
    assert 'role="alert"' not in body
    assert "Role app-role created." in body
    assert role["Arn"] in body
    assert "sts:AssumeRole" in body
    status, _, body = console.get(BASE)
    assert f'href="{BASE}/roles/app-role"' in body
    record = audited(server, "CreateRole", roleName="app-role")
    assert record["userAgent"].endswith("console-identities-test/1")
    assert record["userIdentity"]["accessKeyId"] == admin(server)["access_key"]

    # The same name again: EntityAlreadyExists, beside the form.
    status, _, body = console.post(f"{BASE}/roles", {"role_name": "app-role", "assume_role_policy_document": trust()})
    assert status == 400
    assert inline_error(body, "new-role-error").startswith("EntityAlreadyExists: ")


def test_put_view_edit_and_delete_a_role_policy_then_delete_the_role(
    server: TrentServer, console: Console, iam: Any
) -> None:
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=trust())
    page = f"{BASE}/roles/worker"

    # Invalid JSON: shown beside the form, the text kept, nothing stored.
    status, _, body = console.post(
        f"{page}/policies", {"policy_name": "encrypt", "policy_document": '{"Version": "2012-10-17",'}
    )
    assert status == 400
    assert inline_error(body, "policy-error").startswith("MalformedPolicyDocument: ")
    assert textarea(body, "policy_document") == '{"Version": "2012-10-17",'
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == []
    audited(server, "PutRolePolicy", "MalformedPolicyDocument", roleName="worker", policyName="encrypt")

    redirected_to(console.post(f"{page}/policies", {"policy_name": "encrypt", "policy_document": kms_policy()}), page)
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["encrypt"]
    stored = iam.get_role_policy(RoleName="worker", PolicyName="encrypt")["PolicyDocument"]
    assert stored["Statement"][0]["Action"] == "kms:Encrypt"
    audited(server, "PutRolePolicy", roleName="worker", policyName="encrypt")
    status, _, body = console.get(page)
    assert f'href="{page}/policies/encrypt"' in body

    # Its own page shows the document, and edits it; an invalid edit is shown inline there.
    status, _, body = console.get(f"{page}/policies/encrypt")
    assert status == 200
    assert json.loads(textarea(body, "policy_document"))["Statement"][0]["Action"] == "kms:Encrypt"
    audited(server, "GetRolePolicy", roleName="worker", policyName="encrypt")
    status, _, body = console.post(f"{page}/policies/encrypt", {"policy_document": '{"Statement": []}'})
    assert status == 400
    assert inline_error(body, "policy-error").startswith("MalformedPolicyDocument: ")
    assert textarea(body, "policy_document") == '{"Statement": []}'
    redirected_to(console.post(f"{page}/policies/encrypt", {"policy_document": kms_policy("kms:Decrypt")}), page)
    stored = iam.get_role_policy(RoleName="worker", PolicyName="encrypt")["PolicyDocument"]
    assert stored["Statement"][0]["Action"] == "kms:Decrypt"

    redirected_to(console.post(f"{page}/policies/encrypt/delete", {}), page)
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == []
    audited(server, "DeleteRolePolicy", roleName="worker", policyName="encrypt")
    status, _, body = console.post(f"{page}/policies/encrypt/delete", {})
    assert status == 404
    assert "NoSuchEntity: " in body

    # Delete the role: refused without the ticked box; with it, its policies go first.
    iam.put_role_policy(RoleName="worker", PolicyName="left-over", PolicyDocument=kms_policy())
    status, _, body = console.post(f"{page}/delete", {})
    assert status == 400
    assert "Tick the confirmation box" in body
    assert iam.get_role(RoleName="worker")["Role"]["RoleName"] == "worker"
    redirected_to(console.post(f"{page}/delete", {"confirm": "yes"}), BASE)
    with pytest.raises(ClientError) as info:
        iam.get_role(RoleName="worker")
    assert code_of(info.value) == "NoSuchEntity"
    audited(server, "DeleteRolePolicy", roleName="worker", policyName="left-over")
    audited(server, "DeleteRole", roleName="worker")
    status, _, body = console.get(page)
    assert status == 404


# ----------------------------------------------------------------- users and access keys


def test_deactivate_activate_and_delete_an_access_key(server: TrentServer, console: Console, iam: Any) -> None:
    redirected_to(console.post(f"{BASE}/users", {"user_name": "key-holder"}), f"{BASE}/users/key-holder")
    iam.put_user_policy(UserName="key-holder", PolicyName="whoami", PolicyDocument=kms_policy("kms:ListKeys"))
    status, _, body = console.post(f"{BASE}/access-keys", {"user_name": "key-holder"})
    assert status == 200
    key_id = html.unescape(re.search(r'id="new-access-key-id">([^<]+)<', body).group(1))  # type: ignore[union-attr]
    secret = html.unescape(re.search(r'id="new-secret-access-key">([^<]+)<', body).group(1))  # type: ignore[union-attr]
    created = audited(server, "CreateAccessKey", userName="key-holder")
    assert secret not in json.dumps(created)  # the secret is shown once and never recorded
    kms = server.client("kms", access_key=key_id, secret_key=secret)
    kms.list_keys()
    page = f"{BASE}/users/key-holder"
    status, _, body = console.get(page)
    assert f'aria-label="Deactivate access key {key_id}"' in body

    def refused() -> None:
        with pytest.raises(ClientError) as info:
            kms.list_keys()
        assert code_of(info.value) == "UnrecognizedClientException"

    form = {"user_name": "key-holder"}
    redirected_to(console.post(f"{BASE}/access-keys/{key_id}/status", {**form, "status": "Inactive"}), page)
    assert [k["Status"] for k in iam.list_access_keys(UserName="key-holder")["AccessKeyMetadata"]] == ["Inactive"]
    refused()
    record = audited(server, "UpdateAccessKey", accessKeyId=key_id, status="Inactive")
    assert record["requestParameters"]["userName"] == "key-holder"
    status, _, body = console.get(page)
    assert f"Access key {key_id} deactivated." in body
    assert f'aria-label="Activate access key {key_id}"' in body

    redirected_to(console.post(f"{BASE}/access-keys/{key_id}/status", {**form, "status": "Active"}), page)
    kms.list_keys()  # works again
    audited(server, "UpdateAccessKey", accessKeyId=key_id, status="Active")

    # A status IAM does not know is refused, and changes nothing.
    status, _, body = console.post(f"{BASE}/access-keys/{key_id}/status", {**form, "status": "Sideways"})
    assert status == 400
    assert "ValidationError: " in body
    kms.list_keys()

    # Delete: the box must be ticked; then the key is gone and authenticates nothing.
    status, _, body = console.post(f"{BASE}/access-keys/{key_id}/delete", form)
    assert status == 400
    assert "Tick the confirmation box" in body
    kms.list_keys()
    redirected_to(console.post(f"{BASE}/access-keys/{key_id}/delete", {**form, "confirm": "yes"}), page)
    assert iam.list_access_keys(UserName="key-holder")["AccessKeyMetadata"] == []
    refused()
    audited(server, "DeleteAccessKey", accessKeyId=key_id, userName="key-holder")


def test_delete_a_user_policy_then_the_user_after_confirming(server: TrentServer, console: Console, iam: Any) -> None:
    credentials = new_user(server, "leaver", ALLOW_KMS_READ)
    iam.put_user_policy(UserName="leaver", PolicyName="second", PolicyDocument=kms_policy())
    page = f"{BASE}/users/leaver"
    status, _, body = console.get(page)
    assert status == 200
    assert credentials["access_key"] in body
    assert f'href="{page}/policies/leaver-policy"' in body
    assert "first deletes its 1 access key and 2 inline policies" in body
    assert 'role="alert"' not in body  # the admin may read all of it

    redirected_to(console.post(f"{page}/policies/second/delete", {}), page)
    assert iam.list_user_policies(UserName="leaver")["PolicyNames"] == ["leaver-policy"]
    audited(server, "DeleteUserPolicy", userName="leaver", policyName="second")

    # An inline user policy through the user's page, the invalid one shown inline.
    status, _, body = console.post(f"{page}/policies", {"policy_name": "third", "policy_document": "not json"})
    assert status == 400
    assert inline_error(body, "policy-error").startswith("MalformedPolicyDocument: ")
    redirected_to(console.post(f"{page}/policies", {"policy_name": "third", "policy_document": kms_policy()}), page)
    assert sorted(iam.list_user_policies(UserName="leaver")["PolicyNames"]) == ["leaver-policy", "third"]
    audited(server, "PutUserPolicy", userName="leaver", policyName="third")

    status, _, body = console.post(f"{page}/delete", {"confirm": "no"})
    assert status == 400
    assert "Tick the confirmation box" in body
    assert iam.get_user(UserName="leaver")["User"]["UserName"] == "leaver"

    redirected_to(console.post(f"{page}/delete", {"confirm": "yes"}), BASE)
    with pytest.raises(ClientError) as info:
        iam.get_user(UserName="leaver")
    assert code_of(info.value) == "NoSuchEntity"
    with pytest.raises(ClientError):
        server.client("kms", **credentials).list_keys()
    audited(server, "DeleteAccessKey", userName="leaver", accessKeyId=credentials["access_key"])
    audited(server, "DeleteUserPolicy", userName="leaver", policyName="leaver-policy")
    audited(server, "DeleteUserPolicy", userName="leaver", policyName="third")
    audited(server, "DeleteUser", userName="leaver")
    status, _, body = console.get(BASE)
    assert "User leaver deleted." in body
    assert f'href="{page}"' not in body


def test_own_access_keys_are_listed_with_the_session_key_marked(server: TrentServer, console: Console) -> None:
    status, _, body = console.get(BASE)
    assert status == 200
    assert f"<code>{admin(server)['access_key']}</code> <strong>(this session)</strong>" in body


# ----------------------------------------------------------------- paging


@pytest.mark.parametrize("kind", ["users", "roles"])
def test_users_and_roles_are_listed_a_page_at_a_time(
    server: TrentServer, console: Console, iam: Any, kind: str
) -> None:
    names = {f"paged-{kind}-{n:02d}" for n in range(7)}
    for name in names:
        if kind == "users":
            iam.create_user(UserName=name)
        else:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust())
    table = re.compile(rf'<table id="{kind}">(.*?)</table>', re.S)
    link = re.compile(rf'href="{BASE}/{kind}/(paged-{kind}-\d\d)"')
    seen: list[str] = []
    path: str | None = f"{BASE}?max_items=3"
    pages = 0
    while path is not None:
        status, _, body = console.get(path)
        assert status == 200
        rows = link.findall(table.search(body).group(1))  # type: ignore[union-attr]
        assert len(rows) <= 3
        seen += rows
        pages += 1
        following = re.search(rf'<a href="([^"]+)" rel="next">Next {kind}</a>', body)
        path = html.unescape(following.group(1)) if following else None
        if path is not None:
            assert "max_items=3" in path
            assert f"First page of {kind}" in body or pages == 1
    assert seen == sorted(seen)  # in IAM's order, no item twice
    assert set(seen) >= names
    assert pages >= 3
    record = audited(server, "ListUsers" if kind == "users" else "ListRoles")
    assert record["requestParameters"]["maxItems"] == 3


# ----------------------------------------------------------------- authorization and CSRF


def test_a_forged_post_without_the_csrf_token_is_refused_and_changes_nothing(
    server: TrentServer, console: Console, iam: Any
) -> None:
    iam.create_user(UserName="kept")
    forged = [
        (f"{BASE}/roles", {"role_name": "forged", "assume_role_policy_document": trust()}),
        (f"{BASE}/users/kept/delete", {"confirm": "yes"}),
        (f"{BASE}/users/kept/policies", {"policy_name": "forged", "policy_document": kms_policy()}),
    ]
    for path, form in forged:
        for token in ({}, {"csrf_token": "A" * len(console.token)}):
            status, _, body = console.post(path, {**form, **token}, csrf=False)
            assert status == 403, (path, body[:500])
            assert CSRF_REFUSED in body
    with pytest.raises(ClientError):
        iam.get_role(RoleName="forged")
    assert iam.get_user(UserName="kept")["User"]["UserName"] == "kept"
    assert iam.list_user_policies(UserName="kept")["PolicyNames"] == []
    # The same form with the session's token goes through: the token made the difference.
    redirected_to(console.post(*forged[0]), f"{BASE}/roles/forged")


def test_a_user_without_iam_permission_sees_access_denied_and_changes_nothing(server: TrentServer, iam: Any) -> None:
    iam.create_role(RoleName="guarded", AssumeRolePolicyDocument=trust())
    iam.create_user(UserName="guarded-user")
    nobody = Console(server, new_user(server, "no-iam", ALLOW_KMS_READ))
    status, _, body = nobody.get(BASE)
    assert status == 200
    assert len(re.findall(r'role="alert">AccessDenied\w*: User: \S+ is not authorized to perform: iam:', body)) == 3
    attempts = [
        (f"{BASE}/roles", {"role_name": "sneaky", "assume_role_policy_document": trust()}),
        (f"{BASE}/roles/guarded/policies", {"policy_name": "p", "policy_document": kms_policy()}),
        (f"{BASE}/roles/guarded/delete", {"confirm": "yes"}),
        (f"{BASE}/users/guarded-user/delete", {"confirm": "yes"}),
        (f"{BASE}/users", {"user_name": "sneaky-user"}),
    ]
    for path, form in attempts:
        status, _, body = nobody.post(path, form)
        assert status == 403, (path, body[:1000])
        assert re.search(r'role="alert"[^>]*>AccessDenied\w*: ', body), (path, body[:2000])
    assert iam.get_role(RoleName="guarded")["Role"]["RoleName"] == "guarded"
    assert iam.list_role_policies(RoleName="guarded")["PolicyNames"] == []
    assert iam.get_user(UserName="guarded-user")["User"]["UserName"] == "guarded-user"
    with pytest.raises(ClientError) as info:
        iam.get_role(RoleName="sneaky")
    assert code_of(info.value) == "NoSuchEntity"
    with pytest.raises(ClientError) as info:
        iam.get_user(UserName="sneaky-user")
    assert code_of(info.value) == "NoSuchEntity"
    denied = audited(server, "CreateRole", "AccessDenied", roleName="sneaky")
    assert denied["userIdentity"]["userName"] == "no-iam"
    # Deleting a user starts with its access keys: the first refusal stops it.
    audited(server, "ListAccessKeys", "AccessDenied", userName="guarded-user")


# ----------------------------------------------------------------- in a browser


# Every visible form control named by a <label> (or aria-label), every button by its text: a list of misses.
_UNLABELLED = """() => {
  const missing = [];
  for (const el of document.querySelectorAll('main input:not([type=hidden]), main textarea, main select')) {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) missing.push(el.outerHTML);
  }
  for (const b of document.querySelectorAll('button')) {
    if (!b.textContent.trim()) missing.push(b.outerHTML);
  }
  return missing;
}"""


def accessible_and_tokened(page: Any) -> None:
    assert page.evaluate(_UNLABELLED) == [], page.url
    forms = page.locator("form[method='post' i]")
    for index in range(forms.count()):
        token = forms.nth(index).locator("input[type=hidden][name=csrf_token]")
        expect(token).to_have_count(1)
        assert token.get_attribute("value"), (page.url, index)


def test_roles_users_and_keys_through_the_browser(console_server: TrentServer, page: Any, browser: Any) -> None:
    server = console_server
    iam = server.client("iam", **admin(server))
    sign_in(page, server, admin(server))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Identities", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/identities$"))
    accessible_and_tokened(page)

    # Create a role; its page opens.
    page.get_by_label("Role name").fill("browser-role")
    page.get_by_label("Description (optional)").fill("Made in Chromium")
    page.get_by_role("button", name="Create role").click()
    expect(page).to_have_url(re.compile(r"/console/identities/roles/browser-role$"))
    expect(page.get_by_role("status")).to_have_text("Role browser-role created.")
    accessible_and_tokened(page)

    # An invalid inline policy: the reason beside the textarea, the text kept.
    page.get_by_label("Policy name").fill("encrypt")
    page.get_by_label("Policy document (JSON)").fill('{"Statement": "nope"')
    page.get_by_role("button", name="Save policy").click()
    error = page.locator("#policy-error")
    expect(error).to_have_text(re.compile(r"^MalformedPolicyDocument: "))
    expect(page.get_by_label("Policy document (JSON)")).to_have_value('{"Statement": "nope"')
    expect(page.get_by_label("Policy document (JSON)")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Policy document (JSON)").fill(kms_policy())
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_have_text("Policy encrypt saved for role browser-role.")
    assert iam.list_role_policies(RoleName="browser-role")["PolicyNames"] == ["encrypt"]
    page.get_by_role("link", name="encrypt", exact=True).click()
    expect(page.get_by_label("Policy document (JSON)")).to_have_value(re.compile("kms:Encrypt"))
    accessible_and_tokened(page)
    page.get_by_role("button", name="Delete policy").click()
    expect(page.get_by_role("status")).to_have_text("Policy encrypt deleted from role browser-role.")
    assert iam.list_role_policies(RoleName="browser-role")["PolicyNames"] == []

    # Deleting needs the box ticked (the browser itself insists: the checkbox is required).
    page.get_by_label("Yes, delete role browser-role").check()
    page.get_by_role("button", name="Delete role").click()
    expect(page).to_have_url(re.compile(r"/console/identities$"))
    expect(page.get_by_role("status")).to_have_text("Role browser-role deleted.")
    with pytest.raises(ClientError):
        iam.get_role(RoleName="browser-role")

    # A user with a key: deactivate it (boto3 is refused), delete it, delete the user.
    page.get_by_label("User name", exact=True).first.fill("browser-user")
    page.get_by_role("button", name="Create user").click()
    expect(page).to_have_url(re.compile(r"/console/identities/users/browser-user$"))
    accessible_and_tokened(page)
    page.get_by_role("button", name="Create access key").click()
    key_id = page.locator("#new-access-key-id").inner_text()
    secret = page.locator("#new-secret-access-key").inner_text()
    kms = server.client("kms", access_key=key_id, secret_key=secret)
    with pytest.raises(ClientError) as info:
        kms.list_keys()  # authenticated, but no policy allows it
    assert code_of(info.value) == "AccessDeniedException"
    page.goto(f"{server.endpoint}{BASE}/users/browser-user")
    page.get_by_role("button", name=f"Deactivate access key {key_id}").click()
    expect(page.get_by_role("status")).to_have_text(f"Access key {key_id} deactivated.")
    with pytest.raises(ClientError) as info:
        kms.list_keys()
    assert code_of(info.value) == "UnrecognizedClientException"
    page.get_by_label(f"Confirm deleting {key_id}").check()
    page.get_by_role("button", name=f"Delete access key {key_id}").click()
    expect(page.get_by_role("status")).to_have_text(f"Access key {key_id} deleted.")
    assert iam.list_access_keys(UserName="browser-user")["AccessKeyMetadata"] == []
    page.get_by_label("Yes, delete user browser-user").check()
    page.get_by_role("button", name="Delete user").click()
    expect(page.get_by_role("status")).to_have_text("User browser-user deleted.")
    with pytest.raises(ClientError):
        iam.get_user(UserName="browser-user")
    for event in ("CreateRole", "PutRolePolicy", "DeleteRolePolicy", "DeleteRole", "CreateUser", "UpdateAccessKey"):
        assert console_records(server, event), event
    assert console_records(server, "DeleteAccessKey", accessKeyId=key_id)
    assert console_records(server, "DeleteUser", userName="browser-user")

    # Without IAM permissions: AccessDenied, as alerts, and a refused change.
    ctx = browser.new_context(viewport=WIDE)
    other = ctx.new_page()
    sign_in(other, server, new_user(server, "browser-nobody", ALLOW_KMS_READ))
    other.goto(server.endpoint + BASE)
    expect(other.get_by_role("alert").filter(has_text="iam:ListUsers")).to_have_text(re.compile(r"^AccessDenied"))
    other.get_by_label("Role name").fill("not-allowed")
    other.get_by_role("button", name="Create role").click()
    expect(other.locator("#new-role-error")).to_have_text(re.compile(r"^AccessDenied\w*: .*iam:CreateRole"))
    ctx.close()
    with pytest.raises(ClientError):
        iam.get_role(RoleName="not-allowed")
