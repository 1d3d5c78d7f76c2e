"""`make lint` type-checks every service module and the pure libraries with mypy ([tool.mypy])."""

import tomllib
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def checked() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"])


def test_every_service_module_is_type_checked():
    services = {str(path.relative_to(ROOT)) for path in ROOT.glob("*/services.py")}
    assert services and services <= checked(), services - checked()


def test_every_checked_file_exists_and_lint_runs_mypy():
    assert all((ROOT / path).is_file() for path in checked())
    assert "$(VENV)/bin/mypy" in (ROOT / "Makefile").read_text()
    assert "make lint" in (ROOT / ".ci" / "run").read_text()
