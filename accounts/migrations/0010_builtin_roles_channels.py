"""Built-in roles of existing organizations get their level for the new "channels" module (new organizations
get it from accounts.permissions.BUILTIN_ROLES when created). Written out here, not read from there, so that
this migration keeps meaning what it meant when it was written."""

from django.db import migrations

CHANNELS_LEVEL = {"admin": "manage", "engineer": "manage", "cs_maintenance": "manage", "product_operation": "view"}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(builtin_key__in=CHANNELS_LEVEL):
        role.levels = {**role.levels, "channels": CHANNELS_LEVEL[role.builtin_key]}
        role.save(update_fields=["levels"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(builtin_key__in=CHANNELS_LEVEL):
        role.levels = {key: level for key, level in role.levels.items() if key != "channels"}
        role.save(update_fields=["levels"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_single_sign_on")]

    operations = [migrations.RunPython(grant, revoke)]
