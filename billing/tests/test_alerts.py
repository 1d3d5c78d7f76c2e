"""Usage alerts: firing once per threshold per month to the members with billing or usage rights (e-mail and
the bell), the check after a real usage pull, and the alerts page with its permissions."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEntry, Membership, Notification, Role, User
from accounts.permissions import BUILTIN_ROLES, MODULES_BY_KEY
from billing.alerts import MAX_ALERTS, check_alerts, create_alert
from billing.models import PRICE_FIELDS, AlertFiring, PriceBook, UsageAlert
from billing.services import save_price_book
from conftest import PASSWORD, run_together
from usage.models import DailyUsage, PullRun
from usage.pulling import create_run, execute_run

TODAY = date(2026, 11, 20)
ALERTS_URL = "/billing/alerts/"


def add_usage(project, day, **seconds):
    DailyUsage.objects.create(project=project, date=day, **seconds)


def minutes(count: int) -> int:
    return count * 60


def alert(org, metric="minutes", threshold="1000"):
    return UsageAlert.objects.create(organization=org.organization, metric=metric, threshold=Decimal(threshold))


def may_view(levels: dict, module: str) -> bool:
    ranks = MODULES_BY_KEY[module]
    return ranks.rank(levels.get(module, "none")) >= ranks.rank("view")


def builtin_recipient_keys() -> set[str]:
    """Read from the role definitions: the built-in roles with billing or usage view."""
    return {role.key for role in BUILTIN_ROLES if may_view(role.levels, "billing") or may_view(role.levels, "usage")}


def member_with_levels(org, email: str, levels: dict) -> User:
    role = Role.objects.create(organization=org.organization, name=email.split("@")[0], levels=levels)
    user = User.objects.create_user(email, PASSWORD)
    Membership.objects.create(user=user, organization=org.organization, role=role)
    return user


@pytest.fixture
def fire(django_capture_on_commit_callbacks):
    """check_alerts as the pull's receiver runs it: the e-mails leave when the transaction commits."""

    def run(organization, today=TODAY):
        with django_capture_on_commit_callbacks(execute=True):
            return check_alerts(organization, today=today)

    return run


# Firing -----------------------------------------------------------------------------------------


def test_crossing_a_threshold_fires_once_a_month_by_mail_and_the_bell(acme, fire, mailoutbox):
    threshold = alert(acme, "minutes", "1000")
    add_usage(acme.projects[0], date(2026, 11, 2), audio=minutes(999))
    assert fire(acme.organization) == []
    assert mailoutbox == [] and not Notification.objects.exists()

    add_usage(acme.projects[1], date(2026, 11, 19), video_hd=minutes(1))  # 1,000 minutes: reached
    fired = fire(acme.organization)
    assert [(f.alert, f.month, f.value) for f in fired] == [(threshold, date(2026, 11, 1), Decimal(1000))]

    recipients = {acme.users[key].email for key in builtin_recipient_keys()}
    assert sorted(to for message in mailoutbox for to in message.to) == sorted(recipients)
    for message in mailoutbox:  # one message per person: nobody sees the others' addresses
        assert len(message.to) == 1 and message.cc == [] and message.bcc == []
        assert message.subject == "[Acme] Usage alert: 1,000 minutes reached"
        assert "Acme has used 1,000 minutes so far in November 2026 (UTC)" in message.body
    notified = Notification.objects.filter(organization=acme.organization, read_at__isnull=True)
    assert sorted(notified.values_list("recipient__email", flat=True)) == sorted(recipients)

    add_usage(acme.projects[0], date(2026, 11, 20), audio=minutes(5_000))  # further usage, same month
    assert fire(acme.organization) == []
    assert len(mailoutbox) == len(recipients) and notified.count() == len(recipients)
    assert AlertFiring.objects.count() == 1


def test_the_mails_leave_only_when_the_firing_is_committed(acme, django_capture_on_commit_callbacks, mailoutbox):
    alert(acme, "minutes", "10")
    add_usage(acme.projects[0], date(2026, 11, 2), audio=minutes(10))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        check_alerts(acme.organization, today=TODAY)
    assert mailoutbox == [] and len(callbacks) == 1
    callbacks[0]()
    assert len(mailoutbox) == len(builtin_recipient_keys())


