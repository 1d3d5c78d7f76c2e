from io import StringIO

from django.core.management import call_command


def test_collectstatic_with_the_production_storage_succeeds(settings, tmp_path):
    """What the Docker build runs: every static file, vendored ones included, must hash and compress."""
    settings.STATIC_ROOT = str(tmp_path)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", stdout=StringIO())
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("console/vendor/chart-4.6.1.umd.min.*.js"))
