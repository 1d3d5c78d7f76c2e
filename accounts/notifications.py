"""Notifications in the console: the bell in the top bar and the notifications page.

Other apps call `notify()` (billing's usage alerts do); the bell reads `unread_count()` on every page,
one COUNT on the (recipient, organization, read_at) index.
"""

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from .models import Notification, Organization, User

TITLE_LENGTH = Notification._meta.get_field("title").max_length
BODY_LENGTH = Notification._meta.get_field("body").max_length
LINK_LENGTH = Notification._meta.get_field("link").max_length


def notify(
    users: Iterable[User], organization: Organization, title: str, body: str = "", link: str = ""
) -> list[Notification]:
    """One unread notification per user (each user once), all written in one INSERT."""
    if len(link) > LINK_LENGTH:
        raise ValueError(f"A notification link holds at most {LINK_LENGTH} characters.")
    now = timezone.now()
    recipients = {user.pk: user for user in users}
    rows = [
        Notification(
            organization=organization,
            recipient=user,
            title=title[:TITLE_LENGTH],
            body=body[:BODY_LENGTH],
            link=link,
            created_at=now,
        )
        for user in recipients.values()
    ]
    return Notification.objects.bulk_create(rows)


def for_user(user: User, organization_id: int) -> QuerySet:
    """The user's own notifications in one organization."""
    return Notification.objects.filter(recipient=user, organization_id=organization_id)


def unread_count(user: User, organization_id: int) -> int:
    return for_user(user, organization_id).filter(read_at__isnull=True).count()


def mark_read(notification: Notification) -> None:
    """Mark one notification read; the first reading time is kept."""
    if notification.read_at is not None:
        return
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
    notification.read_at = now


def mark_all_read(user: User, organization_id: int) -> int:
    """Mark every unread notification of the user in the organization read; returns how many."""
    return for_user(user, organization_id).filter(read_at__isnull=True).update(read_at=timezone.now())
