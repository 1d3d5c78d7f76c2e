"""The console is the shell the apps build on: its modules never import billing or usage (the apps add their
overview cards through console.overview_cards instead). The composition roots are the exception: the URL
confs that route to every app's API views, and the demo seed, which fills every app."""

import ast
from pathlib import Path

CONSOLE = Path(__file__).resolve().parent.parent
APPS_ON_TOP = {"billing", "usage"}
COMPOSITION_ROOTS = {"api_urls.py", "agora_urls.py", "management/commands/seed_demo.py"}


def _imported_packages(source: str) -> set[str]:
    packages = set()
    for node in ast.walk(ast.parse(source)):  # every import, at module level or inside a function
        if isinstance(node, ast.Import):
            packages.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


def _console_modules() -> list[Path]:
    return [
        path
        for path in sorted(CONSOLE.rglob("*.py"))
        if "tests" not in path.relative_to(CONSOLE).parts
        and path.relative_to(CONSOLE).as_posix() not in COMPOSITION_ROOTS
    ]


def test_the_console_modules_import_neither_billing_nor_usage():
    modules = _console_modules()
    assert CONSOLE / "views.py" in modules and CONSOLE / "overview_cards.py" in modules
    offenders = {
        path.relative_to(CONSOLE).as_posix(): sorted(found)
        for path in modules
        if (found := _imported_packages(path.read_text()) & APPS_ON_TOP)
    }
    assert offenders == {}


def test_the_check_sees_an_import_inside_a_function():
    source = "def overview(request):\n    from usage.views import overview_card\n"
    assert _imported_packages(source) == {"usage"}
