from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from console.cache import bump

from .models import NotificationSettings
from .webhook import NOTIFICATIONS


@receiver([post_save, post_delete], sender=NotificationSettings)
def retire_cached_settings(sender: type, **kwargs: object) -> None:
    bump(NOTIFICATIONS)
