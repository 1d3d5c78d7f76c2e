"""Bad input never produces a 500: every URL of the console, GET and POST, with junk parameters and with URL
arguments that name nothing. Every form a person can post text to, allauth's sign-in, sign-up, password and
two-factor forms included, refuses control characters in one-line text and oversized text."""

import re
from urllib.parse import urlsplit

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db.models import CharField, JSONField, TextField
from django.db.models.functions import Cast
from django.urls import reverse

from conftest import PASSWORD
from console.crypto import EncryptedTextField

from .html_forms import PageForm, post_forms
from .test_permission_matrix import EXPECTATIONS, HAS_TOTP, objects, sign_in_recently  # noqa: F401  (the fixture)

JUNK = {
    "organization": "abc",
    "email": "not-an-email",
    "username": "' OR 1=1 --",
    "password": "",
    "role": "x",
    "name": "n" * 500,
    "all_projects": "maybe",
    "projects": ["nope", "-1"],
    "level_projects": "superuser",
    "level_members": "",
    "page": "-7",
    "o": "password",
    "q": "%_\\\x00",
    "from": "2026-13-45",
    "to": "yesterday",
    "action": "<script>",
    "status": "'",
    # allauth's fields and parameters
    "login": "' OR 1=1 --",
    "remember": "forever",
    "oldpassword": "\x00",
    "password1": "x",
    "password2": "y",
    "code": "12\r\n34",
    "credential": "{not json",
    "passwordless": "maybe",
    "key": "set-password",
    "account": "-1",
    "next": "https://evil.test/",
}


def stays_on_this_site(response) -> bool:
    """Junk never makes a redirect leave the console (allauth's `next`)."""
    return urlsplit(response.get("Location", "")).netloc in ("", "testserver")


@pytest.mark.parametrize("who", ["anonymous", "admin", "engineer"])
def test_junk_never_causes_a_server_error(who, acme, objects, client):  # noqa: F811
    client.raise_request_exception = False  # every URL is tried; the report lists each failure
    failures = []
    for name in sorted(EXPECTATIONS):
        url = reverse(name, kwargs=objects.get(name, {}))
        for method in (client.get, client.post):
            if who != "anonymous":
                client.force_login(acme.users[who])  # again: the junk may have signed out
            response = method(url, JUNK)
            where = f"{method.__name__.upper()} {url} as {who}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code}")
            if not stays_on_this_site(response):
                failures.append(f"{where}: to {response['Location']}")
    assert not failures, "\n".join(failures)


# URL arguments that name nothing (the matrix's arguments name real objects).
NOTHING = [
    ("sso_callback", {"provider_id": "org-0"}),
    ("sso_callback", {"provider_id": "nonsense"}),
    ("account_confirm_email", {"key": "Zm9v:bar-baz"}),
    ("account_reset_password_from_key", {"uidb36": "z" * 30, "key": "set-password"}),
    ("account_reset_password_from_key", {"uidb36": "0", "key": "x-y"}),
    ("mfa_edit_webauthn", {"pk": 2**62}),
    ("mfa_remove_webauthn", {"pk": 2**62}),
]


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_url_arguments_that_name_nothing_never_cause_a_server_error(who, acme, client):
    client.raise_request_exception = False  # every URL is tried; the report lists each server error
    if who == "admin":
        sign_in_recently(client, acme.users["admin"])
    errors = []
    for name, arguments in NOTHING:
        url = reverse(name, kwargs=arguments)
        for method in (client.get, client.post):
            status = method(url, JUNK).status_code
            if status >= 500:
                errors.append(f"{method.__name__.upper()} {url} as {who}: {status}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "url", ["/projects/new/", "/members/invite/", "/members/roles/new/", "/settings/organization/"]
)
def test_an_empty_post_shows_what_is_missing(url, acme, client):
    client.force_login(acme.users["admin"])
    response = client.post(url, {})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_an_empty_sign_up_post_shows_what_is_missing(db, client):
    response = client.post("/accounts/signup/", {})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


# Every form of every page: control characters and oversized text -----------------------------------------

MARK = "Zq7Walker"
LINE_BREAK_VALUE = f"{MARK}\r\nBcc: x@evil.test"
OVERSIZED_VALUE = MARK + "x" * 20_000  # past every field's maximum (the longest, a pasted token, takes 10,000)
ONE_LINE_KINDS = ("text", "email", "url", "search", "tel")
TYPED_KINDS = (*ONE_LINE_KINDS, "textarea")
# Where typed text is kept: the console's apps, and allauth's (addresses, second factors, third-party accounts).
STORING_APPS = ("accounts", "projects", "tokens", "usage", "billing", "sessions", "account", "mfa", "socialaccount")


def still_signed_in(client, user) -> bool:
    session = client.session
    user.refresh_from_db()
    return session.get(SESSION_KEY) == str(user.pk) and session.get(HASH_SESSION_KEY) == user.get_session_auth_hash()


def page_forms(client, who: str, objects: dict) -> list[tuple[str, PageForm]]:  # noqa: F811
    """(page URL, form) for every POST form with text fields on every HTML page `who` may open."""
    found = []
    for name in sorted(EXPECTATIONS):
        if name.startswith(("api_", "agora_")) or EXPECTATIONS[name].anonymous != 200 and who == "anonymous":
            continue
        url = reverse(name, kwargs=objects.get(name, {}))
        found += forms_on(client, url)
    return found


