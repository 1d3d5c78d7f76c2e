"""App Certificates at rest: encrypted columns, a dump without secrets, and `rotate_encryption_keys`."""

import os
import shutil
import subprocess
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.db.models.query import QuerySet

from conftest import make_org
from projects import services
from projects.models import Certificate


def raw_values() -> dict[int, str]:
    """The `value` column as stored, without the field's decryption."""
    table = connection.ops.quote_name(Certificate._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, value FROM {table} ORDER BY id")
        return dict(cursor.fetchall())


def plain_values() -> dict[int, str]:
    return {c.pk: c.value for c in Certificate.objects.order_by("pk")}


def new_key() -> str:
    return Fernet.generate_key().decode()


def with_rotations(org):
    """Certificates in every slot: each project gets a secondary, one of them swapped."""
    engineer = org.membership("engineer")
    for project in org.projects:
        services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, org.projects[0])


# At rest ----------------------------------------------------------------------------------------------------


def test_the_value_is_stored_as_a_fernet_token_of_the_first_key(acme, settings):
    certificate = acme.projects[0].primary
    stored = raw_values()[certificate.pk]

    assert stored.startswith("gAAAA")
    assert certificate.value not in stored
    assert Fernet(settings.CONSOLE_ENCRYPTION_KEYS[0].encode()).decrypt(stored.encode()).decode() == certificate.value
    assert Certificate.objects.get(pk=certificate.pk).value == certificate.value


def test_every_slot_and_every_operation_keeps_values_encrypted(acme):
    with_rotations(acme)
    engineer = acme.membership("engineer")
    services.reset_primary(engineer, acme.projects[1])

    plain, raw = plain_values(), raw_values()
    assert len(plain) == 4
    for pk, value in plain.items():
        assert raw[pk].startswith("gAAAA") and value not in raw[pk]


def test_the_same_value_is_never_stored_the_same_way_twice(acme):
    # Fernet tokens carry a random IV: equal secrets do not show up as equal ciphertexts.
    first = Certificate.objects.create(project=acme.projects[0], slot="secondary", value="a" * 32, fingerprint="x")
    second = Certificate.objects.create(project=acme.projects[1], slot="secondary", value="a" * 32, fingerprint="x")
    raw = raw_values()
    assert raw[first.pk] != raw[second.pk]


def database_dump() -> str:
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    if connection.vendor == "postgresql" and shutil.which("pg_dump"):
        db = connection.settings_dict
        command = ["pg_dump", "--no-owner", "--dbname", db["NAME"]]
        if db.get("HOST"):
            command += ["--host", db["HOST"]]
        if db.get("PORT"):
            command += ["--port", str(db["PORT"])]
        if db.get("USER"):
            command += ["--username", db["USER"]]
        env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=True)
        return result.stdout
    # No dump tool: every row of every table, as the database returns it.
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines += [repr(row) for row in cursor.fetchall()]
    return "\n".join(lines)


@pytest.mark.django_db(transaction=True)  # committed, so pg_dump (another connection) sees the rows
def test_a_database_dump_contains_no_certificate_in_clear(acme, globex):
    with_rotations(acme)
    services.reset_primary(globex.membership("engineer"), globex.projects[1])
    values = plain_values()
    assert len(values) == 6

    dump = database_dump()

    # The dump does hold the certificates table, encrypted...
    for token in raw_values().values():
        assert token in dump
    # ...and no value in clear, in any case.
    lowered = dump.lower()
    leaked = [value for value in values.values() if value in lowered]
    assert leaked == []


# Key rotation -------------------------------------------------------------------------------------------------


@pytest.fixture
def old_key(settings, db):
    """Certificates encrypted with one key, `old`, before the rotation."""
    key = new_key()
    settings.CONSOLE_ENCRYPTION_KEYS = [key]
    org = make_org("Initech", "initech.test")
    with_rotations(org)
    return key


def run_rotation(*args) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


