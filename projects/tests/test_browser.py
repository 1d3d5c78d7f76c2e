"""Browser tests of projects and the guided certificate rotation: Debian's chromium driven by Playwright
against pytest-django's live server.

The main story of issue 3: the Acme Engineer signs in through the real form, creates a Secured project,
reveals its primary certificate, and rotates it on the guided rotation page (enable the secondary, swap,
disable the old certificate, delete it), confirming each step. Only the swap asks for the password: it opens
sudo mode, so the later destructive steps do not ask again. Screenshots of every step land in
var/screenshots/3x-*.png and 4x-*.png so a person can judge the pages.

Playwright's sync API keeps an asyncio event loop running in this thread, which trips Django's
async-unsafe guard on every ORM call from the test thread (fixtures included). The `chromium`
fixture sets DJANGO_ALLOW_ASYNC_UNSAFE for the time the browser runs and restores it afterwards.
"""

import re

import pytest

from accounts.models import User
from accounts.services import create_organization
from conftest import PASSWORD, label, sign_in
from projects import services
from projects.models import Certificate, Project

PROJECT_NAME = "Webinar platform"

pytestmark = pytest.mark.browser


def message(page, text: str):
    return page.get_by_role("status").filter(has_text=text)


def certificate_card(page, slot: str):
    """The card of the primary or secondary certificate (on the project page or the rotation page)."""
    return page.locator(".cert-card").filter(has=page.get_by_role("heading", name=re.compile(rf"^{slot} certificate")))


def fingerprint(page, slot: str) -> str:
    text = certificate_card(page, slot).get_by_text(re.compile(r"^Fingerprint ")).inner_text()
    found = re.search(r"Fingerprint ([0-9a-f]{8})\b", text)
    assert found, text
    return found.group(1)


def current_steps(page) -> list[str]:
    """The numbers of the rotation steps marked as current (the ones to do now)."""
    return page.locator('ol.steps > li[aria-current="step"] .step-marker').all_inner_texts()


