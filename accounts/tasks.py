from celery import shared_task

from . import audit, services


@shared_task
def expire_invitations() -> int:
    """Beat runs this hourly: pending invitations past their expiry are marked expired."""
    return services.expire_invitations()


@shared_task
def flush_token_counts() -> int:
    """Beat runs this every minute: tokens counted beyond the audit's per-minute entries are written as entries
    with their count, so a credential that went quiet still has its last minutes in the log."""
    return audit.flush_token_counts()
