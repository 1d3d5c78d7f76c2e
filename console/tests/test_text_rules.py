"""Text people type: one line stays one line, and nothing is unbounded, in forms and in the database."""

import pytest
from django import forms
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from accounts.models import Notification
from accounts.notifications import notify
from billing.models import BillingProfile
from console.forms import Form, TextRules, apply_text_rules
from console.tests.test_api_input import APPS, import_every_module
from console.text import LINE_MAX, TEXT_MAX, refuse_control_characters
from projects.models import Project
from usage.models import ERROR_MAX, PullRun
from usage.pulling import create_run

TWO_MEGABYTES = "A" * 2_000_000


def every_form_class() -> list[type]:
    """Every form class of the console's apps."""
    found, pending = set(), [forms.BaseForm]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        module = cls.__module__
        if module.split(".")[0] in APPS and module != "console.forms" and ".tests" not in module:
            found.add(cls)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def test_every_form_of_the_console_applies_the_text_rules():
    import_every_module()
    found = every_form_class()
    assert {"SignUpForm", "AddPasskeyForm", "RoleForm", "ProjectCreateForm", "PaymentForm", "BillingProfileForm"} <= {
        cls.__name__ for cls in found
    }
    outside = [f"{cls.__module__}.{cls.__qualname__}" for cls in found if not issubclass(cls, TextRules)]
    assert not outside, f"forms not built on console.forms (Form, ModelForm or TextRules): {outside}"


@pytest.mark.parametrize("setting", ["ACCOUNT_FORMS", "MFA_FORMS"])
def test_every_form_the_console_gives_allauth_applies_the_text_rules(setting):
    """The console's own forms in allauth's place. allauth's others are a library's: what they accept is held
    to the same rules page by page (console/tests/test_bad_input.py walks every form, allauth's included)."""
    given = {key: import_string(path) for key, path in getattr(settings, setting, {}).items()}
    outside = [
        f"{key}: {cls.__module__}.{cls.__qualname__}" for key, cls in given.items() if not issubclass(cls, TextRules)
    ]
    assert not outside, f"{setting} names forms not built on console.forms: {outside}"


class Sample(Form):
    line = forms.CharField()
    named_limit = forms.CharField(max_length=20)
    text = forms.CharField(widget=forms.Textarea, required=False)
    secret = forms.CharField(widget=forms.PasswordInput, required=False)
    count = forms.IntegerField(required=False)


@pytest.mark.parametrize("value", ["Two\r\nlines", "Tab\there", "Line\u2028separator", "Bell\x07", "a\x85b"])
def test_one_line_fields_refuse_control_characters(value):
    form = Sample({"line": value, "named_limit": "ok"})
    assert not form.is_valid()
    assert "control characters" in form.errors["line"][0]


def test_a_nul_character_is_refused_too():
    assert not Sample({"line": "Nul\x00", "named_limit": "ok"}).is_valid()


def test_text_areas_and_passwords_keep_their_line_breaks_and_characters():
    form = Sample({"line": "One line", "named_limit": "ok", "text": "Street 1\r\nCity", "secret": "a\tb"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["text"] == "Street 1\r\nCity" and form.cleaned_data["secret"] == "a\tb"


def test_every_text_field_gets_a_maximum_and_keeps_a_smaller_one_of_its_own():
    form = Sample()
    assert form.fields["line"].max_length == LINE_MAX
    assert form.fields["text"].max_length == TEXT_MAX
    assert form.fields["named_limit"].max_length == 20
    assert 'maxlength="255"' in str(form["line"]) and 'maxlength="2000"' in str(form["text"])
    form = Sample({"line": "x" * (LINE_MAX + 1), "named_limit": "y" * 21, "text": "z" * (TEXT_MAX + 1)})
    assert set(form.errors) == {"line", "named_limit", "text"}


def test_applying_the_rules_twice_adds_nothing_twice():
    field = forms.CharField()
    apply_text_rules(field)
    apply_text_rules(field)
    kinds = [type(validator).__name__ for validator in field.validators]
    assert kinds.count("MaxLengthValidator") == 1 and field.validators.count(refuse_control_characters) == 1


def test_fields_added_after_the_form_was_built_are_covered_too():
    form = Sample({"line": "ok", "named_limit": "ok", "late": "a\nb"})
    form.fields["late"] = forms.CharField()
    assert not form.is_valid() and "control characters" in form.errors["late"][0]


# The findings -----------------------------------------------------------------------------------------------


def test_an_organization_name_with_a_mail_header_in_it_is_refused_on_the_page(acme, client):
    client.force_login(acme.users["admin"])
    response = client.post("/settings/organization/", {"name": "Org\r\nBcc: x@evil.test"})
    assert response.status_code == 200 and "control characters" in response.content.decode()
    acme.organization.refresh_from_db()
    assert "Bcc" not in acme.organization.name


def test_a_project_name_with_a_line_break_is_refused_on_the_page(acme, client):
    client.force_login(acme.users["admin"])
    response = client.post("/projects/new/", {"name": "Demo\nproject", "use_case": "other", "region": "global"})
    assert response.status_code == 200 and "control characters" in response.content.decode()
    assert not Project.objects.filter(name__contains="Demo").exists()


def test_a_2_mb_billing_address_is_refused_and_nothing_is_stored(acme, client):
    client.force_login(acme.users["admin"])
    response = client.post("/billing/details/", {"company_name": "Acme", "address": TWO_MEGABYTES})
    assert response.status_code == 200
    assert "at most 2000 characters" in response.content.decode()
    assert not BillingProfile.objects.filter(organization=acme.organization, address__startswith="AAAA").exists()


def test_an_address_at_the_maximum_is_kept_with_its_lines(acme, client):
    client.force_login(acme.users["admin"])
    address = "Street 1\r\n" + "B" * (TEXT_MAX - 10)
    assert len(address) == TEXT_MAX
    response = client.post("/billing/details/", {"company_name": "Acme", "address": address})
    assert response.status_code == 302, response.content.decode()[:500]
    assert BillingProfile.objects.get(organization=acme.organization).address == address


def test_the_database_refuses_an_address_past_the_maximum(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        BillingProfile.objects.create(organization=acme.organization, address="x" * (TEXT_MAX + 1))
    BillingProfile.objects.create(organization=acme.organization, address="x" * TEXT_MAX)


def test_the_database_bounds_notification_bodies_and_pull_errors(acme):
    user = acme.users["admin"]
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(organization=acme.organization, recipient=user, title="t", body="x" * 2001)
    (sent,) = notify([user], acme.organization, "Long", body="y" * 5000)
    assert len(sent.body) == TEXT_MAX
    day = acme.projects[0].created_at.date()
    run = create_run(acme.organization, day, day, trigger=PullRun.Trigger.CONSOLE)
    with pytest.raises(IntegrityError), transaction.atomic():
        PullRun.objects.filter(pk=run.pk).update(error="e" * (ERROR_MAX + 1))