def test_engineer_creates_a_secured_project_and_rotates_its_certificate(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    base = live_server.url
    page = new_page()
    sign_in(page, base, acme.users["engineer"].email)

    # The project list, then the create form with Secured preselected.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Acme project 1")).to_contain_text("Secured")
    shoot(page, "30-project-list")
    page.get_by_role("link", name="Create project").click()
    expect(page.get_by_role("heading", name="Create a project")).to_be_visible()
    expect(page.get_by_role("radio", name="Secured: App ID + Token (recommended)")).to_be_checked()
    expect(page.get_by_role("radio", name="App ID only (testing)")).not_to_be_checked()
    page.get_by_label(label("Name")).fill(PROJECT_NAME)
    page.get_by_label(label("Use case")).select_option(label="Education")
    page.get_by_label(label("Data center")).select_option(label="North America")
    shoot(page, "31-create-project")
    page.get_by_role("button", name="Create project").click()

    # Its page: Basic settings | Security, with an enabled primary certificate and no secondary.
    project = Project.objects.get(organization=acme.organization, name=PROJECT_NAME)
    detail_url = f"{base}/projects/{project.project_id}/"
    expect(page).to_have_url(detail_url)
    expect(message(page, f"Project {PROJECT_NAME} created.")).to_be_visible()
    expect(page.get_by_role("heading", name=PROJECT_NAME)).to_be_visible()
    security = page.locator("section.card").filter(has=page.get_by_role("heading", name="Security"))
    expect(security).to_contain_text("Secured")
    expect(certificate_card(page, "Primary")).to_contain_text("Enabled")
    expect(certificate_card(page, "Secondary").get_by_role("link", name="Add secondary")).to_be_visible()
    shoot(page, "32-project-created")

    # Reveal the primary certificate: the page shows the stored value.
    certificate_card(page, "Primary").get_by_role("button", name="Reveal").click()
    revealed = certificate_card(page, "Primary").locator("code.revealed")
    expect(revealed).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    first_primary = project.primary.value
    assert revealed.inner_text() == first_primary
    expect(certificate_card(page, "Primary").get_by_role("button", name="Copy certificate")).to_be_visible()
    shoot(page, "33-primary-revealed")
    first_primary_fp = fingerprint(page, "Primary")

    # The guided rotation page: nothing in progress, step 1 is next.
    page.get_by_role("link", name="Rotate certificates…").click()
    expect(page.get_by_role("heading", name=f"Rotate the App Certificate of {PROJECT_NAME}")).to_be_visible()
    expect(page.get_by_text("No rotation in progress.")).to_be_visible()
    assert current_steps(page) == ["1"]
    shoot(page, "34-rotation-step-1")

    # Step 1: enable the secondary. Not destructive: no password asked.
    page.get_by_role("link", name="Enable secondary").click()
    expect(page.get_by_role("heading", name=f"Enable a secondary certificate for {PROJECT_NAME}?")).to_be_visible()
    expect(page.get_by_label(label("Your password"))).to_have_count(0)
    shoot(page, "35-confirm-enable-secondary")
    page.get_by_role("button", name="Enable secondary certificate").click()
    expect(page).to_have_url(f"{base}/projects/{project.project_id}/rotation/")
    expect(message(page, "The secondary certificate is enabled.")).to_be_visible()
    assert current_steps(page) == ["2", "3"]
    expect(certificate_card(page, "Secondary")).to_contain_text("Enabled")
    new_fp = fingerprint(page, "Secondary")
    assert new_fp != first_primary_fp
    assert fingerprint(page, "Primary") == first_primary_fp
    shoot(page, "36-rotation-step-2-3")

    # Step 3: swap. Destructive: the password is asked, and typing it opens sudo mode.
    page.get_by_role("link", name="Swap certificates").click()
    expect(
        page.get_by_role(
            "heading", name=re.compile(rf"^Swap the certificates of {PROJECT_NAME} \(fingerprint [0-9a-f]{{8}}")
        )
    ).to_be_visible()
    password = page.get_by_label(label("Your password"))
    expect(password).to_be_visible()
    password.fill(PASSWORD)
    shoot(page, "37-confirm-swap")
    page.get_by_role("button", name="Swap certificates").click()
    expect(message(page, "Certificates swapped.")).to_be_visible()
    assert current_steps(page) == ["4"]
    expect(page.get_by_text("Swapped. The old certificate is now the secondary")).to_be_visible()
    # The new certificate is the primary now; the old primary waits in the secondary slot.
    assert fingerprint(page, "Primary") == new_fp
    assert fingerprint(page, "Secondary") == first_primary_fp
    expect(certificate_card(page, "Secondary")).to_contain_text("Old primary")
    shoot(page, "38-rotation-step-4-swapped")

    # Step 4a: disable the old certificate. Sudo mode is on: no password asked this time.
    page.get_by_role("link", name="Disable old certificate").click()
    expect(
        page.get_by_role(
            "heading",
            name=re.compile(rf"^Disable the secondary certificate of {PROJECT_NAME} \(fingerprint [0-9a-f]{{8}}"),
        )
    ).to_be_visible()
    expect(page.get_by_text("Tokens signed with this certificate stop working at once.")).to_be_visible()
    expect(page.get_by_label(label("Your password"))).to_have_count(0)
    shoot(page, "39-confirm-disable-old")
    page.get_by_role("button", name="Disable secondary certificate").click()
    expect(message(page, "The secondary certificate is disabled.")).to_be_visible()
    assert current_steps(page) == ["4"]
    expect(page.get_by_text("The old certificate is disabled")).to_be_visible()
    expect(certificate_card(page, "Secondary")).to_contain_text("Disabled")
    shoot(page, "40-rotation-old-disabled")

    # Step 4b: delete it, for good.
    page.get_by_role("link", name="Delete old certificate").click()
    expect(
        page.get_by_role(
            "heading",
            name=re.compile(rf"^Delete the secondary certificate of {PROJECT_NAME} \(fingerprint [0-9a-f]{{8}}"),
        )
    ).to_be_visible()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    expect(page.get_by_label(label("Your password"))).to_have_count(0)
    shoot(page, "41-confirm-delete-old")
    page.get_by_role("button", name="Delete secondary certificate").click()
    expect(message(page, "Rotation complete: the old certificate is gone.")).to_be_visible()
    expect(page.get_by_text("No rotation in progress.")).to_be_visible()
    expect(page.get_by_text("The last swap was on")).to_be_visible()
    assert current_steps(page) == ["1"]
    assert fingerprint(page, "Primary") == new_fp
    shoot(page, "42-rotation-finished")

    # The project page agrees, and the database holds exactly one certificate: the former secondary.
    page.get_by_role("link", name=PROJECT_NAME).click()
    expect(page).to_have_url(detail_url)
    expect(certificate_card(page, "Secondary").get_by_role("link", name="Add secondary")).to_be_visible()
    shoot(page, "43-project-after-rotation")
    certificates = list(Certificate.objects.filter(project=project))
    assert [(c.slot, c.enabled, c.fingerprint) for c in certificates] == [("primary", True, new_fp)]
    assert certificates[0].value != first_primary


def test_product_operation_sees_the_project_without_certificate_values(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    base = live_server.url
    project = acme.projects[0]
    page = new_page()
    sign_in(page, base, acme.users["product_operation"].email)
    page.goto(f"{base}/projects/")
    expect(page.get_by_role("link", name="Create project")).to_have_count(0)
    page.get_by_role("link", name=project.name).click()
    expect(page.get_by_role("heading", name=project.name)).to_be_visible()
    expect(page.get_by_role("button", name="Reveal")).to_have_count(0)
    expect(page.get_by_role("link", name="Rotate certificates…")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_text("Your role (Product/Operation) cannot view or change certificate values.")).to_be_visible()
    expect(page.get_by_text(project.primary.value)).to_have_count(0)
    shoot(page, "44-project-product-operation")


def test_project_list_empty_state_and_archived_tab(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    base = live_server.url
    # Acme archives its second project: the Archived tab lists it.
    archived = acme.projects[1]
    services.set_archived(acme.membership("admin"), archived, True)
    page = new_page()
    sign_in(page, base, acme.users["engineer"].email)
    page.goto(f"{base}/projects/")
    tabs = page.get_by_role("navigation", name="Active or archived projects")
    expect(tabs.get_by_role("link")).to_have_text(["1 Active", "1 Archived"])
    tabs.get_by_role("link", name="1 Archived").click()
    expect(page.get_by_role("row").filter(has_text=archived.name)).to_contain_text("Archived")
    expect(page.get_by_role("row").filter(has_text=acme.projects[0].name)).to_have_count(0)
    shoot(page, "45-project-list-archived")

    # A brand-new organization has no project yet.
    owner = User.objects.create_user("owner@initech.test", PASSWORD, name="Ina Owner")
    create_organization(owner, "Initech")
    newcomer = new_page()
    sign_in(newcomer, base, owner.email)
    newcomer.goto(f"{base}/projects/")
    expect(newcomer.get_by_role("heading", name="No projects yet")).to_be_visible()
    shoot(newcomer, "46-project-list-empty")
    newcomer.get_by_role("link", name="0 Archived").click()
    expect(newcomer.get_by_role("heading", name="No archived projects")).to_be_visible()
    shoot(newcomer, "47-project-list-archived-empty")


def test_the_rotation_page_says_when_the_old_certificate_is_safe_to_disable(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    from tokens.services import issue_temp_token

    engineer = acme.membership("engineer")
    project = acme.projects[0]
    issue_temp_token(engineer, project, "rtc", {"channel": "standup", "uid": 7, "expire": 5400})
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, Project.objects.get(pk=project.pk))
    page = new_page()
    sign_in(page, live_server.url, acme.users["engineer"].email)

    page.goto(f"{live_server.url}/projects/{project.project_id}/rotation/")
    where = page.locator("p", has_text="Where you are:")
    expect(where).to_contain_text(re.compile(r"expires at [0-9:-]+ [0-9:]* ?UTC \(in 1 h 29 min\)"))
    expect(where).to_contain_text("would cut off up to 1 token issued in the last 24 h")
    expect(where).to_contain_text("invisible to the console")
    shoot(page, "49-rotation-old-certificate-tokens")
    page.get_by_role("link", name="Disable old certificate").click()
    expect(page.get_by_text("would cut off up to 1 token")).to_be_visible()
    shoot(page, "49-rotation-disable-confirmation")
