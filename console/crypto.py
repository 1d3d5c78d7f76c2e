"""Secrets at rest: a model field that stores Fernet tokens and hands out plain text.

Keys come from CONSOLE_ENCRYPTION_KEYS; the first one encrypts, every one decrypts (MultiFernet), so a key
is rotated by putting a new key first and running `manage.py rotate_encryption_keys`, then dropping the
old key once that has finished.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.CONSOLE_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise InvalidToken("A stored secret cannot be decrypted with CONSOLE_ENCRYPTION_KEYS.") from error


class EncryptedTextField(models.TextField):
    """Plain text in Python, a Fernet token in the database. Not searchable or comparable in SQL."""

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)


def encrypted_fields():
    """(model, [field names]) for every model with an encrypted field."""
    from django.apps import apps

    for model in apps.get_models():
        names = [field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
        if names:
            yield model, names
