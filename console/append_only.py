"""Records that are written once and never changed or deleted (audit entries, bills, ledger entries).

Corrections are new records. `save()` of an existing row, `delete()`, and the queryset's `update()` and
`delete()` all raise `Immutable`, so neither a view nor a careless shell session can rewrite history by accident.
"""

from django.db import models

from .refusals import Immutable


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise Immutable(f"{self.model._meta.verbose_name_plural} are append-only.")

    def delete(self):
        raise Immutable(f"{self.model._meta.verbose_name_plural} are append-only.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise Immutable(f"{self._meta.verbose_name_plural} are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Immutable(f"{self._meta.verbose_name_plural} are append-only.")
