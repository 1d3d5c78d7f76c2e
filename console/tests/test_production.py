"""Production as documented: the smoke test runs exactly the commands of docker-compose.yml and the Dockerfile,
requirements.txt pins every runtime dependency, errors under the API prefixes answer {"message": ...} with the
request id (a 500 included), and the usage settings page tells a production admin what to enter.

.ci/production-smoke runs those commands for real (CI calls it); these tests keep it from drifting."""

import json
import re
import shlex
import subprocess
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, requires

import pytest
from django.test import Client
from gunicorn.config import Config as GunicornConfig
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from console.tests.test_deploy import (
    ROOT,
    command_of,
    dockerfile_cmd,
    dockerfile_values,
    environment_with,
    services,
    settings_env_vars,
)
from usage import agora_api
from usage import api as usage_api
from usage.models import Upstream

SMOKE = ROOT / ".ci" / "production-smoke"
INTERPOLATED = re.compile(r"\$\{")


# ---- The smoke test runs the production commands --------------------------------------------------------


@cache
def smoke() -> dict[str, list[str]]:
    """What the smoke test runs, printed with the container's port and paths: role -> argv (or NAME=VALUE)."""
    result = subprocess.run(
        ["bash", str(SMOKE), "--print-commands"], capture_output=True, text=True, timeout=60, check=True
    )
    lines = (line.partition(":") for line in result.stdout.splitlines())
    return {name: shlex.split(rest) for name, _, rest in lines}


def assignments(words: list[str]) -> dict[str, str]:
    return dict(word.split("=", 1) for word in words)


def dockerfile_env() -> dict[str, str]:
    return assignments(shlex.split(" ".join(dockerfile_values("ENV"))))


def dockerfile_run(word: str) -> list[str]:
    """The first shell command of the RUN instruction that mentions `word`, split as a shell would."""
    run = next(run for run in dockerfile_values("RUN") if word in run)
    return shlex.split(run.split("&&")[0])


@pytest.mark.parametrize("service", ["migrate", "web", "worker", "beat"])
def test_smoke_runs_each_compose_command(service):
    assert smoke()[service] == command_of(services()[service])


def test_smoke_web_is_the_image_default_command():
    parse = GunicornConfig().parser().parse_args
    assert vars(parse(smoke()["web"][1:])) == vars(parse(dockerfile_cmd()[1:]))
    assert smoke()["web"][0] == dockerfile_cmd()[0] == "gunicorn"


def test_smoke_installs_as_the_image_does():
    assert smoke()["install"] == dockerfile_run("pip install")


def test_smoke_collects_static_as_the_image_build_does():
    words = dockerfile_run("collectstatic")
    split = next(index for index, word in enumerate(words) if "=" not in word)
    image_env, image_argv = assignments(words[:split]), words[split:]
    smoke_env = assignments(smoke()["build-env"])

    assert smoke()["collectstatic"] == image_argv
    # The same throw-away keys and DEBUG; the var directory is a throw-away one on either side.
    assert set(smoke_env) == set(image_env) | {"STATIC_ROOT"}
    assert {k: v for k, v in smoke_env.items() if k in image_env and k != "CONSOLE_VAR_DIR"} == {
        k: v for k, v in image_env.items() if k != "CONSOLE_VAR_DIR"
    }
    assert smoke_env["STATIC_ROOT"] == dockerfile_env()["STATIC_ROOT"]


def test_smoke_environment_is_the_image_and_compose_environment():
    smoke_env = assignments(smoke()["app-env"])
    image_env = {name: value for name, value in dockerfile_env().items() if not name.startswith("PIP_")}
    compose_env = services()["web"]["environment"]

    assert image_env.items() <= smoke_env.items()
    missing = set(compose_env) - set(smoke_env)
    assert not missing, f"the smoke test does not set {sorted(missing)}"
    fixed = {name: str(value) for name, value in compose_env.items() if not INTERPOLATED.search(str(value))}
    assert fixed.items() <= smoke_env.items()
    assert smoke_env["DEBUG"] == "false"
    unknown = set(smoke_env) - settings_env_vars() - set(image_env)
    assert not unknown, f"the smoke test sets variables nothing reads: {sorted(unknown)}"


