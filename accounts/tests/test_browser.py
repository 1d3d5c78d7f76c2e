"""Browser tests: Debian's chromium driven by Playwright against pytest-django's live server.

The main story of issue 2: the Acme admin signs in through the real form, invites a Finance member,
the invitee accepts the link from the mail in a second browser context, and the left navigation
follows the member's role when the admin changes it. Screenshots of every main step land in
var/screenshots/ so a person can look at the pages.

Playwright's sync API keeps an asyncio event loop running in this thread, which trips Django's
async-unsafe guard on every ORM call from the test thread (fixtures included). The `chromium`
fixture sets DJANGO_ALLOW_ASYNC_UNSAFE for the time the browser runs and restores it afterwards.
"""

import re

import pytest
from django.core import mail

from conftest import label, sign_in

NEW_MEMBER = "new.finance@acme.test"
NEW_MEMBER_NAME = "Nora Finance"
NEW_MEMBER_PASSWORD = "a-long-unusual-passphrase-42"

pytestmark = pytest.mark.browser


def nav_links(page):
    """The entries of the left navigation (the brand link above the list is not an entry)."""
    return page.get_by_role("navigation", name="Main").get_by_role("list").get_by_role("link")


def message(page, text: str):
    return page.get_by_role("status").filter(has_text=text)


