from celery import shared_task

from . import certificate_use


@shared_task
def forget_old_certificate_use() -> int:
    """Beat runs this daily: token counts older than 30 days whose tokens have all expired are removed."""
    return certificate_use.forget_old()