def test_recipients_are_the_active_members_with_billing_or_usage_view_of_that_organization(
    acme, globex, fire, mailoutbox
):
    billing_only = member_with_levels(acme, "billing-viewer@acme.test", {"billing": "view"})
    auditor = member_with_levels(acme, "auditor@acme.test", {"audit": "view", "projects": "view"})
    gone = member_with_levels(acme, "gone@acme.test", {"billing": "manage"})
    gone.is_active = False
    gone.save()
    alert(acme, "minutes", "100")
    alert(globex, "minutes", "100")
    add_usage(acme.projects[0], date(2026, 11, 3), audio=minutes(100))

    fire(acme.organization)
    fire(globex.organization)  # Globex has no usage: its alert does not fire

    expected = {acme.users[key].email for key in builtin_recipient_keys()} | {billing_only.email}
    assert {to for message in mailoutbox for to in message.to} == expected
    assert auditor.email not in expected and gone.email not in expected
    assert not Notification.objects.filter(recipient__in=globex.users.values()).exists()
    assert set(Notification.objects.values_list("recipient__email", flat=True)) == expected


def test_billing_viewers_are_sent_to_the_alerts_page_and_usage_only_members_to_the_usage_report(acme, fire):
    alert(acme, "minutes", "100")
    add_usage(acme.projects[0], date(2026, 11, 3), audio=minutes(100))
    fire(acme.organization)
    links = dict(Notification.objects.values_list("recipient__email", "link"))
    for key, user in acme.users.items():
        role = next(role for role in BUILTIN_ROLES if role.key == key)
        if may_view(role.levels, "billing"):
            assert links[user.email] == "/billing/alerts/"
        elif may_view(role.levels, "usage"):
            assert links[user.email] == "/usage/"


def test_an_amount_alert_fires_on_the_estimated_bill(acme, fire, mailoutbox):
    low, high = alert(acme, "amount", "15.00"), alert(acme, "amount", "20.00")
    add_usage(acme.projects[0], date(2026, 11, 1), video_2k=minutes(1_000), audio=minutes(10_000))  # USD 15.99
    fired = fire(acme.organization)
    assert [(f.alert, f.value) for f in fired] == [(low, Decimal("15.99"))]
    assert not high.firings.exists()
    assert mailoutbox[0].subject == "[Acme] Usage alert: estimated bill reached USD 15.00"
    assert "The estimated bill of Acme is USD 15.99 so far in November 2026 (UTC)" in mailoutbox[0].body


def test_several_thresholds_crossed_at_once_each_fire_once(acme, fire, mailoutbox):
    for threshold in ("100", "200", "300"):
        alert(acme, "minutes", threshold)
    add_usage(acme.projects[0], date(2026, 11, 3), audio=minutes(250))
    assert sorted(f.alert.threshold for f in fire(acme.organization)) == [Decimal(100), Decimal(200)]
    assert len(mailoutbox) == 2 * len(builtin_recipient_keys())


def test_a_new_month_starts_from_zero_and_fires_again(acme, fire, mailoutbox):
    threshold = alert(acme, "minutes", "500")
    add_usage(acme.projects[0], date(2026, 11, 3), audio=minutes(600))
    assert len(fire(acme.organization)) == 1
    assert fire(acme.organization, today=date(2026, 12, 5)) == []  # December so far: no usage yet
    add_usage(acme.projects[0], date(2026, 12, 4), audio=minutes(500))
    assert len(fire(acme.organization, today=date(2026, 12, 5))) == 1
    assert list(threshold.firings.order_by("month").values_list("month", flat=True)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]
    assert len(mailoutbox) == 2 * len(builtin_recipient_keys())


def test_an_alert_added_after_its_threshold_was_crossed_fires_on_the_next_check(acme, fire):
    add_usage(acme.projects[0], date(2026, 11, 3), audio=minutes(5_000))
    assert fire(acme.organization) == []  # no alert yet
    late = create_alert(acme.membership("finance"), "minutes", Decimal(1000))
    assert [f.alert for f in fire(acme.organization)] == [late]


def this_month_usage(org, **seconds):
    """Usage today (UTC), so that the month-to-date figures an alert reads include it."""
    add_usage(org.projects[0], timezone.now().date(), **seconds)


def test_an_alert_set_below_this_months_figure_fires_when_it_is_created(
    acme, django_capture_on_commit_callbacks, mailoutbox
):
    # 20,000 minutes of 2K: 10,000 free, 10,000 x 15.99 / 1000 = USD 159.90 estimated.
    this_month_usage(acme, video_2k=minutes(20_000))
    with django_capture_on_commit_callbacks(execute=True):
        by_amount = create_alert(acme.membership("finance"), "amount", Decimal(50))
        by_minutes = create_alert(acme.membership("finance"), "minutes", Decimal(20_000))
        above = create_alert(acme.membership("finance"), "amount", Decimal(160))
    assert by_amount.firings.get().value == Decimal("159.90")
    assert by_minutes.firings.get().value == Decimal(20_000)  # reached exactly
    assert not above.firings.exists()
    assert len(mailoutbox) == 2 * len(builtin_recipient_keys())