def test_ci_runs_the_smoke_test():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    calls = [n for n, line in enumerate(lines) if line.startswith(".ci/production-smoke")]
    assert calls, ".ci/run does not call .ci/production-smoke"
    assert SMOKE.stat().st_mode & 0o111, ".ci/production-smoke is not executable"


# ---- requirements.txt -----------------------------------------------------------------------------------


def pins() -> dict[str, tuple[str, set[str]]]:
    """requirements.txt as name -> (version, extras); every line must pin one exact version."""
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{line}: pin one exact version"
        pinned[canonicalize_name(requirement.name)] = (specifiers[0].version, set(requirement.extras))
    return pinned


def test_requirements_pin_every_runtime_dependency():
    """What each pinned package needs (its extras' needs included) is pinned too, at a version it accepts."""
    pinned, problems = pins(), []
    for name, (_, extras) in pinned.items():
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            pytest.fail(f"{name} is pinned but not installed: run `make test` to update .venv")
        for need in map(Requirement, needs):
            if need.marker and not any(need.marker.evaluate({"extra": extra}) for extra in extras | {""}):
                continue
            needed = canonicalize_name(need.name)
            if needed not in pinned:
                problems.append(f"{name} needs {need}, which requirements.txt does not pin")
            elif not need.specifier.contains(pinned[needed][0], prereleases=True):
                problems.append(f"{name} needs {need}, but requirements.txt pins {needed}=={pinned[needed][0]}")
    assert not problems, "\n".join(problems)


# ---- Errors under the API prefixes ----------------------------------------------------------------------


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    assert response["X-Request-ID"]
    body = response.json()
    assert set(body) == {"message"} and body["message"], body
    return body


@pytest.fixture
def failing(client_for, acme):
    client = client_for(acme.users["admin"])
    client.raise_request_exception = False
    return client


def broken(*args, **kwargs):
    raise RuntimeError("a fault inside the view")


def test_a_500_inside_the_native_api_answers_json_with_the_request_id(failing, monkeypatch):
    monkeypatch.setattr(usage_api.DailyUsageViewSet, "list", broken)

    response = failing.get("/api/v1/usage/daily/", headers={"X-Request-ID": "caller-id-42"})

    body = assert_json_error(response, 500)
    assert response["X-Request-ID"] == "caller-id-42"
    assert "caller-id-42" in body["message"]
    assert "fault inside" not in body["message"]  # what failed stays in the log


def test_a_500_inside_the_agora_api_answers_json(monkeypatch):
    monkeypatch.setattr(agora_api.UsageView, "initial", broken)
    client = Client(raise_request_exception=False)

    body = assert_json_error(client.get("/dev/v3/usage"), 500)
    assert client.get("/dev/v3/usage")["X-Request-ID"] not in body["message"]  # each request its own id


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/v2/projects/", "/dev/v1/nothing", "/dev/nothing"])
def test_paths_nothing_answers_under_the_apis_are_json_404s(db, path):
    assert_json_error(Client().get(path), 404)


def test_a_host_the_site_does_not_serve_is_a_json_400_under_the_apis(db):
    assert_json_error(Client().get("/dev/v1/projects", headers={"host": "elsewhere.example"}), 400)
    page = Client().get("/accounts/login/", headers={"host": "elsewhere.example"})
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


def test_a_method_an_endpoint_lacks_is_a_json_405(failing):
    assert_json_error(failing.delete("/api/v1/usage/daily/"), 405)


def test_pages_keep_their_html_error_pages(failing, monkeypatch):
    missing = failing.get("/no-such-page/")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("text/html")

    monkeypatch.setattr("console.views.restrict", broken)  # the overview page fails
    failed = failing.get("/overview/")
    assert failed.status_code == 500 and failed["Content-Type"].startswith("text/html")


# ---- Settings in production -----------------------------------------------------------------------------

