from celery import shared_task

from . import services


@shared_task
def expire_invitations() -> int:
    """Beat runs this hourly: pending invitations past their expiry are marked expired."""
    return services.expire_invitations()
