"""Browser test of a project's Notifications tab: Debian's chromium driven by Playwright against the live server.

The Acme Engineer opens the tab of a project that never received notifications, enables them, reveals the
secret, narrows the event types, presses Check (the console sends signed test notifications to itself over real
HTTP) and generates a new secret after the confirmation page. The Product/Operation member then reads the same
tab without the secret or any change button. Screenshots: var/screenshots/n17-*.png.
"""

import re

import pytest

from conftest import label, sign_in
from network.models import NotificationSettings, ReceivedNotice

pytestmark = pytest.mark.browser


def message(page, text: str):
    return page.get_by_role("status").filter(has_text=text)


def card(page, heading: str):
    return page.locator("section.card").filter(has=page.get_by_role("heading", name=heading, exact=True))


def test_engineer_enables_checks_and_rotates_notifications(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    project = acme.projects[0]
    base = live_server.url
    tab_url = f"{base}/projects/{project.project_id}/notifications/"
    page = new_page()
    sign_in(page, base, acme.users["engineer"].email)

    # The project's tabs lead to Notifications: never enabled, so the empty state explains and offers to enable.
    page.goto(f"{base}/projects/{project.project_id}/")
    page.get_by_role("navigation", name="Project pages").get_by_role("link", name="Notifications").click()
    expect(page).to_have_url(tab_url)
    expect(page.get_by_role("heading", name="Receive Agora's notifications")).to_be_visible()
    shoot(page, "n17-01-empty-state")

    page.get_by_role("button", name="Enable notifications").click()
    expect(message(page, "Notifications are enabled.")).to_be_visible()
    receiving_end = card(page, "Receiving end")
    expect(receiving_end).to_contain_text("Enabled")
    expect(page.locator("#receiving-url")).to_have_text(f"{base}/webhooks/agora/{project.project_id}/")
    expect(receiving_end.get_by_role("button", name="Copy receiving URL")).to_be_visible()
    settings = NotificationSettings.objects.get(project=project)
    assert settings.secret not in page.content()
    shoot(page, "n17-02-enabled")

    # Reveal: the secret for this page only, with a copy button.
    receiving_end.get_by_role("button", name="Reveal").click()
    expect(page.locator("#notification-secret")).to_have_text(settings.secret)
    expect(card(page, "Receiving end").get_by_role("button", name="Copy secret")).to_be_visible()
    shoot(page, "n17-03-secret-revealed")

    # Narrow the event types (no audience events: high volume) and keep notifications 3 days.
    events = card(page, "Events and retention")
    for code in ("105", "106"):
        events.get_by_role("checkbox", name=re.compile(rf"^{code} ")).uncheck()
    events.get_by_label(label("Keep received notifications for (days)")).fill("3")
    events.get_by_role("button", name="Save").click()
    expect(message(page, "Notification settings saved.")).to_be_visible()
    expect(page.locator("#notification-secret")).to_have_count(0)  # masked again
    settings.refresh_from_db()
    assert (105 in settings.event_types, 106 in settings.event_types, settings.retention_days) == (False, False, 3)

    # Check: one signed test notification per ticked type, sent to the receiving URL over HTTP.
    card(page, "Check").get_by_role("button", name="Check").click()
    results = page.locator("#check-results tbody tr")
    expect(results).to_have_count(len(settings.event_types))
    expect(page.locator("#check-results")).not_to_contain_text("Failed")
    expect(page.locator("#recent-notices")).to_contain_text("test_webhook")
    expect(page.locator("#recent-notices")).to_contain_text("Recorded")
    shoot(page, "n17-04-checked")
    assert ReceivedNotice.objects.filter(project=project, channel_name="test_webhook").count() == len(
        settings.event_types
    )

    # A new secret, after a confirmation page that says what breaks.
    card(page, "Receiving end").get_by_role("link", name="Generate a new secret…").click()
    expect(page.get_by_role("heading", name=f"Generate a new notification secret for {project.name}?")).to_be_visible()
    shoot(page, "n17-05-confirm-rotate")
    page.get_by_role("button", name="Generate a new secret").click()
    expect(page).to_have_url(tab_url)
    expect(message(page, "A new secret was generated.")).to_be_visible()
    old_secret = settings.secret
    settings.refresh_from_db()
    assert settings.secret != old_secret
    shoot(page, "n17-06-rotated")

    # Check again with the new secret: still passing (the console signs with what it stores).
    card(page, "Check").get_by_role("button", name="Check").click()
    expect(page.locator("#check-results tbody tr")).to_have_count(len(settings.event_types))
    expect(page.locator("#check-results")).not_to_contain_text("Failed")

    # Product/Operation reads the tab: no secret, no change button, and a sentence saying who can see it.
    viewer = new_page()
    sign_in(viewer, base, acme.users["product_operation"].email)
    viewer.goto(tab_url)
    expect(viewer.get_by_text("cannot see the secret")).to_be_visible()
    for name in ("Reveal", "Check", "Save"):
        expect(viewer.get_by_role("button", name=name)).to_have_count(0)
    expect(viewer.get_by_role("link", name="Generate a new secret…")).to_have_count(0)
    assert settings.secret not in viewer.content()
    shoot(viewer, "n17-07-read-only")
