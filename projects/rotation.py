"""Where a project stands in a zero-downtime certificate rotation, for the guided rotation page.

The four steps: enable a secondary certificate -> deploy it to your token servers -> swap -> disable and
delete the old certificate. The state is derived from the certificates alone; whether the old certificate's
tokens have expired comes from what the console counted of the tokens it signed (projects.certificate_use).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from console.dates import moment_label, time_left_label

from . import certificate_use
from .models import Certificate, Project

TOKEN_LIFETIME = timedelta(hours=24)  # the longest a token signed with the old certificate can live


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    text: str
    status: str  # "done", "current" or "todo"
    action: str | None = None  # certificate operation offered at this step
    action_label: str = ""


def rotation_steps(project: Project) -> tuple[list[Step], str]:
    """The four steps with their status, and one sentence saying where the project is."""
    primary, secondary = project.primary, project.secondary
    if primary is None or not primary.enabled:
        return _steps(0), "Rotation needs an enabled primary certificate: enable it on the project page first."
    if secondary is None:
        if project.last_rotation_at:
            return _steps(1), (
                f"No rotation in progress. The last swap was on {project.last_rotation_at:%Y-%m-%d %H:%M} UTC. "
                "To rotate again, start with step 1."
            )
        return _steps(1), "No rotation in progress. Start with step 1."
    if secondary.retired_at is None:
        if not secondary.enabled:
            return _steps(1, reenable=True), (
                "A new secondary certificate exists but is disabled: re-enable it to go on, or delete it."
            )
        return _steps(2), (
            "The secondary certificate is enabled. Deploy it to every server that generates tokens, then swap."
        )
    if secondary.enabled:
        advice = " ".join(old_certificate_tokens(project, secondary))
        return _steps(4), f"Swapped. The old certificate is now the secondary and still accepted. {advice}"
    return _steps(4, disabled=True), (
        "The old certificate is disabled: tokens signed with it are refused. Delete it to finish."
    )


def old_certificate_tokens(project: Project, old: Certificate) -> list[str]:
    """What disabling the old certificate would cut off: the tokens the console signed with it, then what
    the console cannot see (tokens from the customer's own servers)."""
    use = certificate_use.use_of(project, old.fingerprint)
    if use.still_valid and use.last_expires_at is not None:
        cut_off = (
            f"up to {use.may_be_valid} token{'s' if use.may_be_valid != 1 else ''} issued in the last 24 h"
            if use.may_be_valid
            else "the older tokens it signed that are still valid"
        )
        expires = moment_label(use.last_expires_at)
        console = (
            f"The last token the console signed with the old certificate expires at {expires} "
            f"(in {time_left_label(use.time_left)}); disabling it now would cut off {cut_off}."
        )
    elif use.last_expires_at:
        console = (
            "No token the console signed with the old certificate is still valid: the last one expired at "
            f"{moment_label(use.last_expires_at)}."
        )
    else:
        console = "No token the console signed with the old certificate is still valid (it signed none in 30 days)."
    return [console, _outside_tokens(old)]


def _outside_tokens(old: Certificate) -> str:
    unseen = "Tokens made by your own token servers are invisible to the console"
    waited = timezone.now() - old.retired_at if old.retired_at else TOKEN_LIFETIME
    if waited < TOKEN_LIFETIME:
        unseen += (
            f": one that signed with it until the swap may have tokens valid for up to "
            f"{time_left_label(TOKEN_LIFETIME - waited)} more (tokens live up to 24 hours)."
        )
    else:
        unseen += ": 24 hours have passed since the swap, so a server that switched then has no valid ones left."
    return f"{unseen} Paste a fresh token from each server into the token inspector: it names the certificate."


def _steps(current: int, *, reenable: bool = False, disabled: bool = False) -> list[Step]:
    def status(number: int) -> str:
        if current == 0:
            return "todo"
        if number < current or (current == 2 and number == 1):
            return "done"
        if number == current or (current == 2 and number == 3):
            return "current"
        return "todo"

    step4_action, step4_label = (
        ("delete_secondary", "Delete old certificate") if disabled else ("disable_secondary", "Disable old certificate")
    )
    return [
        Step(
            1,
            "Enable a secondary certificate",
            "A new certificate is created next to the primary. Both are accepted; nothing changes for clients.",
            status(1),
            "enable_secondary",
            "Re-enable secondary" if reenable else "Enable secondary",
        ),
        Step(
            2,
            "Deploy it to your token servers",
            "Copy the secondary certificate into the configuration of every server that generates tokens. "
            "Tokens they sign with it are accepted at once.",
            status(2),
        ),
        Step(
            3,
            "Swap",
            "The secondary becomes the primary (temp tokens are signed with it) and the old primary becomes "
            "the secondary. Both stay valid.",
            status(3),
            "swap",
            "Swap certificates",
        ),
        Step(
            4,
            "Disable, then delete the old certificate",
            "When no server uses the old certificate any more and its tokens have expired (24 hours), disable "
            "it; tokens signed with it stop working. Then delete it.",
            status(4),
            step4_action,
            step4_label,
        ),
    ]