def forms_on(client, url: str) -> list[tuple[str, PageForm]]:
    response = client.get(url)
    if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
        return []
    return [(url, form) for form in post_forms(response.content.decode(), url) if form.text_fields(*TYPED_KINDS)]


def stored_anywhere(text: str) -> set[str]:
    """Every model field of the storing apps whose stored text contains `text`."""
    hits = set()
    for model in django_apps.get_models():
        if model._meta.app_label not in STORING_APPS:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField) or not isinstance(field, CharField | TextField | JSONField):
                continue
            rows = model._default_manager.annotate(_text=Cast(field.attname, TextField()))
            if rows.filter(_text__contains=text).exists():
                hits.add(f"{model._meta.label}.{field.name}")
    return hits


def shows_an_error_on(response, field_name: str) -> bool:
    """An error at the field, as the console's field template or allauth's field element shows it, or for the
    whole form."""
    page = response.content.decode()
    if f'id="id_{field_name}_error"' in page or 'class="form-errors"' in page:
        return True
    field = re.search(
        rf'<div class="field([^"]*)">(?:(?!<div class="field).)*?name="{re.escape(field_name)}"', page, re.S
    )
    return bool(field) and "has-error" in field.group(1)


def attack(client, form: PageForm, field_name: str, value: str):
    data = {**form.values, field_name: value}
    for name, kind in form.kinds.items():
        if kind == "password":
            data[name] = PASSWORD  # past password re-entry, to reach the field under attack
    return client.post(form.action, data)


def walk(client, forms: list[tuple[str, PageForm]], who: str, stay_signed_in=None) -> tuple[set, list[str]]:
    """Post oversized text to every text field of `forms`, and a line break to every one-line field.

    Returns the (form path, field) pairs walked and what went wrong: a server error, no error shown (nor a
    refusal status), or the text stored."""
    walked, problems, stored = set(), [], stored_anywhere(MARK)
    for url, form in forms:
        for field_name in form.text_fields(*TYPED_KINDS):
            attacks = [OVERSIZED_VALUE] if form.kinds[field_name] == "textarea" else [OVERSIZED_VALUE, LINE_BREAK_VALUE]
            for value in attacks:
                response = attack(client, form, field_name, value)
                where = f"{form.action} ({url}) field {field_name!r} = {value[:30]!r}… as {who}"
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code}")
                elif response.status_code < 400 and not shows_an_error_on(response, field_name):
                    problems.append(f"{where}: accepted ({response.status_code}, no error shown)")
                if newly_stored := stored_anywhere(MARK) - stored:
                    problems.append(f"{where}: stored in {sorted(newly_stored)}")
                    stored |= newly_stored
                if stay_signed_in:
                    stay_signed_in()
            walked.add((urlsplit(form.action).path, field_name))
    return walked, problems


# Fields each walk must reach: the console's by name; allauth's (and the single sign-on entry) by page.
CONSOLE_FIELDS = {
    "anonymous": {"name", "email", "organization"},
    "admin": {"name", "email", "reference", "reason", "company_name", "address", "tax_id", "channel", "token"},
    "finance": {"reference", "reason", "company_name", "address", "tax_id"},
}
ACCOUNT_FIELDS = {
    "anonymous": {
        ("account_login", "login"),
        ("account_signup", "name"),
        ("account_signup", "email"),
        ("account_signup", "organization"),
        ("account_reset_password", "email"),
        ("sso_entry", "email"),
    },
    "admin": {
        ("account_reset_password", "email"),
        ("mfa_activate_totp", "code"),
        ("mfa_add_webauthn", "name"),
        ("mfa_edit_webauthn", "name"),
        ("single_sign_on_settings", "client_id"),
        ("single_sign_on_settings", "allowed_domains"),
    },
    "finance": {("mfa_reauthenticate", "code")},
}


@pytest.mark.parametrize("who", ["anonymous", "admin", *HAS_TOTP])
def test_every_form_refuses_line_breaks_in_one_line_text_and_oversized_text(who, acme, objects, client):  # noqa: F811
    client.raise_request_exception = False  # a server error is one more line of the report
    stay_signed_in = None
    if who != "anonymous":
        user = acme.users[who]
        sign_in_recently(client, user)

        def stay_signed_in():
            if not still_signed_in(client, user):
                sign_in_recently(client, user)  # the junk signed out, or changed the password

    walked, problems = walk(client, page_forms(client, who, objects), who, stay_signed_in)
    missed = CONSOLE_FIELDS[who] - {field for _, field in walked}
    missed |= {(reverse(name, kwargs=objects.get(name, {})), field) for name, field in ACCOUNT_FIELDS[who]} - walked
    if missed:
        problems.append(f"the walker did not reach {sorted(missed, key=str)}")
    assert not problems, "\n".join(problems)


def test_the_second_step_of_a_sign_in_refuses_them_too(acme, objects, client):  # noqa: F811
    """Mid-sign-in, the authenticator app's code form: no attack signs the person in, none fails."""
    client.raise_request_exception = False
    (member,) = (acme.users[who] for who in HAS_TOTP)
    response = client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD})
    page = reverse("mfa_authenticate")
    assert (response.status_code, response["Location"]) == (302, page)
    walked, problems = walk(client, forms_on(client, page), "a member signing in")
    assert not problems, "\n".join(problems)
    assert (page, "code") in walked
    assert SESSION_KEY not in client.session
