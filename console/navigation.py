"""The left navigation, and the tabs at the top of an app's pages. Each entry names what a role needs to
see it: a nav entry the module (at view level) to open it, a tab an optional (module, level)."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    module: str | None  # None: every member
    section: str  # URL prefix that marks the entry as current


NAVIGATION = (
    NavItem("Overview", "overview", None, "/overview"),
    NavItem("Projects", "projects:list", "projects", "/projects"),
    NavItem("Token inspector", "tokens:inspector", "projects", "/tokens"),
    NavItem("Usage", "usage:overview", "usage", "/usage"),
    NavItem("Channels & calls", "channels:index", "channels", "/channels"),
    NavItem("Billing", "billing:overview", "billing", "/billing"),
    NavItem("Members & Roles", "members", "members", "/members"),
    NavItem("API credentials", "api_credentials", "api_credentials", "/api-credentials"),
    NavItem("Audit log", "audit_log", "audit", "/audit"),
)


def visible_items(membership) -> list[NavItem]:
    if membership is None:
        return []
    return [item for item in NAVIGATION if item.module is None or membership.can(item.module, "view")]


@dataclass(frozen=True)
class Tab:
    key: str  # the page's own key: `tabs(request, current=key, ...)` marks it as current
    label: str
    url_name: str
    requires: tuple[str, str] | None = None  # (module, level); None: whoever may open the app's pages


def tabs(request, current: str, declared: Iterable[Tab], args: tuple = ()) -> list[dict]:
    """The tabs an app's page shows (those the member's role may see), for console/includes/tabs.html.
    `args` go to every tab's URL (a project's tabs take its project ID)."""
    membership = request.membership
    return [
        {"label": tab.label, "url": reverse(tab.url_name, args=args), "current": tab.key == current}
        for tab in declared
        if tab.requires is None or membership.can(*tab.requires)
    ]


# A project's pages: its settings and what other apps add (they register their tabs when they start).
PROJECT_TABS: list[Tab] = [Tab("settings", "Settings", "projects:detail", requires=("projects", "view"))]


def register_project_tabs(*declared: Tab) -> None:
    PROJECT_TABS.extend(tab for tab in declared if tab not in PROJECT_TABS)


def project_tabs(request, project, current: str) -> list[dict]:
    return tabs(request, current, PROJECT_TABS, args=(project.project_id,))
