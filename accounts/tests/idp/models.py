"""What the identity provider knows of a person beyond Django's user: the display name and whether
the address was verified. The user's username and email are both the address."""

from django.conf import settings
from django.db import models


class Person(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person")
    name = models.CharField(max_length=150, blank=True)
    email_verified = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name or self.user.email