def test_invite_accept_and_role_change_drive_the_navigation(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    base = live_server.url

    # The admin signs in through the real form and opens Members & Roles.
    admin = new_page()
    sign_in(admin, base, acme.users["admin"].email, shoot=shoot)
    expect(admin.get_by_role("heading", name="Acme", exact=True)).to_be_visible()
    shoot(admin, "02-overview-admin")
    nav_links(admin).get_by_text("Members & Roles").click()
    expect(admin.get_by_role("heading", name="Members & Roles")).to_be_visible()
    shoot(admin, "03-members")

    # Invite a member with the role Finance.
    admin.get_by_role("link", name="Invite member").click()
    admin.get_by_label(label("Email")).fill(NEW_MEMBER)
    admin.get_by_label(label("Role")).select_option(label="Finance")
    shoot(admin, "04-invite-form")
    admin.get_by_role("button", name="Send invitation").click()
    expect(message(admin, f"Invitation sent to {NEW_MEMBER}.")).to_be_visible()
    pending = admin.get_by_role("row").filter(has_text=NEW_MEMBER)
    expect(pending).to_contain_text("Finance")
    shoot(admin, "05-invitation-sent")

    # The live server runs in a thread of this process: its locmem outbox is the test's outbox.
    # The mail is sent inside the request, so it is there once the redirect has been rendered.
    assert [m.to for m in mail.outbox] == [[NEW_MEMBER]]
    links = re.findall(r"https?://\S+/invitations/\S+/", mail.outbox[0].body)
    assert len(links) == 1, mail.outbox[0].body
    accept_link = links[0]
    assert accept_link.startswith(f"{base}/invitations/")

    # The invitee opens the link in a second context and creates the account.
    member = new_page()
    member.goto(accept_link)
    expect(member.get_by_role("heading", name="Join Acme")).to_be_visible()
    member.get_by_label(label("Your name")).fill(NEW_MEMBER_NAME)
    member.get_by_label(label("Password")).fill(NEW_MEMBER_PASSWORD)
    member.get_by_label(label("Confirm password")).fill(NEW_MEMBER_PASSWORD)
    shoot(member, "06-accept-invitation")
    member.get_by_role("button", name="Create account and join").click()
    expect(member).to_have_url(f"{base}/overview/")
    expect(message(member, "You joined Acme as Finance.")).to_be_visible()

    # Finance sees exactly what it may open ...
    expect(nav_links(member)).to_have_text(["Overview", "Usage", "Billing"])
    shoot(member, "07-overview-finance")
    # ... and the navigation matches what the server allows.
    assert_opens(member, base, allowed=["/overview/", "/usage/", "/billing/"], denied=["/members/", "/audit/"])

    # The admin changes the new member's role on the members page.
    admin.goto(f"{base}/members/")
    admin.get_by_role("row").filter(has_text=NEW_MEMBER).get_by_role("link", name="Change role").click()
    expect(admin.get_by_role("heading", name=f"Change the role of {NEW_MEMBER}")).to_be_visible()
    admin.get_by_label(label("Role")).select_option(label="CS/Maintenance")
    shoot(admin, "08-change-role")
    admin.get_by_role("button", name="Save").click()
    expect(message(admin, f"{NEW_MEMBER} now has the role CS/Maintenance.")).to_be_visible()
    expect(admin.get_by_role("row").filter(has_text=NEW_MEMBER)).to_contain_text("CS/Maintenance")
    shoot(admin, "09-members-role-changed")

    # The member reloads: the navigation follows the new role at once.
    member.reload()
    expect(nav_links(member)).to_have_text(
        ["Overview", "Projects", "Token inspector", "Usage", "Channels & calls", "Audit log"]
    )
    expect(member.get_by_role("banner")).to_contain_text("CS/Maintenance")
    shoot(member, "10-overview-cs-maintenance")
    assert_opens(member, base, allowed=["/projects/", "/audit/"], denied=["/billing/", "/members/"])

    # CS/Maintenance may read the audit log, which tells the whole story.
    nav_links(member).get_by_text("Audit log").click()
    table = member.get_by_role("table")
    for action in ("invitation.sent", "invitation.accepted", "member.role_changed"):
        expect(table.get_by_text(action, exact=True).first).to_be_visible()
    shoot(member, "11-audit-log-cs-maintenance")


def assert_opens(page, base: str, *, allowed: list[str], denied: list[str]) -> None:
    """Ask the server with the page's own session (no navigation) which sections answer 200 or 403."""
    statuses = {path: page.request.get(f"{base}{path}", max_redirects=0).status for path in allowed + denied}
    assert statuses == {**{path: 200 for path in allowed}, **{path: 403 for path in denied}}


def test_pages_a_user_meets_render_in_the_console_shell(live_server, acme, new_page, shoot):
    """A look at the other pages of the story: role form, audit log (full and empty search), the
    confirmation before removing a member and the 403 page. Screenshots for a person to judge."""
    from playwright.sync_api import expect

    base = live_server.url
    admin = new_page()
    sign_in(admin, base, acme.users["admin"].email)

    admin.goto(f"{base}/members/roles/new/")
    expect(admin.get_by_role("heading", name="New role")).to_be_visible()
    expect(admin.get_by_role("group", name="Billing")).to_be_visible()
    shoot(admin, "20-role-form")

    admin.goto(f"{base}/audit/")
    expect(admin.get_by_role("table")).to_contain_text("auth.login")
    shoot(admin, "21-audit-log")

    admin.get_by_role("searchbox").fill("no-such-thing-anywhere")
    admin.get_by_role("button", name="Apply").click()
    expect(admin.get_by_role("heading", name="Nothing matches these filters")).to_be_visible()
    shoot(admin, "22-audit-log-empty-search")

    admin.goto(f"{base}/members/")
    admin.get_by_role("row").filter(has_text=acme.users["finance"].email).get_by_role("link", name="Remove").click()
    expect(admin.get_by_role("heading", name=f"Remove {acme.users['finance'].email}?")).to_be_visible()
    expect(admin.get_by_role("button", name="Remove member")).to_be_visible()
    shoot(admin, "23-confirm-remove-member")

    finance = new_page()
    sign_in(finance, base, acme.users["finance"].email)
    response = finance.goto(f"{base}/members/")
    assert response.status == 403
    expect(finance.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(nav_links(finance)).to_have_text(["Overview", "Usage", "Billing"])
    shoot(finance, "24-forbidden")