SETTINGS_PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({name: getattr(settings, name) for name in ("USAGE_SANDBOX", "USAGE_UPSTREAM_URL", "PUBLIC_SIGNUP")}))
"""


def settings_with(tmp_path, **variables) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        cwd=ROOT,
        env=environment_with({"CONSOLE_VAR_DIR": str(tmp_path), **variables}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_defaults_have_no_sandbox_no_default_upstream_and_no_public_signup(tmp_path):
    assert settings_with(tmp_path, DEBUG="false") == {
        "USAGE_SANDBOX": False,
        "USAGE_UPSTREAM_URL": "",
        "PUBLIC_SIGNUP": False,
    }


def test_development_defaults_serve_the_sandbox_locally_and_take_sign_ups(tmp_path):
    assert settings_with(tmp_path, DEBUG="true", PORT="9000") == {
        "USAGE_SANDBOX": True,
        "USAGE_UPSTREAM_URL": "http://127.0.0.1:9000/sandbox",
        "PUBLIC_SIGNUP": True,
    }


def test_trial_mode_finds_the_sandbox_at_the_public_address(tmp_path):
    found = settings_with(tmp_path, DEBUG="false", USAGE_SANDBOX="true", SITE_URL="https://console.example.com/")
    assert found["USAGE_UPSTREAM_URL"] == "https://console.example.com/sandbox"


def test_an_operator_default_upstream_wins(tmp_path):
    found = settings_with(tmp_path, DEBUG="false", USAGE_SANDBOX="true", USAGE_UPSTREAM_URL="https://api.agora.io")
    assert found["USAGE_UPSTREAM_URL"] == "https://api.agora.io"
    assert settings_with(tmp_path, DEBUG="false", PUBLIC_SIGNUP="true")["PUBLIC_SIGNUP"] is True


# ---- The usage settings page in production --------------------------------------------------------------


@pytest.fixture
def production_usage(settings, acme, client_for):
    """Sandbox off, no default upstream; Acme's upstream (made while the sandbox was on) has no base URL."""
    settings.USAGE_SANDBOX = False
    settings.USAGE_UPSTREAM_URL = ""
    return client_for(acme.users["admin"])


def base_url_help(response) -> str:
    return str(response.context["form"].fields["base_url"].help_text)


def test_without_sandbox_or_default_the_page_asks_for_the_agora_base_url(production_usage):
    response = production_usage.get("/usage/settings/")

    content = response.content.decode()
    assert "https://api.agora.io" in base_url_help(response)
    assert "Leave empty" not in base_url_help(response)
    assert "built-in" not in content.lower() and "sandbox" not in content.lower()
    assert "no default upstream" in content  # where the saved upstream pulls from: nowhere
    assert response.context["form"].fields["base_url"].required


def test_without_sandbox_or_default_an_empty_base_url_is_refused(production_usage, acme):
    data = {"base_url": "", "customer_id": "cid", "customer_secret": "a-secret"}

    response = production_usage.post("/usage/settings/", data)

    assert response.status_code == 200
    assert "Enter the base URL of your upstream" in str(response.context["form"].errors["base_url"])
    upstream = Upstream.objects.get(organization=acme.organization)
    assert upstream.customer_id != "cid"  # unchanged


def test_an_operator_default_upstream_is_offered_by_its_address(production_usage, settings):
    settings.USAGE_UPSTREAM_URL = "https://usage.example.com"

    help_text = base_url_help(production_usage.get("/usage/settings/"))

    assert "Leave empty to use this console’s default upstream, <code>https://usage.example.com</code>" in help_text


def test_with_the_sandbox_on_an_empty_base_url_is_the_sandbox(production_usage, settings):
    settings.USAGE_SANDBOX = True
    settings.USAGE_UPSTREAM_URL = "https://console.example.com/sandbox"

    response = production_usage.get("/usage/settings/")

    assert "Leave empty to use the built-in sandbox" in base_url_help(response)
    assert not response.context["form"].fields["base_url"].required
    assert "Built-in sandbox" in response.content.decode()
