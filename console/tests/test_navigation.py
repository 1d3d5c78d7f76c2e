"""console.navigation.tabs: the tabs an app declares, as a member's role may see them."""

from django.test import RequestFactory

from console.navigation import Tab, tabs

DECLARED = (
    Tab("overview", "Overview", "overview"),
    Tab("members", "Members", "members"),
    Tab("audit", "Audit log", "audit_log", requires=("usage", "manage")),
)


def _tabs_for(membership, current: str) -> list[dict]:
    request = RequestFactory().get("/")
    request.membership = membership
    return tabs(request, current, DECLARED)


def test_a_tab_that_needs_a_level_is_hidden_from_a_role_without_it(acme):
    shown = _tabs_for(acme.membership("finance"), "overview")  # usage "view", not "manage"
    assert [tab["label"] for tab in shown] == ["Overview", "Members"]


def test_a_tab_that_needs_a_level_is_shown_to_a_role_with_it(acme):
    shown = _tabs_for(acme.membership("admin"), "audit")
    assert shown == [
        {"label": "Overview", "url": "/overview/", "current": False},
        {"label": "Members", "url": "/members/", "current": False},
        {"label": "Audit log", "url": "/audit/", "current": True},
    ]
