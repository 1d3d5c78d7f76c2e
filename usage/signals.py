from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from accounts.models import Organization

from .models import Upstream

# Sent after a pull run wrote rows: usage_updated.send(sender=PullRun, organization=..., run=...).
usage_updated = Signal()


@receiver(post_save, sender=Organization)
def give_new_organizations_the_sandbox(sender, instance, created, **kwargs):
    """With the sandbox on (development), every new organization pulls its usage from it."""
    if created and settings.USAGE_SANDBOX:
        Upstream.new_sandbox(instance).save()
