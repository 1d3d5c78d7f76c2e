"""Accounts made before email verification existed count as verified: their addresses were proven by an
invitation or chosen by the operator, and they must go on signing in."""

from django.db import migrations


def vouch_for_existing_addresses(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    known = set(EmailAddress.objects.values_list("user_id", flat=True))
    EmailAddress.objects.bulk_create(
        EmailAddress(user_id=user_id, email=email, verified=True, primary=True)
        for user_id, email in User.objects.exclude(pk__in=known).values_list("pk", "email")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_mark_project_audit_entries"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(vouch_for_existing_addresses, migrations.RunPython.noop)]
