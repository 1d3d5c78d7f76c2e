from django.core.management.base import BaseCommand
from django.db import transaction

from console.crypto import decrypt, encrypt, encrypted_fields

# Secrets inside allauth's two-factor rows (accounts.adapters.MFAAdapter encrypts them with the same keys).
AUTHENTICATOR_SECRETS = ("secret", "seed")  # TOTP secret, recovery codes' seed


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret stored at rest (App Certificates and other encrypted fields) with the first "
        "key of CONSOLE_ENCRYPTION_KEYS. Put the new key first, keep the old ones after it, run this, then "
        "drop the old keys. Works in batches, each in its own transaction; safe to run again or to resume "
        "after an interruption."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, batch_size, **options):
        total = 0
        for model, fields in encrypted_fields():
            count = self.rotate_model(model, fields, batch_size)
            total += count
            self.stdout.write(f"{model._meta.label}: {count} rows re-encrypted ({', '.join(fields)})")
        count = self.rotate_authenticators(batch_size)
        total += count
        self.stdout.write(f"mfa.Authenticator: {count} rows re-encrypted (TOTP secrets, recovery code seeds)")
        self.stdout.write(self.style.SUCCESS(f"Done: {total} rows now encrypted with the first key."))

    def rotate_model(self, model, fields, batch_size) -> int:
        # Saving an encrypted field encrypts it again with the first key.
        return in_batches(model._base_manager, batch_size, lambda batch: model._base_manager.bulk_update(batch, fields))

    def rotate_authenticators(self, batch_size) -> int:
        from allauth.mfa.models import Authenticator

        def rotate(batch):
            for authenticator in batch:
                authenticator.data = reencrypted(authenticator.data)
            Authenticator.objects.bulk_update(batch, ["data"])

        return in_batches(Authenticator.objects, batch_size, rotate)


def in_batches(manager, batch_size: int, rewrite) -> int:
    """rewrite(batch) over every row, batch by batch; returns the number of rows.

    Walks primary keys in order so each batch is a short transaction and a rerun starts from scratch
    without harm: decrypting accepts every key, encrypting always uses the first."""
    count, last_pk = 0, None
    while True:
        with transaction.atomic():
            rows = manager.select_for_update().order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows[:batch_size])
            if not batch:
                return count
            rewrite(batch)
        count += len(batch)
        last_pk = batch[-1].pk


def reencrypted(data: dict) -> dict:
    data = dict(data)
    for key in AUTHENTICATOR_SECRETS:
        if key in data:
            data[key] = encrypt(decrypt(data[key]))
    if "migrated_codes" in data:
        data["migrated_codes"] = [encrypt(decrypt(code)) for code in data["migrated_codes"]]
    return data
