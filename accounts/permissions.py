"""The permission model: modules, their levels, and the built-in roles.

A role gives one level per module. Levels are ordered: a higher level includes every lower one, so a
check is always "at least this level". Pages, APIs and commands all ask through `Membership.can()`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    key: str
    label: str
    levels: tuple[str, ...]  # lowest first; the first is always "none"
    help: str = ""

    @property
    def highest(self) -> str:
        return self.levels[-1]

    def rank(self, level: str) -> int:
        return self.levels.index(level)


MODULES: tuple[Module, ...] = (
    Module("projects", "Projects", ("none", "view", "edit"), "Project list and settings."),
    Module(
        "certificates", "App Certificates", ("none", "view", "manage"), "Reveal, enable, swap and delete certificates."
    ),
    Module("tokens", "Tokens", ("none", "generate"), "Generate temporary tokens."),
    Module("usage", "Usage", ("none", "view", "manage"), "Usage reports; manage configures the upstream."),
    Module("billing", "Billing", ("none", "view", "manage"), "Bills, invoices, payments and price books."),
    Module(
        "members", "Members & Roles", ("none", "view", "edit"), "Invite members, assign roles, organization settings."
    ),
    Module("api_credentials", "API credentials", ("none", "view", "manage"), "RESTful API Customer ID and secret."),
    Module("audit", "Audit log", ("none", "view"), "Security-relevant actions in this organization."),
    Module(
        "channels",
        "Channels & calls",
        ("none", "view", "manage"),
        "Live channels, call inspector and quality; manage kicks and bans users and sets up notifications.",
    ),
)
MODULES_BY_KEY = {module.key: module for module in MODULES}


def full_levels(levels: dict[str, str]) -> dict[str, str]:
    """Every module with its level, "none" where `levels` does not name it."""
    return {module.key: levels.get(module.key, "none") for module in MODULES}


def highest_levels() -> dict[str, str]:
    return {module.key: module.highest for module in MODULES}


@dataclass(frozen=True)
class BuiltinRole:
    key: str
    name: str
    description: str
    levels: dict[str, str]


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    BuiltinRole("admin", "Admin", "Everything, at the highest level.", highest_levels()),
    BuiltinRole("finance", "Finance", "Bills and payments of all projects.", {"billing": "manage", "usage": "view"}),
    BuiltinRole(
        "product_operation",
        "Product/Operation",
        "Usage of all projects.",
        {"usage": "view", "projects": "view", "channels": "view"},
    ),
    BuiltinRole(
        "cs_maintenance",
        "CS/Maintenance",
        "Support view of projects, usage and the audit log; manages channels (kicks, bans).",
        {"projects": "view", "usage": "view", "audit": "view", "channels": "manage"},
    ),
    BuiltinRole(
        "engineer",
        "Engineer",
        "Manages projects, certificates, tokens, API credentials and channels.",
        {
            "projects": "edit",
            "certificates": "manage",
            "tokens": "generate",
            "usage": "view",
            "api_credentials": "manage",
            "channels": "manage",
        },
    ),
)
ADMIN = "admin"
