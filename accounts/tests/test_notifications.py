"""Notifications: notify(), the bell with its unread count on every console page, the notifications page,
opening one (marks it read) and marking all read."""

import re

import pytest
from django.test import RequestFactory

from accounts.models import Membership, Notification
from accounts.notifications import notify, unread_count
from console.context_processors import console_shell

NOTIFICATIONS_URL = "/notifications/"
READ_ALL_URL = "/notifications/read-all/"


def open_url(notification) -> str:
    return f"/notifications/{notification.pk}/open/"


def bell(html: str) -> str:
    """The bell link of the top bar."""
    match = re.search(r'<a class="bell".*?</a>', html, re.S)
    assert match, "no bell in the page"
    return match.group(0)


@pytest.fixture
def admin(acme):
    return acme.users["admin"]


# notify() ---------------------------------------------------------------------------------------


def test_notify_writes_one_unread_notification_per_person(acme, admin):
    finance = acme.users["finance"]
    rows = notify([admin, finance, admin], acme.organization, "Usage alert", "Body", "/billing/alerts/")
    assert len(rows) == 2
    assert sorted(Notification.objects.values_list("recipient__email", flat=True)) == sorted(
        [admin.email, finance.email]
    )
    assert all(row.read_at is None and row.link == "/billing/alerts/" for row in Notification.objects.all())
    assert unread_count(admin, acme.organization.pk) == 1


def test_notify_refuses_a_link_longer_than_the_field(acme, admin):
    with pytest.raises(ValueError):
        notify([admin], acme.organization, "Title", link="/" + "x" * 400)
    assert not Notification.objects.exists()


# The bell ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/overview/", "/projects/", "/usage/", "/notifications/", "/accounts/profile/"])
def test_the_bell_shows_the_unread_count_on_console_pages(acme, globex, admin, client_for, path):
    notify([admin], acme.organization, "One", link="/billing/")
    notify([admin], acme.organization, "Two", link="/billing/")
    notify([acme.users["finance"]], acme.organization, "Someone else's")
    notify([admin], globex.organization, "Another organization's")  # not counted in Acme
    response = client_for(admin).get(path)
    assert response.status_code == 200
    link = bell(response.content.decode())
    assert 'href="/notifications/"' in link
    assert 'aria-label="Notifications, 2 unread"' in link
    assert '<span class="badge" aria-hidden="true">2</span>' in link


def test_the_bell_has_no_badge_when_everything_is_read(acme, admin, client_for):
    Notification.objects.create(organization=acme.organization, recipient=admin, title="Old")
    Notification.objects.update(read_at="2026-01-01T00:00:00Z")
    link = bell(client_for(admin).get("/overview/").content.decode())
    assert 'aria-label="Notifications, 0 unread"' in link and "badge" not in link


def test_every_role_has_the_bell(acme, client_for):
    for user in acme.users.values():
        assert 'aria-label="Notifications, 0 unread"' in bell(client_for(user).get("/notifications/").content.decode())


