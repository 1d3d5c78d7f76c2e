"""Browser test of the call inspector (Debian's chromium driven by Playwright against the live server): the
Product/Operation member searches the project's calls, opens one, chooses users and reads their charts and key
events, then the Quality tab. Screenshots land in var/screenshots/17c-*.png so a person can judge the pages.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from network import ncs
from network.models import Call, CallSession
from network.tests.call_data import make_call, notice

pytestmark = pytest.mark.browser


@pytest.fixture
def traffic(acme):
    """Acme's first project: a 40-minute call with five users an hour ago (one rejoined after a timeout, one
    became audience; user 1002's video froze mid-call), a call in progress known from webhooks only, and a
    few older calls."""
    project = acme.projects[0]
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(hours=1)
    call = make_call(project, start=start, minutes=40, uids=(1001, 1002, 1003, 1004, 1005))
    # 1004 dropped out for two minutes after a timeout, then came back.
    first = CallSession.objects.get(call=call, uid=1004)
    dropped = start + timedelta(minutes=12)
    back = dropped + timedelta(minutes=2)
    CallSession.objects.create(
        project=project,
        call=call,
        sid="F" * 32,
        uid=1004,
        network="4G",
        platform=first.platform,
        region="France:Paris",
        roles=["HOST"],
        sdk_version=first.sdk_version,
        device_type="iPhone 15 (iOS 18.1)",
        joined_at=back,
        left_at=first.left_at,
        finished=True,
    )
    CallSession.objects.filter(pk=first.pk).update(left_at=dropped, network="4G", region="France:Paris")
    notice(project, ncs.BROADCASTER_LEFT, 1004, dropped, reason=2)
    notice(project, ncs.BECAME_AUDIENCE, 1003, start + timedelta(minutes=20))
    Call.objects.create(project=project, channel_name="standup", started_at=now - timedelta(minutes=7))
    for number in range(3):
        make_call(
            project,
            channel=f"lesson-{number}",
            call_id=f"{number:024x}",
            start=now - timedelta(hours=5 + number),
            minutes=25,
            uids=(2001, 2002),
            video_spike_for=None,
            metrics=False,
        )
    return project, call


def test_ops_member_finds_a_call_and_reads_its_charts(live_server, acme, traffic, new_page, shoot):
    from playwright.sync_api import expect

    from conftest import sign_in

    project, call = traffic
    base = live_server.url
    page = new_page()
    sign_in(page, base, acme.users["product_operation"].email)

    # The Calls tab: the last 24 hours, newest first; the bad video freeze rate is marked.
    page.goto(f"{base}/projects/{project.project_id}/")
    page.get_by_role("navigation", name="Project pages").get_by_role("link", name="Calls").click()
    expect(page).to_have_url(re.compile(r"/calls/$"))
    rows = page.locator("table.calls tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("standup")
    expect(rows.first).to_contain_text("In progress")
    room = rows.filter(has_text="room-42")
    expect(room).to_contain_text("7.10%")
    expect(room.locator(".rate-bad")).to_have_count(1)
    shoot(page, "17c-01-calls")

    # A preset applies at once; filters narrow; an empty result says so.
    page.get_by_label("Time range").select_option("1h")
    expect(page).to_have_url(re.compile(r"range=1h"))
    expect(rows).to_have_count(1)
    page.get_by_label("Time range").select_option("24h")
    expect(rows).to_have_count(5)
    # Editing a date switches to a custom range, applied with Search.
    since = (call.started_at - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("From (UTC)").fill(since)
    expect(page.get_by_label("Time range")).to_have_value("custom")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"range=custom"))
    expect(rows).to_have_count(2)  # room-42 and the call in progress
    page.get_by_label("Time range").select_option("24h")
    expect(rows).to_have_count(5)
    page.get_by_label("Status").select_option("ended")
    page.get_by_label("Video freeze ≥ (%)").fill("5")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("room-42")
    shoot(page, "17c-02-calls-filtered")
    page.get_by_label("Channel name or call ID").fill("no-such-channel")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Nothing matches these filters")).to_be_visible()
    page.get_by_role("link", name="Clear filters").first.click()
    expect(rows).to_have_count(5)

    # The call's page: header, users with presence bars, the worst freezing users chosen for the charts.
    rows.filter(has_text="room-42").get_by_role("link", name="Call details").click()
    expect(page.get_by_role("heading", name="Call in room-42")).to_be_visible()
    users = page.locator("table.call-users tbody tr")
    expect(users).to_have_count(5)
    expect(users.filter(has_text="1004")).to_contain_text("2 sessions")
    expect(page.locator("svg.presence")).to_have_count(5)
    expect(page.locator("figure.chart svg path.line").first).to_be_visible()
    shoot(page, "17c-03-call")

    # Choose two users: their sender charts, the receiver side of the first, key events with reasons.
    for box in page.locator("input[data-choose-user]").all():
        box.uncheck()
    page.locator("#choose-1002").check()
    page.locator("#choose-1004").check()
    expect(page.get_by_text("2 of at most 20 users chosen")).to_be_visible()
    page.get_by_role("button", name="Show metrics of the chosen users").click()
    expect(page.get_by_role("heading", name="Sender side")).to_be_visible()
    sender = page.locator("section.metric-side").first
    expect(sender.locator(".legend li")).to_have_count(2)
    loss = sender.locator("figure.chart").filter(has_text="Video upstream packet loss")
    expect(loss).to_contain_text("1 point above 5 %")
    expect(loss.locator("circle.bad-point")).to_have_count(1)
    page.get_by_text("List view").click()
    events = page.locator("table.events tbody tr")
    expect(events.filter(has_text="timed out")).to_have_count(1)
    shoot(page, "17c-04-call-chosen")

    # The receiver side of 1004: what it got from 1002 froze.
    page.get_by_label("Receiving user").select_option("1004")
    expect(page).to_have_url(re.compile(r"receiver=1004"))
    receiver = page.locator("section.metric-side").nth(1)
    freeze = receiver.locator("figure.chart").filter(has_text="Video freeze time")
    expect(freeze.locator("circle.bad-point").first).to_be_visible()
    expect(freeze).to_contain_text("points above 500 ms")
    shoot(page, "17c-05-call-receiver")

    # Quality: calls, peak users, freeze rates with the share of freezing calls; join success as it is known.
    page.get_by_role("navigation", name="Project pages").get_by_role("link", name="Quality", exact=True).click()
    expect(page.get_by_role("heading", name="Peak concurrent users")).to_be_visible()
    expect(page.get_by_text("not reported by the upstream")).to_be_visible()
    expect(page.locator("figure.chart")).to_have_count(4)
    shoot(page, "17c-06-quality")
    page.get_by_role("link", name="Last 7 days").click()
    expect(page).to_have_url(re.compile(r"range=7d"))
    shoot(page, "17c-07-quality-7d")


def test_no_more_than_20_users_can_be_ticked(live_server, acme, new_page):
    from playwright.sync_api import expect

    from conftest import sign_in

    project = acme.projects[0]
    start = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    call = make_call(project, start=start, minutes=10, uids=tuple(range(5001, 5023)), metrics=False)
    page = new_page()
    sign_in(page, live_server.url, acme.users["engineer"].email)
    page.goto(f"{live_server.url}/projects/{project.project_id}/calls/{call.call_id}/?chosen=1")
    boxes = page.locator("input[data-choose-user]")
    expect(boxes).to_have_count(22)
    for index in range(20):
        boxes.nth(index).check()
    expect(page.get_by_text("20 of at most 20 users chosen")).to_be_visible()
    expect(boxes.nth(20)).to_be_disabled()
    boxes.nth(0).uncheck()
    expect(boxes.nth(20)).to_be_enabled()
