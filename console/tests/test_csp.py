"""The Content-Security-Policy: every page sends it, enforced, without inline script; only the API docs page
allows more (for ReDoc), and the page that adds an authenticator app a data: image (its QR code); and no
template holds what the policy would block (inline script, event handler attributes, style attributes or
elements, javascript: links)."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse

from .test_permission_matrix import EXPECTATIONS, HAS_TOTP, objects, sign_in_recently  # noqa: F401  (the fixture)

CONSOLE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# ReDoc's needs, on the docs page alone (see console/api_urls.py).
API_DOCS_POLICY = {
    **CONSOLE_POLICY,
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["data:"],
    "worker-src": ["blob:"],
}
# allauth's page for adding an authenticator app shows its QR code as a data: image, on that page alone.
QR_CODE_POLICY = {**CONSOLE_POLICY, "img-src": ["'self'", "data:"]}
WIDER_POLICIES = {"api_docs": API_DOCS_POLICY, "mfa_activate_totp": QR_CODE_POLICY}


def allowed_policies(name: str, status: int) -> list[dict]:
    """The page itself needs its wider policy (or it breaks); its redirects and errors may have either."""
    wider = WIDER_POLICIES.get(name)
    if wider is None:
        return [CONSOLE_POLICY]
    return [wider] if status == 200 else [CONSOLE_POLICY, wider]


def directives(header: str) -> dict[str, list[str]]:
    policy = {}
    for directive in header.split(";"):
        name, *sources = directive.split()
        assert name not in policy, f"{name} appears twice in {header!r}"
        policy[name] = sources
    return policy


@pytest.mark.parametrize("who", ["anonymous", "admin", "finance"])
def test_every_html_page_sends_the_policy(who, acme, objects, client):  # noqa: F811
    """Pages, forms, the 403 and 404 pages: the same strict policy, enforced (no report-only header), and
    nothing in the page that it blocks (allauth's own templates included). Signed-in members have just
    re-authenticated, so that allauth shows the pages that add a second factor too."""
    client.raise_request_exception = False  # a server error is one more line of the report
    if who != "anonymous":
        sign_in_recently(client, acme.users[who])
    pages, shown, failures = 0, set(), []
    for name in sorted(EXPECTATIONS):
        url = reverse(name, kwargs=objects.get(name, {}))
        response = client.get(url)
        assert "Content-Security-Policy-Report-Only" not in response, url
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        pages += 1
        if response.status_code == 200:
            shown.add(name)
        if "Content-Security-Policy" not in response:
            failures.append(f"{url} as {who}: no Content-Security-Policy ({response.status_code})")
            continue
        if directives(response["Content-Security-Policy"]) not in allowed_policies(name, response.status_code):
            failures.append(f"{url} as {who}: {response['Content-Security-Policy']}")
        page = response.content.decode()
        failures += [
            f"{url} as {who}: {problem}" for problem in blocked_in(page, style_element_allowed=name == "api_docs")
        ]
    assert not failures, "\n".join(failures[:25] + [f"… and {len(failures) - 25} more"] * (len(failures) > 25))
    assert pages > 10
    if who != "anonymous" and who not in HAS_TOTP:
        assert "mfa_activate_totp" in shown, "the QR code page was not reached"
    not_found = client.get("/no-such-page/")
    assert not_found.status_code == 404
    assert directives(not_found["Content-Security-Policy"]) == CONSOLE_POLICY


# The templates ------------------------------------------------------------------------------------------


def project_templates() -> list[tuple[str, Path]]:
    """(template name, file) for every template of the project's own apps (not of installed packages)."""
    found = []
    for config in apps.get_app_configs():
        directory = Path(config.path) / "templates"
        if directory.is_relative_to(settings.BASE_DIR) and "site-packages" not in directory.parts:
            found += [(path.relative_to(directory).as_posix(), path) for path in directory.rglob("*.html")]
    return sorted(found)


TEMPLATES = project_templates()
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""=\s*["']?\s*javascript:""", re.IGNORECASE)
JSON_DATA = re.compile(r'<script\b[^>]*type="application/json"[^>]*>.*?</script>', re.IGNORECASE | re.DOTALL)
# The API docs page runs under the widened policy of its view; its one rule sets the page margin.
STYLE_ELEMENT_ALLOWED = {"console/api_docs.html"}


def test_templates_are_found():
    names = {name for name, _ in TEMPLATES}
    assert {"console/page.html", "500.html", "billing/invoice.html", "usage/report.html"} <= names


def blocked_in(page: str, *, style_element_allowed: bool = False) -> list[str]:
    """What the policy would block in a rendered page (json_script's data is no script)."""
    page = JSON_DATA.sub("", page)
    rules = [(INLINE_SCRIPT, "an inline <script>"), (EVENT_HANDLER, "an on...= event handler attribute")]
    rules += [(STYLE_ATTRIBUTE, "a style attribute"), (JAVASCRIPT_URL, "a javascript: URL")]
    if not style_element_allowed:
        rules.append((STYLE_ELEMENT, "a <style> element"))
    return [f"{reason}: {match.group(0)[:80]!r}" for pattern, reason in rules for match in pattern.finditer(page)]


@pytest.mark.parametrize(("name", "path"), TEMPLATES, ids=[name for name, _ in TEMPLATES])
def test_no_template_holds_what_the_policy_blocks(name, path):
    """json_script output is fine: it is written by the filter at render time, never in a template."""
    text = path.read_text()
    rules = [
        (INLINE_SCRIPT, "an inline <script> (put the code in console/static/console/console.js)"),
        (EVENT_HANDLER, "an on...= event handler attribute (add a listener in console.js)"),
        (STYLE_ATTRIBUTE, "a style attribute (use a class of console/static/console/console.css)"),
        (JAVASCRIPT_URL, "a javascript: URL"),
    ]
    if name not in STYLE_ELEMENT_ALLOWED:
        rules.append((STYLE_ELEMENT, "a <style> element (use console.css)"))
    problems = [
        f"{path.relative_to(settings.BASE_DIR)}:{text.count(chr(10), 0, match.start()) + 1}: {reason}"
        for pattern, reason in rules
        for match in pattern.finditer(text)
    ]
    assert not problems, "\n".join(problems)
