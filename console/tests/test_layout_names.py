"""Files are named for what they hold. An app's native API (api.py) takes its shapes from api_serializers.py,
its Agora-compatible API (agora_api.py) from agora_serializers.py; a bare serializers.py next to
api_serializers.py read as the other way round, so that pair must not come back. The token API's cached
project facts live in projects/token_cache.py, no longer projects/facts.py."""

import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings


def _console_apps() -> list[Path]:
    root = Path(settings.BASE_DIR).resolve()
    return [
        path
        for config in apps.get_app_configs()
        if (path := Path(config.path).resolve()).is_relative_to(root) and ".venv" not in path.parts
    ]


def test_no_app_has_serializers_next_to_api_serializers():
    found = _console_apps()
    assert {path.name for path in found} >= {"accounts", "projects", "usage", "billing"}
    ambiguous = [
        path.name for path in found if (path / "serializers.py").exists() and (path / "api_serializers.py").exists()
    ]
    assert ambiguous == []


def test_the_agora_shapes_sit_beside_the_agora_apis():
    for app in ("projects", "usage"):
        importlib.import_module(f"{app}.agora_serializers")
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"{app}.serializers")


def test_the_token_cache_replaced_projects_facts():
    assert importlib.import_module("projects.token_cache").token_facts
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("projects.facts")
