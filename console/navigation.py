"""The left navigation. Each entry names the module a role needs (at view level) to see and open it."""

from dataclasses import dataclass


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
    NavItem("Billing", "billing:overview", "billing", "/billing"),
    NavItem("Members & Roles", "members", "members", "/members"),
    NavItem("API credentials", "api_credentials", "api_credentials", "/api-credentials"),
    NavItem("Audit log", "audit_log", "audit", "/audit"),
)


def visible_items(membership) -> list[NavItem]:
    if membership is None:
        return []
    return [item for item in NAVIGATION if item.module is None or membership.can(item.module, "view")]
