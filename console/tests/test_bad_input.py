"""Bad input never produces a 500: every URL of the console, GET and POST, with junk parameters."""

import pytest
from django.apps import apps as django_apps
from django.db.models import CharField, JSONField, TextField
from django.db.models.functions import Cast
from django.urls import reverse

from conftest import PASSWORD
from console.crypto import EncryptedTextField

from .html_forms import PageForm, post_forms
from .test_permission_matrix import EXPECTATIONS, objects  # noqa: F401  (the fixture)

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
}


@pytest.mark.parametrize("who", ["anonymous", "admin", "engineer"])
def test_junk_never_causes_a_server_error(who, acme, objects, client):  # noqa: F811
    for name in sorted(EXPECTATIONS):
        url = reverse(name, kwargs=objects.get(name, {}))
        for method in (client.get, client.post):
            if who != "anonymous":
                client.force_login(acme.users[who])  # again: the junk may have signed out
            response = method(url, JUNK)
            assert response.status_code < 500, f"{method.__name__.upper()} {url} as {who}: {response.status_code}"


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


def page_forms(client, who: str, objects: dict) -> list[tuple[str, PageForm]]:  # noqa: F811
    """(page URL, form) for every POST form with text fields on every HTML page `who` may open."""
    found = []
    for name in sorted(EXPECTATIONS):
        if name.startswith(("api_", "agora_")) or EXPECTATIONS[name].anonymous != 200 and who == "anonymous":
            continue
        url = reverse(name, kwargs=objects.get(name, {}))
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for form in post_forms(response.content.decode(), url):
            if form.text_fields(*ONE_LINE_KINDS, "textarea"):
                found.append((url, form))
    return found


def stored_anywhere(text: str) -> list[str]:
    """Every model field of the console's apps whose stored text contains `text`."""
    hits = []
    for model in django_apps.get_models():
        if model._meta.app_label not in ("accounts", "projects", "tokens", "usage", "billing", "sessions"):
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField) or not isinstance(field, CharField | TextField | JSONField):
                continue
            rows = model._default_manager.annotate(_text=Cast(field.attname, TextField()))
            if rows.filter(_text__contains=text).exists():
                hits.append(f"{model._meta.label}.{field.name}")
    return hits


def shows_an_error_on(response, field_name: str) -> bool:
    page = response.content.decode()
    return f'id="id_{field_name}_error"' in page or 'class="form-errors"' in page


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_form_refuses_line_breaks_in_one_line_text_and_oversized_text(who, acme, objects, client):  # noqa: F811
    if who == "admin":
        client.force_login(acme.users["admin"])
    walked = set()
    for url, form in page_forms(client, who, objects):
        for field_name in form.text_fields(*ONE_LINE_KINDS, "textarea"):
            attacks = [OVERSIZED_VALUE]
            if form.kinds[field_name] != "textarea":
                attacks.append(LINE_BREAK_VALUE)
            for value in attacks:
                data = {**form.values, field_name: value}
                for name, kind in form.kinds.items():
                    if kind == "password":
                        data[name] = PASSWORD  # past password re-entry, to reach the field under attack
                response = client.post(form.action, data)
                where = f"{form.action} ({url}) field {field_name!r} = {value[:30]!r}…"
                assert response.status_code < 500, where
                assert response.status_code >= 400 or shows_an_error_on(response, field_name), where
                assert not stored_anywhere(MARK), f"{where}: stored in {stored_anywhere(MARK)}"
                if who == "admin":
                    client.force_login(acme.users["admin"])
            walked.add(field_name)
    expected = {
        "anonymous": {"username", "name", "email", "organization"},
        "admin": {"name", "email", "reference", "reason", "company_name", "address", "tax_id", "channel", "token"},
    }[who]
    assert expected <= walked, f"the walker did not reach {sorted(expected - walked)}"
