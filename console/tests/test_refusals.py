"""One refusal exception: every rule of the console says no with console.refusals.RuleViolation (or a
subclass), which each door turns into what its caller sees."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIRequestFactory

from accounts.models import AuditEntry
from console.api import exception_handler
from console.refusals import Immutable, RuleViolation

ROOT = Path(settings.BASE_DIR)
APPS = ["accounts", "billing", "console", "projects", "tokens", "usage"]


def raised_builtins(path: Path) -> list[str]:
    """Builtin exceptions a module raises that mean "the rules say no" rather than a fault."""
    refusals = {"PermissionError"}
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
            if node.exc.func.id in refusals:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_refuses_with_a_builtin_permission_error():
    modules = [path for app in APPS for path in (ROOT / app).rglob("*.py") if "tests" not in path.parts]
    raised = [where for path in modules for where in raised_builtins(path)]
    # The broker's folder check in /readyz is a real OS-level fault, not a refusal of the console's rules.
    assert raised == ["console/metrics.py:248"] or raised == [], raised


def test_every_refusal_class_is_a_rule_violation():
    defined = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and any(
                    isinstance(base, ast.Name) and base.id == "Exception" for base in node.bases
                ):
                    defined.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert set(defined) <= {
        "console/refusals.py:RuleViolation",
        # Not refusals of the console's rules: a token that does not parse, an upstream that failed, and two
        # signals between the console's own functions (a double submit's first entry, a run taken over).
        "tokens/accesstoken2.py:TokenError",
        "usage/client.py:UpstreamError",
        "billing/ledger.py:AlreadyRecorded",
        "usage/pulling.py:RunTakenOver",
    }, defined


def test_append_only_records_refuse_with_immutable(acme):
    entry = AuditEntry.objects.first()
    with pytest.raises(Immutable, match="append-only") as refused:
        entry.delete()
    assert isinstance(refused.value, RuleViolation)


@pytest.mark.parametrize("refusal", [RuleViolation("Nope."), Immutable("Frozen."), RuleViolation("Bad.", field="x")])
def test_the_api_answers_every_refusal_with_400_and_its_message(refusal):
    request = APIRequestFactory().get("/api/v1/projects/")
    response = exception_handler(refusal, {"request": request})
    assert response.status_code == 400
    assert response.data == {"message": str(refusal)}
