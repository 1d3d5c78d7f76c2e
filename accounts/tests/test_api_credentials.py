"""API credentials: the service (Customer ID, secret stored as a keyed hash, the limit, audit), the RESTful
API page (secret shown once, delete with confirmation, who may do what) and `create_api_credential`."""

import io
import logging
import re
from urllib.parse import unquote

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import api_credentials
from accounts.api_credentials import MAX_ACTIVE, create_credential, delete_credential, hash_secret, verify
from accounts.models import ApiCredential, AuditEntry, Membership, Role, User
from conftest import PASSWORD
from console.refusals import RuleViolation

PAGE = "/api-credentials/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # the one-time form ids and the cached pairs must not leak between tests


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def delete_url(pair: ApiCredential) -> str:
    return f"/api-credentials/{pair.pk}/delete/"


def database_dump() -> str:
    """Every row of every table, as text: what someone with a copy of the database would see."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


# The service -------------------------------------------------------------------------------------


def test_a_new_pair_has_a_32_hex_customer_id_and_a_long_random_secret(acme):
    engineer = acme.membership("engineer")
    first = create_credential(engineer, "deploy script")
    second = create_credential(engineer)
    for new in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", new.credential.customer_id)
        assert len(new.secret) >= 32 and len(set(new.secret)) > 16
    assert first.credential.customer_id != second.credential.customer_id
    assert first.secret != second.secret
    assert first.credential.name == "deploy script"
    assert first.credential.membership == engineer and first.credential.organization == acme.organization


def test_only_a_keyed_hash_of_the_secret_is_stored(acme, settings):
    new = create_credential(acme.membership("engineer"), "stored")
    dump = database_dump()
    assert new.credential.customer_id in dump
    assert new.secret not in dump
    stored = ApiCredential.objects.get(pk=new.credential.pk).secret_hash
    assert stored == hash_secret(new.secret) and len(stored) == 64
    # Keyed: the same secret under another server key hashes differently.
    settings.SECRET_KEY = "another-server-key-" + "x" * 40
    assert hash_secret(new.secret) != stored


def test_the_secret_verifies_and_nothing_else_does(acme):
    new = create_credential(acme.membership("engineer"))
    customer_id = new.credential.customer_id
    caller = verify(customer_id, new.secret)
    assert caller is not None and caller.membership.user == acme.users["engineer"]
    assert verify(customer_id, new.secret + "x") is None
    assert verify(customer_id, new.secret[:-1]) is None
    assert verify(customer_id.upper(), new.secret) is None
    assert verify("0" * 32, new.secret) is None
    assert verify("not an id at all " * 20, new.secret) is None


def test_an_organization_has_at_most_ten_pairs(acme):
    engineer, admin = acme.membership("engineer"), acme.membership("admin")
    pairs = [create_credential(engineer if n % 2 else admin).credential for n in range(MAX_ACTIVE)]
    with pytest.raises(RuleViolation, match="10 API credentials"):
        create_credential(admin)
    assert ApiCredential.objects.filter(organization=acme.organization).count() == MAX_ACTIVE
    delete_credential(admin, pairs[0])
    assert create_credential(admin).credential.pk


def test_the_limit_counts_each_organization_apart(acme, globex):
    for _ in range(MAX_ACTIVE):
        create_credential(acme.membership("engineer"))
    assert create_credential(globex.membership("engineer")).credential.organization == globex.organization


def test_creating_and_deleting_are_audited_without_the_secret(acme):
    engineer = acme.membership("engineer")
    new = create_credential(engineer, "audited")
    customer_id = new.credential.customer_id
    delete_credential(acme.membership("admin"), new.credential)
    assert not ApiCredential.objects.filter(customer_id=customer_id).exists()
    entries = AuditEntry.objects.filter(target=customer_id).order_by("id")
    assert [(e.action, e.actor_email, e.organization_id) for e in entries] == [
        ("api_credential.created", "engineer@acme.test", acme.organization.pk),
        ("api_credential.deleted", "admin@acme.test", acme.organization.pk),
    ]
    assert new.secret not in database_dump()


def test_deleting_another_organizations_pair_does_nothing(acme, globex):
    theirs = create_credential(globex.membership("engineer")).credential
    delete_credential(acme.membership("admin"), theirs)
    assert ApiCredential.objects.filter(pk=theirs.pk).exists()
    assert not AuditEntry.objects.filter(action="api_credential.deleted").exists()


# The page ------------------------------------------------------------------------------------------


def test_the_page_explains_the_credentials_and_shows_a_curl_example(acme, client_for):
    response = client_for(acme.users["engineer"]).get(PAGE)
    assert response.status_code == 200
    content = response.content.decode()
    assert "App ID and App Certificate" in content and "Customer ID and Customer Secret" in content
    assert "curl -u CUSTOMER_ID:CUSTOMER_SECRET http://testserver/dev/v1/projects" in content
    assert "Authorization: Basic base64(CUSTOMER_ID:CUSTOMER_SECRET)" in content
    assert "acts as you (engineer@acme.test), with your role <strong>Engineer</strong>" in content
    assert "No API credentials yet" in content
    assert "0 of 10 active pairs" in content


def test_engineer_adds_a_pair_and_sees_the_secret_once(acme, client_for, caplog):
    client = client_for(acme.users["engineer"])
    with caplog.at_level(logging.DEBUG):
        response = client.post(PAGE, {"name": "nightly usage export"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    pair = ApiCredential.objects.get(organization=acme.organization)
    assert pair.name == "nightly usage export" and pair.membership == acme.membership("engineer")
    secret = response.context["created"]["secret"]
    assert verify(pair.customer_id, secret) is not None
    content = response.content.decode()
    assert content.count(secret) >= 2  # the value and its copy button
    assert f"curl -u {pair.customer_id}:{secret} http://testserver/dev/v1/projects" in content
    # The download is made from the page itself: a data: URL named key_and_secret.txt.
    download = re.search(r'href="data:text/plain;charset=utf-8,([^"]+)" download="key_and_secret.txt"', content)
    assert download, "no key_and_secret.txt link"
    text = unquote(download.group(1))
    assert f"Customer ID: {pair.customer_id}\n" in text and f"Customer Secret: {secret}\n" in text
    assert secret not in caplog.text

    # Never again: not on the next page, not in the session or the messages, not in the database.
    later = client.get(PAGE)
    assert later.status_code == 200
    assert pair.customer_id in later.content.decode()
    assert secret not in later.content.decode()
    assert "not stored" in later.content.decode()
    assert secret not in database_dump()


def test_a_resent_form_does_not_add_a_second_pair(acme, client_for):
    client = client_for(acme.users["engineer"])
    submission = client.get(PAGE).context["form"]["submission"].value()
    assert submission
    first = client.post(PAGE, {"name": "once", "submission": submission})
    assert first.status_code == 200 and "created" in first.context
    again = client.post(PAGE, {"name": "once", "submission": submission})  # the browser's "reload"
    assert again.status_code == 302
    assert ApiCredential.objects.filter(organization=acme.organization).count() == 1
    assert "already added" in " ".join(messages_of(again))
    # The page shown with the secret carries a fresh id, so adding another pair from it still works.
    next_submission = first.context["form"]["submission"].value()
    assert next_submission != submission
    assert client.post(PAGE, {"submission": next_submission}).status_code == 200
    assert ApiCredential.objects.filter(organization=acme.organization).count() == 2


def test_a_too_long_name_is_refused_with_a_form_error(acme, client_for):
    response = client_for(acme.users["engineer"]).post(PAGE, {"name": "x" * 61})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert "created" not in response.context
    assert not ApiCredential.objects.exists()


def test_admin_may_add_and_sees_who_each_pair_acts_as(acme, client_for):
    create_credential(acme.membership("engineer"), "engineer's")
    response = client_for(acme.users["admin"]).post(PAGE, {"name": "admin's"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "engineer@acme.test" in content and "admin@acme.test" in content
    assert "2 of 10 active pairs" in content


@pytest.mark.parametrize("role", ["finance", "product_operation", "cs_maintenance"])
def test_roles_without_api_credentials_get_403(acme, client_for, role):
    pair = create_credential(acme.membership("engineer")).credential
    client = client_for(acme.users[role])
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"name": "sneaky"}).status_code == 403
    assert client.get(delete_url(pair)).status_code == 403
    assert client.post(delete_url(pair)).status_code == 403
    assert list(ApiCredential.objects.all()) == [pair]


def test_view_level_sees_the_pairs_but_cannot_add_or_delete(acme, client_for):
    role = Role.objects.create(organization=acme.organization, name="Auditor", levels={"api_credentials": "view"})
    user = User.objects.create_user("auditor@acme.test", PASSWORD)
    Membership.objects.create(user=user, organization=acme.organization, role=role)
    pair = create_credential(acme.membership("engineer")).credential
    client = client_for(user)
    response = client.get(PAGE)
    assert response.status_code == 200
    content = response.content.decode()
    assert pair.customer_id in content and "Add a secret</button>" not in content
    assert delete_url(pair) not in content
    assert client.post(PAGE, {"name": "x"}).status_code == 403
    assert client.post(delete_url(pair)).status_code == 403
    assert ApiCredential.objects.count() == 1


def test_the_eleventh_pair_is_refused_with_a_message(acme, client_for):
    for _ in range(MAX_ACTIVE):
        create_credential(acme.membership("admin"))
    client = client_for(acme.users["engineer"])
    page = client.get(PAGE).content.decode()
    assert "10 of 10 active pairs" in page and "the limit" in page
    assert re.search(r'<button type="submit" class="button primary" disabled', page)
    response = client.post(PAGE, {"name": "eleventh"})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert messages_of(response) == ["An organization can have 10 API credentials: delete one you no longer use."]
    assert ApiCredential.objects.count() == MAX_ACTIVE


def test_deleting_asks_for_confirmation_then_deletes(acme, client_for):
    pair = create_credential(acme.membership("engineer"), "old script").credential
    client = client_for(acme.users["engineer"])
    assert f'href="{delete_url(pair)}"' in client.get(PAGE).content.decode()
    confirmation = client.get(delete_url(pair))
    assert confirmation.status_code == 200
    content = confirmation.content.decode()
    assert pair.customer_id in content and "401" in content and "Delete pair" in content
    assert ApiCredential.objects.filter(pk=pair.pk).exists()  # GET changes nothing
    response = client.post(delete_url(pair))
    assert response.status_code == 302 and response["Location"] == PAGE
    assert not ApiCredential.objects.filter(pk=pair.pk).exists()
    assert f"The pair {pair.customer_id} was deleted" in messages_of(response)[0]
    assert AuditEntry.objects.filter(action="api_credential.deleted", target=pair.customer_id).count() == 1
    assert client.post(delete_url(pair)).status_code == 404  # already gone


def test_another_organizations_pair_is_404(acme, globex, client_for):
    theirs = create_credential(globex.membership("engineer")).credential
    client = client_for(acme.users["admin"])
    assert client.get(delete_url(theirs)).status_code == 404
    assert client.post(delete_url(theirs)).status_code == 404
    assert ApiCredential.objects.filter(pk=theirs.pk).exists()
    assert theirs.customer_id not in client.get(PAGE).content.decode()


def test_usage_shows_in_the_list(acme, client_for):
    pair = create_credential(acme.membership("engineer")).credential
    api_credentials.note_use(pair.pk)
    content = client_for(acme.users["engineer"]).get(PAGE).content.decode()
    pair.refresh_from_db()
    assert pair.use_count == 1 and pair.last_used_at is not None
    assert pair.last_used_at.strftime("%Y-%m-%d %H:%M") in content
    assert '<td class="num">1</td>' in content


# The command ---------------------------------------------------------------------------------------


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("create_api_credential", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_customer_id_and_secret_on_one_line(acme):
    output = run_command("--org", acme.organization.slug)
    found = re.fullmatch(r"([0-9a-f]{32}) (\S{32,})\n", output)
    assert found, repr(output)
    customer_id, secret = found.groups()
    caller = verify(customer_id, secret)
    assert caller is not None and caller.membership.user == acme.users["admin"]  # the owner by default
    assert secret not in database_dump()


def test_the_command_takes_a_member_and_a_name(acme):
    customer_id, secret = run_command(
        "--org", acme.organization.slug, "--member", "Engineer@Acme.test", "--name", "ci"
    ).split()
    pair = ApiCredential.objects.get(customer_id=customer_id)
    assert pair.membership == acme.membership("engineer") and pair.name == "ci"
    assert AuditEntry.objects.filter(action="api_credential.created", target=customer_id).exists()


def test_the_command_refuses_unknown_organizations_members_and_the_limit(acme, globex):
    slug = acme.organization.slug
    with pytest.raises(CommandError, match="No organization"):
        run_command("--org", "no-such-org")
    with pytest.raises(CommandError, match="not a member"):
        run_command("--org", slug, "--member", "admin@globex.test")
    with pytest.raises(CommandError, match="at most 60"):
        run_command("--org", slug, "--name", "x" * 61)
    for _ in range(MAX_ACTIVE):
        run_command("--org", slug)
    with pytest.raises(CommandError, match="10 API credentials"):
        run_command("--org", slug)
    assert ApiCredential.objects.filter(organization=acme.organization).count() == MAX_ACTIVE


def test_the_command_needs_org():
    with pytest.raises(CommandError, match="--org"):
        run_command()


# In a browser --------------------------------------------------------------------------------------


@pytest.mark.browser
def test_engineer_adds_a_secret_downloads_it_and_never_sees_it_again(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    base = live_server.url
    page = new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile(r"^Email:?$")).fill(acme.users["engineer"].email)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/overview/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API credentials").click()
    expect(page.get_by_role("heading", name="RESTful API", exact=True)).to_be_visible()
    shoot(page, "60-api-credentials-empty")
    page.get_by_label("Name (optional)").fill("Nightly usage export")
    page.get_by_role("button", name="Add a secret").click()

    expect(page.get_by_role("heading", name="New pair added: save the Customer Secret now")).to_be_visible()
    pair = ApiCredential.objects.get(organization=acme.organization)
    secret = page.get_by_test_id("new-secret").inner_text()
    assert verify(pair.customer_id, secret) is not None
    expect(page.get_by_role("button", name="Copy Customer Secret")).to_be_visible()
    shoot(page, "61-api-credentials-new-secret")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download key_and_secret.txt").click()
    download = info.value
    assert download.suggested_filename == "key_and_secret.txt"
    text = open(download.path(), encoding="utf-8").read()
    assert text.startswith(f"Customer ID: {pair.customer_id}\nCustomer Secret: {secret}\n")

    page.goto(f"{base}{PAGE}")
    row = page.get_by_role("row").filter(has_text=pair.customer_id)
    expect(row).to_contain_text("Nightly usage export")
    expect(row).to_contain_text("not stored")
    assert secret not in page.content()
    shoot(page, "62-api-credentials-list")
