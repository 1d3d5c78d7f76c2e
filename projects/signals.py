from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from console.cache import bump

from .models import Certificate, Project
from .token_cache import PROJECTS


@receiver([post_save, post_delete], sender=Project)
@receiver([post_save, post_delete], sender=Certificate)
def retire_cached_token_facts(sender, **kwargs):
    bump(PROJECTS)
