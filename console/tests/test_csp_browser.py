"""The pages that do the most in the browser, under the enforced Content-Security-Policy: the usage charts,
the API docs (ReDoc, with the relaxation of its own view) and the server error page. The `new_page` fixture
fails a test on any violation Chromium reports. Screenshots land in var/screenshots/csp-*.png.
"""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from conftest import SCREENSHOTS, sign_in
from usage.models import DailyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_usage_charts_draw(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    today = timezone.now().date()
    for offset in range(3):
        DailyUsage.objects.create(
            project=acme.projects[0], date=today - timedelta(days=offset), audio=3_600, video_hd=1_800 * offset
        )
    page = new_page()
    sign_in(page, live_server.url, acme.users["admin"].email)
    page.goto(f"{live_server.url}/usage/?period=7d")
    chart = page.locator("canvas[data-usage-chart]")
    expect(chart).to_be_visible()
    # Chart.js keeps the chart it drew on the canvas; console.js draws it from the json_script data.
    assert page.evaluate("(canvas) => Boolean(window.Chart.getChart(canvas))", chart.element_handle())
    expect(page.locator("table.usage-table svg.swatch").first).to_be_visible()
    shoot(page, "csp-01-usage-charts")


def test_the_api_docs_render_and_search(live_server, db, new_page):
    from playwright.sync_api import expect

    page = new_page()
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_role("heading", name="Console API", level=1)).to_be_visible()
    page.get_by_placeholder("Search...").fill("token")  # ReDoc searches in a worker started from a blob: URL
    expect(page.get_by_role("menuitem", name="Issue a token").first).to_be_visible()
    shoot_window(page, "csp-02-api-docs")  # ReDoc's whole page is very long


def test_the_server_error_page_is_styled_from_the_static_stylesheet(live_server, db, new_page):
    """The 500 page is served with the policy of every other page (taken from the sign-in page)."""
    from playwright.sync_api import expect

    page = new_page()
    policy = page.goto(f"{live_server.url}/accounts/login/").header_value("Content-Security-Policy")
    assert policy
    body = render_to_string("500.html")
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": policy}
    page.route(f"{live_server.url}/error/", lambda route: route.fulfill(status=500, body=body, headers=headers))
    page.goto(f"{live_server.url}/error/")
    expect(page.get_by_role("heading", name="Something went wrong")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).maxWidth") != "none"  # body.error-page from console.css
    shoot_window(page, "csp-03-server-error")


def shoot_window(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
