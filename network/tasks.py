from celery import shared_task

from . import presence


@shared_task
def forget_old() -> tuple[int, int]:
    """Beat runs this every minute: users gone for over a minute, notices past their project's retention."""
    return presence.forget_old()