def test_saving_a_price_book_checks_the_amount_alerts_at_once(acme, django_capture_on_commit_callbacks):
    this_month_usage(acme, video_2k=minutes(20_000))  # USD 159.90 at list prices
    watching = create_alert(acme.membership("finance"), "amount", Decimal(200))
    assert not watching.firings.exists()
    values = {"effective_from": timezone.now().date().replace(day=1), "free_minutes": 0, "discount_bands": []}
    values.update({field: Decimal("20") for field in PRICE_FIELDS.values()})  # 20,000 x 20 / 1000 = USD 400
    with django_capture_on_commit_callbacks(execute=True):
        save_price_book(acme.membership("finance"), None, values)
    assert watching.firings.get().value == Decimal("400.00")


def test_the_page_says_reached_as_soon_as_an_alert_is_added(acme, client_for):
    this_month_usage(acme, video_2k=minutes(20_000))
    client = client_for(acme.users["finance"])
    client.post(ALERTS_URL, {"metric": "amount", "threshold": "50"})
    html = client.get(ALERTS_URL).content.decode()
    assert "USD 159.90" in html and html.count("Fired</span>") == 1 and "Not reached" not in html


def test_without_a_price_book_minutes_alerts_still_fire_and_amount_alerts_wait(acme, fire):
    PriceBook.objects.all().delete()
    by_minutes, by_amount = alert(acme, "minutes", "100"), alert(acme, "amount", "0.01")
    add_usage(acme.projects[0], date(2026, 11, 3), video_2k=minutes(20_000))
    assert [f.alert for f in fire(acme.organization)] == [by_minutes]
    assert not by_amount.firings.exists()


@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_fire_an_alert_once(acme, postgres, mailoutbox):
    alert(acme, "minutes", "100")
    add_usage(acme.projects[0], date(2026, 11, 3), audio=minutes(100))
    outcomes = run_together(*[lambda: check_alerts(acme.organization, today=TODAY)] * 4)
    assert outcomes == [None] * 4
    assert AlertFiring.objects.count() == 1
    assert len(mailoutbox) == len(builtin_recipient_keys())
    assert Notification.objects.count() == len(builtin_recipient_keys())


# After a usage pull -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the sandbox answers from the live server's thread
def test_a_usage_pull_that_stored_rows_checks_the_alerts(acme, live_server, settings, mailoutbox):
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    today = timezone.now().date()
    # This month's usage of the second project is already stored; the pull brings the first project's
    # usage of an earlier month. The rows it writes announce usage_updated, and billing checks its alerts.
    add_usage(acme.projects[1], today, audio=minutes(2_000))
    threshold = alert(acme, "minutes", "2000")
    earlier = today.replace(day=1) - timedelta(days=40)
    run = execute_run(
        create_run(acme.organization, earlier, earlier + timedelta(days=2), trigger="command", project=acme.projects[0])
    )
    assert run.status == PullRun.Status.SUCCEEDED, run.error
    assert run.rows_written == 3
    firing = AlertFiring.objects.get()
    assert (firing.alert, firing.month) == (threshold, today.replace(day=1))
    assert len(mailoutbox) == len(builtin_recipient_keys())
    assert Notification.objects.filter(organization=acme.organization).count() == len(builtin_recipient_keys())

    again = execute_run(create_run(acme.organization, earlier, earlier, trigger="command", project=acme.projects[0]))
    assert again.status == PullRun.Status.SUCCEEDED and again.rows_written == 1
    assert AlertFiring.objects.count() == 1 and len(mailoutbox) == len(builtin_recipient_keys())


# The alerts page --------------------------------------------------------------------------------


