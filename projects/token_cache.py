"""What the token API needs to know about a project, cached between requests (see console.cache)."""

from dataclasses import dataclass

from console.cache import cached
from console.refusals import RuleViolation

from .models import Project
from .services import check_can_issue_tokens

PROJECTS = "projects"  # cache generation bumped by every change to projects and certificates


@dataclass(frozen=True)
class TokenFacts:
    pk: int
    organization_id: int
    app_id: str
    primary_certificate: str  # "" when tokens cannot be issued
    refusal: str  # why tokens cannot be issued, "" when they can
    primary_fingerprint: str = ""  # of the certificate tokens are signed with (projects.certificate_use)


def token_facts(project_id: str) -> TokenFacts | None:
    return cached(PROJECTS, project_id, lambda: _load(project_id))


def _load(project_id: str) -> TokenFacts | None:
    project = (
        Project.objects.select_related("organization")
        .prefetch_related("certificates")
        .filter(project_id=project_id)
        .first()
    )
    if project is None:
        return None
    try:
        check_can_issue_tokens(project)
    except RuleViolation as refusal:
        return TokenFacts(project.pk, project.organization_id, project.app_id, "", str(refusal))
    primary = project.primary
    return TokenFacts(project.pk, project.organization_id, project.app_id, primary.value, "", primary.fingerprint)