def readable_with(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def test_rotate_encryption_keys_moves_every_secret_to_the_new_key(settings, old_key):
    before_plain, before_raw = plain_values(), raw_values()
    assert len(before_plain) == 4
    key = new_key()

    settings.CONSOLE_ENCRYPTION_KEYS = [key, old_key]
    output = run_rotation()
    settings.CONSOLE_ENCRYPTION_KEYS = [key]  # the old key is gone

    assert "projects.Certificate: 4 rows re-encrypted" in output
    assert plain_values() == before_plain
    after_raw = raw_values()
    for pk, token in after_raw.items():
        assert token != before_raw[pk]
        assert readable_with(key, token) and not readable_with(old_key, token)


def test_without_the_rotation_dropping_the_old_key_loses_the_secrets(settings, old_key):
    # The control for the test above: what the command prevents.
    settings.CONSOLE_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(InvalidToken):
        plain_values()


def test_running_the_rotation_twice_is_harmless(settings, old_key):
    before = plain_values()
    key = new_key()
    settings.CONSOLE_ENCRYPTION_KEYS = [key, old_key]

    run_rotation()
    second = run_rotation()

    assert "4 rows re-encrypted" in second
    settings.CONSOLE_ENCRYPTION_KEYS = [key]
    assert plain_values() == before


def test_batch_size_one_works(settings, old_key):
    before = plain_values()
    key = new_key()
    settings.CONSOLE_ENCRYPTION_KEYS = [key, old_key]

    output = run_rotation("--batch-size", "1")

    assert "projects.Certificate: 4 rows re-encrypted" in output
    settings.CONSOLE_ENCRYPTION_KEYS = [key]
    assert plain_values() == before
    assert all(readable_with(key, token) for token in raw_values().values())


def test_a_half_rotated_database_finishes_on_a_rerun(settings, old_key, monkeypatch):
    before = plain_values()
    key = new_key()
    settings.CONSOLE_ENCRYPTION_KEYS = [key, old_key]
    real_bulk_update = QuerySet.bulk_update
    calls = []

    def crash_on_the_second_batch(self, objs, fields, *args, **kwargs):
        calls.append(len(objs))
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real_bulk_update(self, objs, fields, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_update", crash_on_the_second_batch)
    with pytest.raises(RuntimeError):
        run_rotation("--batch-size", "2")
    monkeypatch.undo()
    mixed = raw_values()
    assert sorted(readable_with(key, token) for token in mixed.values()) == [False, False, True, True]

    run_rotation("--batch-size", "2")

    settings.CONSOLE_ENCRYPTION_KEYS = [key]
    assert plain_values() == before


def test_a_wrong_key_raises_a_clear_error(settings, old_key):
    settings.CONSOLE_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(InvalidToken, match="cannot be decrypted with CONSOLE_ENCRYPTION_KEYS"):
        Certificate.objects.first()


def test_the_rotation_with_a_wrong_key_fails_and_changes_nothing(settings, old_key):
    before = raw_values()
    settings.CONSOLE_ENCRYPTION_KEYS = [new_key()]  # the old key was forgotten

    with pytest.raises(InvalidToken, match="CONSOLE_ENCRYPTION_KEYS"):
        run_rotation()

    assert raw_values() == before


def test_rotation_moves_two_factor_secrets_to_the_new_key(settings, old_key):
    """TOTP secrets and recovery-code seeds are encrypted with the same keys (accounts.adapters.MFAAdapter)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    from accounts.models import User

    user = User.objects.create_user("mfa@initech.test", "a-long-password-1")
    totp = TOTP.activate(user, "JBSWY3DPEHPK3PXP")
    codes_before = RecoveryCodes.activate(user).get_unused_codes()
    key = new_key()

    settings.CONSOLE_ENCRYPTION_KEYS = [key, old_key]
    output = run_rotation()
    settings.CONSOLE_ENCRYPTION_KEYS = [key]

    assert "mfa.Authenticator: 2 rows re-encrypted" in output
    stored = Authenticator.objects.get(pk=totp.instance.pk).data["secret"]
    assert readable_with(key, stored) and not readable_with(old_key, stored)
    assert Fernet(key.encode()).decrypt(stored.encode()).decode() == "JBSWY3DPEHPK3PXP"
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    assert RecoveryCodes(recovery).get_unused_codes() == codes_before