def test_the_bell_costs_one_count_query(acme, admin, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = admin
    # As the middleware loads it: with its organization and role.
    request.membership = Membership.objects.select_related("organization", "role").get(user=admin)
    notify([admin], acme.organization, "One")
    with django_assert_num_queries(1):
        shell = console_shell(request)
    assert shell["unread_notifications"] == 1


def test_signed_out_pages_have_no_bell(client):
    assert 'class="bell"' not in client.get("/accounts/login/").content.decode()


# The notifications page -------------------------------------------------------------------------


def test_the_page_lists_my_notifications_here_with_unread_ones_marked(acme, globex, admin, client_for):
    notify([admin], acme.organization, "Usage alert: 1,000 minutes reached", "Acme has used 1,200 minutes.", "/x/")
    (read,) = notify([admin], acme.organization, "An older message", "Already seen.")
    Notification.objects.filter(pk=read.pk).update(read_at="2026-01-01T00:00:00Z")
    notify([acme.users["finance"]], acme.organization, "Finance only")
    notify([admin], globex.organization, "Globex only")
    html = client_for(admin).get(NOTIFICATIONS_URL).content.decode()
    assert "<strong>Usage alert: 1,000 minutes reached</strong>" in html and "Acme has used 1,200 minutes." in html
    assert "An older message" in html and "<strong>An older message</strong>" not in html
    assert html.count('<span class="badge">Unread</span>') == 1
    assert "Finance only" not in html and "Globex only" not in html
    for notification in Notification.objects.filter(recipient=admin, organization=acme.organization):
        assert f'href="{open_url(notification)}"' in html
    assert "Mark all as read" in html


def test_the_page_is_paginated_and_searchable(acme, admin, client_for):
    for n in range(30):
        notify([admin], acme.organization, f"Message {n:02d}")
    client = client_for(admin)
    first = client.get(NOTIFICATIONS_URL).content.decode()
    assert "Message 29" in first and "Message 00" not in first and "Page 1 of 2" in first
    assert "Message 00" in client.get(NOTIFICATIONS_URL + "?page=2").content.decode()
    found = client.get(NOTIFICATIONS_URL + "?q=Message+07").content.decode()
    assert "Message 07" in found and "Message 08" not in found


def test_an_empty_list_says_so_without_a_mark_all_button(acme, client_for):
    html = client_for(acme.users["engineer"]).get(NOTIFICATIONS_URL).content.decode()
    assert "No notifications" in html and "Mark all as read" not in html


# Opening one ------------------------------------------------------------------------------------


def test_opening_a_notification_marks_it_read_and_goes_to_its_link(acme, admin, client_for):
    (notification,) = notify([admin], acme.organization, "Alert", link="/billing/alerts/")
    response = client_for(admin).get(open_url(notification))
    assert response.status_code == 302 and response["Location"] == "/billing/alerts/"
    notification.refresh_from_db()
    first_read = notification.read_at
    assert first_read is not None
    client_for(admin).get(open_url(notification))
    notification.refresh_from_db()
    assert notification.read_at == first_read  # the first reading time stays


@pytest.mark.parametrize("link", ["", "https://evil.test/", "//evil.test/path", "javascript:alert(1)"])
def test_a_notification_without_a_console_link_leads_to_the_list(acme, admin, client_for, link):
    notification = Notification.objects.create(organization=acme.organization, recipient=admin, title="T", link=link)
    response = client_for(admin).get(open_url(notification))
    assert response.status_code == 302 and response["Location"] == NOTIFICATIONS_URL


def test_another_members_notification_is_not_found_and_stays_unread(acme, globex, admin, client_for):
    (theirs,) = notify([acme.users["finance"]], acme.organization, "Finance's", link="/billing/")
    assert client_for(admin).get(open_url(theirs)).status_code == 404
    (outside,) = notify([globex.users["admin"]], globex.organization, "Globex's", link="/billing/")
    assert client_for(admin).get(open_url(outside)).status_code == 404
    assert Notification.objects.filter(read_at__isnull=False).count() == 0


def test_opening_needs_a_signed_in_member(acme, admin, client):
    (notification,) = notify([admin], acme.organization, "Alert", link="/billing/")
    response = client.get(open_url(notification))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    notification.refresh_from_db()
    assert notification.read_at is None


# Marking all read -------------------------------------------------------------------------------


def test_mark_all_read_marks_only_my_notifications_in_this_organization(acme, globex, admin, client_for):
    notify([admin], acme.organization, "One")
    notify([admin], acme.organization, "Two")
    notify([acme.users["finance"]], acme.organization, "Finance's")
    notify([admin], globex.organization, "Globex's")
    response = client_for(admin).post(READ_ALL_URL, {"next": "/projects/"})
    assert response.status_code == 302 and response["Location"] == "/projects/"
    assert unread_count(admin, acme.organization.pk) == 0
    assert unread_count(acme.users["finance"], acme.organization.pk) == 1
    assert unread_count(admin, globex.organization.pk) == 1
    page = client_for(admin).get(NOTIFICATIONS_URL).content.decode()
    assert 'aria-label="Notifications, 0 unread"' in bell(page) and "Mark all as read" not in page


def test_mark_all_read_goes_back_to_the_list_unless_next_is_a_console_path(acme, admin, client_for):
    client = client_for(admin)
    assert client.post(READ_ALL_URL)["Location"] == NOTIFICATIONS_URL
    assert client.post(READ_ALL_URL, {"next": "https://evil.test/"})["Location"] == NOTIFICATIONS_URL


def test_mark_all_read_is_post_only(acme, admin, client_for):
    notify([admin], acme.organization, "One")
    assert client_for(admin).get(READ_ALL_URL).status_code == 405
    assert unread_count(admin, acme.organization.pk) == 1