def test_the_page_shows_this_months_figures_and_the_alerts(acme, client_for):
    add_usage(acme.projects[0], timezone.now().date(), video_2k=minutes(1_000), audio=minutes(10_000))
    fired = alert(acme, "minutes", "5000")
    alert(acme, "amount", "250.50")
    AlertFiring.objects.create(alert=fired, month=timezone.now().date().replace(day=1), value=Decimal(11_000))
    page = client_for(acme.users["finance"]).get(ALERTS_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "11,000 minutes" in html and "USD 15.99" in html  # this month so far
    assert "5,000 minutes" in html and "USD 250.50" in html
    assert html.count("Fired</span>") == 1 and html.count("Not reached") == 1
    assert 'aria-current="page">Usage alerts<' in html
    assert "Add an alert" in html


def test_billing_managers_add_an_alert_and_it_is_audited(acme, client_for):
    client = client_for(acme.users["finance"])
    response = client.post(ALERTS_URL, {"metric": "amount", "threshold": "120.5"})
    assert response.status_code == 302 and response["Location"] == ALERTS_URL
    created = UsageAlert.objects.get()
    assert (created.organization, created.metric, created.threshold) == (
        acme.organization,
        "amount",
        Decimal("120.50"),
    )
    assert created.created_by == acme.users["finance"]
    entry = AuditEntry.objects.get(action="billing.alert_created")
    assert entry.organization == acme.organization and entry.actor == acme.users["finance"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"metric": "minutes", "threshold": "0"}, "threshold", "greater than or equal to 0.01"),
        ({"metric": "minutes", "threshold": "-5"}, "threshold", "greater than or equal to 0.01"),
        ({"metric": "minutes", "threshold": "10.5"}, "threshold", "whole number of minutes"),
        ({"metric": "amount", "threshold": "1.234"}, "threshold", "2 decimal places"),
        ({"metric": "amount", "threshold": "lots"}, "threshold", "Enter a number"),
        ({"metric": "seconds", "threshold": "10"}, "metric", "Select a valid choice"),
        ({}, "metric", "required"),
    ],
)
def test_bad_thresholds_are_refused_with_a_message(acme, client_for, data, field, message):
    response = client_for(acme.users["admin"]).post(ALERTS_URL, data)
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not UsageAlert.objects.exists()


def test_a_duplicate_threshold_is_a_field_error(acme, client_for):
    alert(acme, "minutes", "1000")
    response = client_for(acme.users["admin"]).post(ALERTS_URL, {"metric": "minutes", "threshold": "1000.00"})
    assert response.status_code == 200
    assert response.context["form"].errors["threshold"] == ["There is an alert at this threshold already."]
    assert UsageAlert.objects.count() == 1
    other_metric = client_for(acme.users["admin"]).post(ALERTS_URL, {"metric": "amount", "threshold": "1000"})
    assert other_metric.status_code == 302 and UsageAlert.objects.count() == 2


def test_an_organization_has_at_most_twenty_alerts(acme, client_for):
    for n in range(MAX_ALERTS):
        alert(acme, "minutes", str(1000 + n))
    response = client_for(acme.users["admin"]).post(ALERTS_URL, {"metric": "minutes", "threshold": "99"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"An organization has at most {MAX_ALERTS} usage alerts; delete one first."
    ]
    assert UsageAlert.objects.count() == MAX_ALERTS


@pytest.mark.parametrize("key", ["product_operation", "cs_maintenance", "engineer"])
def test_members_without_billing_view_cannot_see_or_add_alerts(acme, client_for, key):
    client = client_for(acme.users[key])
    assert client.get(ALERTS_URL).status_code == 403
    assert client.post(ALERTS_URL, {"metric": "minutes", "threshold": "10"}).status_code == 403
    assert not UsageAlert.objects.exists()


def test_billing_viewers_see_the_alerts_but_cannot_add_or_delete(acme, client_for):
    viewer = member_with_levels(acme, "viewer@acme.test", {"billing": "view"})
    existing = alert(acme, "minutes", "1000")
    client = client_for(viewer)
    page = client.get(ALERTS_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "1,000 minutes" in html and "Add an alert" not in html and f"/alerts/{existing.pk}/delete/" not in html
    assert client.post(ALERTS_URL, {"metric": "minutes", "threshold": "10"}).status_code == 403
    delete_url = f"/billing/alerts/{existing.pk}/delete/"
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url).status_code == 403
    assert list(UsageAlert.objects.all()) == [existing]


def test_deleting_an_alert_goes_through_the_confirmation_and_is_audited(acme, client_for):
    existing = alert(acme, "amount", "99.90")
    client = client_for(acme.users["finance"])
    url = f"/billing/alerts/{existing.pk}/delete/"
    confirm_page = client.get(url)
    assert confirm_page.status_code == 200
    assert "Delete this usage alert?" in confirm_page.content.decode()
    assert UsageAlert.objects.exists()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == ALERTS_URL
    assert not UsageAlert.objects.exists()
    entry = AuditEntry.objects.get(action="billing.alert_deleted")
    assert entry.organization == acme.organization and entry.details["threshold"] == "99.90"


def test_another_organizations_alert_is_not_found(acme, globex, client_for):
    theirs = alert(globex, "minutes", "1000")
    client = client_for(acme.users["admin"])
    assert client.get(f"/billing/alerts/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/billing/alerts/{theirs.pk}/delete/").status_code == 404
    assert UsageAlert.objects.filter(pk=theirs.pk).exists()
    assert "1,000 minutes" not in client.get(ALERTS_URL).content.decode()
