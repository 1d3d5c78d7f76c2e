"""Browser test of the live channels pages: Debian's chromium driven by Playwright against the live server, with
the built-in sandbox playing the network (its signed notifications reach the console over real HTTP).

The sandbox plays a few minutes of a live show on Acme's first project and leaves its users online. The
Engineer opens Channels & calls, the project's live channels and the channel, kicks a member of the audience
(the console asks the sandbox, which pushes the user out and notifies the console: leave reason 3), sees them
gone, then bans a UID for 30 minutes and lifts the ban. Screenshots: var/screenshots/n17-live-*.png.
"""

import random

import pytest

from conftest import sign_in
from network import ncs, sandbox_network, sandbox_traffic, services
from network.models import ChannelUser, KickingRule, ReceivedNotice

pytestmark = pytest.mark.browser


@pytest.fixture
def live_show(live_server, acme, settings):
    """A live channel with a host and an audience, online now, known to the console through its webhooks."""
    settings.SITE_URL = live_server.url
    settings.USAGE_SANDBOX = True
    settings.USAGE_UPSTREAM_URL = f"{live_server.url}/sandbox"
    project = acme.projects[0]
    services.enable(None, project)
    report, delivered = sandbox_traffic.run(
        project, minutes=5, users=12, console_url=live_server.url, draw=random.Random(5), mix={"live": 1}
    )
    assert delivered is not None and delivered.failed == 0
    online = ChannelUser.objects.filter(project=project, online=True)
    assert online.filter(role=ncs.AUDIENCE).exists(), report
    return project, online.filter(role=ncs.AUDIENCE).order_by("channel_name", "uid").first()


def test_engineer_watches_a_channel_kicks_and_bans(live_server, acme, live_show, new_page, shoot):
    from playwright.sync_api import expect

    project, viewer = live_show
    base = live_server.url
    page = new_page()
    sign_in(page, base, acme.users["engineer"].email)

    page.goto(f"{base}/channels/")
    expect(page.get_by_role("heading", name="Channels & calls")).to_be_visible()
    shoot(page, "n17-live-01-index")
    page.get_by_role("link", name=project.name, exact=True).click()
    expect(
        page.get_by_role("navigation", name="Project pages").get_by_role("link", name="Live channels")
    ).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("users online")).to_be_visible()
    shoot(page, "n17-live-02-channels")

    page.get_by_role("link", name=viewer.channel_name, exact=True).click()
    audience = page.locator("section.card").filter(has=page.get_by_role("heading", name="Audience"))
    row = audience.get_by_role("row").filter(has=page.get_by_text(str(viewer.uid), exact=True))
    expect(row).to_be_visible()
    shoot(page, "n17-live-03-channel")

    row.get_by_role("link", name="Kick").click()
    expect(page.get_by_role("heading", name=f"Remove UID {viewer.uid} from {viewer.channel_name}?")).to_be_visible()
    shoot(page, "n17-live-04-kick-confirm")
    page.get_by_role("button", name="Remove from channel").click()
    expect(page.get_by_role("status").filter(has_text=f"UID {viewer.uid} was removed")).to_be_visible()

    sandbox_network.wait_for_deliveries()  # the sandbox tells the console of the leave (reason 3)
    viewer.refresh_from_db()
    assert not viewer.online and viewer.leave_reason == 3
    assert ReceivedNotice.objects.filter(project=project, uid=viewer.uid, payload__reason=3).exists()
    page.reload()
    expect(audience.get_by_text(str(viewer.uid), exact=True)).to_have_count(0)
    shoot(page, "n17-live-05-after-kick")

    # A ban of that UID in this channel for 30 minutes, then lifted.
    page.get_by_role("link", name="Ban or mute…").click()
    page.get_by_label("UID").fill(str(viewer.uid))
    page.get_by_label("For (minutes)").fill("30")
    shoot(page, "n17-live-06-ban-form")
    page.get_by_role("button", name="Apply the rule").click()
    rules = page.locator("section.card").filter(has=page.get_by_role("heading", name="Bans and mutes in force"))
    expect(rules.get_by_text(f"UID {viewer.uid} in {viewer.channel_name}")).to_be_visible()
    assert KickingRule.objects.filter(project=project, uid=viewer.uid).exists()
    shoot(page, "n17-live-07-ban-listed")
    rules.get_by_role("link", name="Lift").click()
    page.get_by_role("button", name="Lift the rule").click()
    expect(page.get_by_role("status").filter(has_text="Lifted")).to_be_visible()
    assert not KickingRule.objects.exists()
