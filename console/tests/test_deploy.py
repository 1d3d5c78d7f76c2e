"""The deployment files agree with the code.

docker-compose.yml, Dockerfile, .dockerignore and .env.example are read as data and every command, module,
copied file and environment variable they name is checked against the project; then `manage.py check
--deploy` runs in a subprocess with production settings and must print no warning, and a response served
with those settings must carry HSTS and the enforced Content-Security-Policy.
"""

import ast
import fnmatch
import importlib
import json
import os
import re
import secrets
import shlex
import string
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import get_commands
from gunicorn.config import Config as GunicornConfig

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS_FILE = ROOT / "console" / "settings.py"

APP_SERVICES = ("migrate", "web", "worker", "beat")
REQUIRED_SERVICES = {"postgres", "redis", *APP_SERVICES}
COMPOSE_ONLY_MARKER = "[docker-compose only]"

# django-environ's readers (Env.str, Env.db_url, ...) and os.environ's.
ENV_READERS = {
    *("str", "bool", "int", "float", "list", "tuple", "dict", "json", "url", "path", "bytes", "get_value"),
    *("db_url", "db", "cache_url", "cache", "email_url", "email", "search_url"),
}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
ENV_LINE = re.compile(r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$")


# ---- Readers --------------------------------------------------------------------------------------------


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict:
    return compose()["services"]


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def dockerfile_values(keyword: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == keyword]


def exec_form(arguments: str) -> list[str]:
    """CMD/ENTRYPOINT arguments as argv: JSON exec form, or shell form split like a shell would."""
    if arguments.startswith("["):
        return json.loads(arguments)
    return shlex.split(arguments)


def dockerfile_cmd() -> list[str]:
    values = dockerfile_values("CMD")
    assert values, "Dockerfile has no CMD"
    return exec_form(values[-1])


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    if command is None:
        return dockerfile_cmd()
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


@cache
def settings_env_vars() -> frozenset[str]:
    """Names of the environment variables that console/settings.py reads, found in its syntax tree."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS_FILE.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ENV_READERS and _is_env_object(func.value):
            names.add(first.value)  # env.str("X"), environ.Env().bool("X")
        elif isinstance(func, ast.Name) and func.id == "env":
            names.add(first.value)  # env("X")
        elif isinstance(func, ast.Attribute) and func.attr in ("get", "getenv") and _is_os_environ(func.value):
            names.add(first.value)  # os.environ.get("X"), os.getenv("X")
    for node in ast.walk(ast.parse(SETTINGS_FILE.read_text())):
        if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                names.add(node.slice.value)  # os.environ["X"]
    return frozenset(names)


def _is_env_object(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "env"
    if isinstance(node, ast.Call):  # environ.Env() or Env()
        func = node.func
        return (isinstance(func, ast.Attribute) and func.attr == "Env") or (
            isinstance(func, ast.Name) and func.id == "Env"
        )
    return False


def _is_os_environ(node: ast.AST) -> bool:
    text = ast.unparse(node)
    return text in ("os.environ", "os")


@cache
def env_example() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(Django variables, docker-compose-only variables), each name -> the comment lines of its block."""
    django_vars, compose_vars = {}, {}
    target, block_comments = django_vars, []
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if COMPOSE_ONLY_MARKER in line:
            target = compose_vars
        if not line:
            block_comments = []
            continue
        match = ENV_LINE.match(line)
        if match:
            name = match.group(1)
            assert name not in django_vars and name not in compose_vars, f".env.example lists {name} twice"
            target[name] = list(block_comments)
        elif line.startswith("#"):
            block_comments.append(line)
        else:
            pytest.fail(f".env.example: cannot read line {raw!r}")
    return django_vars, compose_vars


def interpolate(value: str, variables: dict[str, str]) -> str:
    """docker-compose's ${VAR}, ${VAR:-default}, ${VAR:?error} (and the forms without ':')."""

    def replace(match: re.Match) -> str:
        name, operator, argument = match.groups()
        value = variables.get(name)
        missing = value is None or (value == "" and operator and operator.startswith(":"))
        if operator and operator.endswith("?") and missing:
            raise AssertionError(f"docker-compose would refuse to start: {argument or name}")
        if operator and operator.endswith("-") and missing:
            return argument
        return value or ""

    return INTERPOLATION.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative, '/'-separated) out of the build context.

    Docker's rules, simplified: a pattern matches the path or one of its parent directories, `**/` matches
    any number of leading directories, `!` re-includes, and the last matching line wins.
    """
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        if any(_dockerignore_match(candidate, pattern) for candidate in candidates):
            ignored = not negate
    return ignored


def _dockerignore_match(path: str, pattern: str) -> bool:
    if pattern.startswith("**/"):
        parts = path.split("/")
        return any(_dockerignore_match("/".join(parts[n:]), pattern[3:]) for n in range(len(parts)))
    return fnmatch.fnmatchcase(path, pattern)


def requirement_names() -> set[str]:
    names = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower())
    return names


# ---- What a command refers to ---------------------------------------------------------------------------


def check_argv(argv: list[str]) -> str:
    """Check that everything `argv` names exists; return its kind: 'manage.py <cmd>', 'gunicorn', 'celery <sub>'."""
    assert argv, "empty command"
    if "manage.py" in argv:
        index = argv.index("manage.py")
        assert (ROOT / "manage.py").exists()
        assert index + 1 < len(argv), f"{argv}: manage.py without a command"
        name = argv[index + 1]
        assert name in get_commands(), f"{argv}: there is no management command {name!r}"
        return f"manage.py {name}"
    if argv[0] == "gunicorn":
        options = GunicornConfig().parser().parse_args(argv[1:])
        assert len(options.args) == 1, f"{argv}: gunicorn needs exactly one module:attribute target"
        module_name, _, attribute = options.args[0].partition(":")
        module = importlib.import_module(module_name)
        target = getattr(module, attribute or "application", None)
        assert callable(target), f"{argv}: {options.args[0]} is not a WSGI callable"
        return "gunicorn"
    celery_argv = argv[2:] if argv[:3] == ["python", "-m", "celery"] else argv
    if celery_argv[0] == "celery":
        app_name, rest, args = None, [], iter(celery_argv[1:])
        for arg in args:
            if arg in ("-A", "--app"):
                app_name = next(args)
            elif arg.startswith("--app="):
                app_name = arg.split("=", 1)[1]
            else:
                rest.append(arg)
        assert app_name, f"{argv}: celery without -A"
        package = ROOT / app_name.replace(".", "/")
        assert (package / "celery.py").exists(), f"{argv}: {package / 'celery.py'} does not exist"
        app = find_app(app_name)  # what the celery command does with -A
        assert isinstance(app, Celery), f"{argv}: -A {app_name} is not a Celery application"
        subcommand = next((arg for arg in rest if not arg.startswith("-")), None)
        assert subcommand in ("worker", "beat"), f"{argv}: unexpected celery subcommand {subcommand!r}"
        return f"celery {subcommand}"
    raise AssertionError(f"{argv}: not a command these tests know how to check")


def option_value(argv: list[str], name: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
    return None


# ---- docker-compose.yml ---------------------------------------------------------------------------------


def test_compose_declares_every_service():
    missing = REQUIRED_SERVICES - set(services())
    assert not missing, f"docker-compose.yml lacks services: {sorted(missing)}"


def test_compose_images_and_health_checks():
    assert str(services()["postgres"]["image"]).startswith("postgres:16")
    assert str(services()["redis"]["image"]).startswith("redis:7")
    assert "healthcheck" in services()["postgres"]
    # Anything waited on as healthy must have a health check, or the dependant never starts.
    for name, service in services().items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in services(), f"{name} depends on unknown service {dependency}"
            if condition == "service_healthy":
                assert "healthcheck" in services()[dependency], f"{name} waits for {dependency} healthy"


def _depends_on(service: dict) -> dict[str, str]:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {name: (options or {}).get("condition", "service_started") for name, options in depends_on.items()}


def test_compose_migrations_run_once_before_the_app():
    migrate = services()["migrate"]
    assert _depends_on(migrate).get("postgres") == "service_healthy"
    # A restart policy other than "no"/"on-failure" would rerun a finished migration forever.
    assert migrate.get("restart", "no") in ("no", "on-failure")
    for name in ("web", "worker", "beat"):
        assert _depends_on(services()[name]).get("migrate") == "service_completed_successfully", (
            f"{name} must wait for migrate to complete successfully"
        )


@pytest.mark.parametrize(
    ("service", "kind"),
    [("migrate", "manage.py migrate"), ("web", "gunicorn"), ("worker", "celery worker"), ("beat", "celery beat")],
)
def test_compose_commands_refer_to_existing_things(service, kind):
    assert check_argv(command_of(services()[service])) == kind


def test_every_manage_py_command_in_compose_exists():
    for service in services().values():
        argv = command_of(service) if ("command" in service or "build" in service) else []
        if "manage.py" in argv:
            check_argv(argv)


def test_compose_web_port_matches_the_image():
    web = command_of(services()["web"])
    bind = option_value(web, "--bind") or option_value(web, "-b")
    assert bind and bind.endswith(":8000"), f"web binds {bind!r}"
    assert any(str(port).endswith(":8000") for port in services()["web"].get("ports", []))
    assert "8000" in " ".join(dockerfile_values("EXPOSE"))


def test_compose_beat_schedule_is_writable():
    beat = services()["beat"]
    schedule = option_value(command_of(beat), "--schedule") or option_value(command_of(beat), "-s")
    assert schedule, "beat should name its schedule file (--schedule) in a writable place"
    directory = str(Path(schedule).parent)
    mounts = [str(volume).split(":")[1] for volume in beat.get("volumes", []) if ":" in str(volume)]
    assert directory in mounts or directory == "/tmp", f"{directory} is neither a volume nor /tmp"
    if directory != "/tmp":
        user = dockerfile_values("USER")[-1].split(":")[0]
        assert any(f"chown {user}" in run and directory in run for run in dockerfile_values("RUN")), (
            f"the image should give {directory} to {user}, so that the volume mounted there is writable"
        )


@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_app_environment(service):
    definition = services()[service]
    env_files = definition.get("env_file")
    env_files = [env_files] if isinstance(env_files, str) else env_files or []
    assert ".env" in [entry if isinstance(entry, str) else entry.get("path") for entry in env_files]
    environment = definition.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    unknown = set(environment) - settings_env_vars()
    assert not unknown, f"{service} sets variables that settings never read: {sorted(unknown)}"
    assert str(environment.get("DEBUG")).lower() == "false"
    assert str(environment.get("DATABASE_URL", "")).startswith("postgres://")
    assert environment.get("REDIS_URL") == "redis://redis:6379/0"
    for required in ("SECRET_KEY", "CONSOLE_ENCRYPTION_KEYS", "ALLOWED_HOSTS"):
        assert str(environment.get(required, "")).startswith(f"${{{required}:?"), (
            f"{service}: {required} should be required with ${{{required}:?message}}"
        )
    assert "HTTPS" in environment and "TRUST_PROXY_HTTPS_HEADER" in environment


def test_compose_variables_are_documented():
    django_vars, compose_vars = env_example()
    used = {match.group(1) for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text())}
    undocumented = used - set(django_vars) - set(compose_vars)
    assert not undocumented, f"docker-compose.yml uses variables missing from .env.example: {sorted(undocumented)}"


# ---- Dockerfile and .dockerignore -----------------------------------------------------------------------


def test_dockerfile_base_image_user_and_port():
    assert dockerfile_values("FROM")[0].split()[0] == "python:3.11-slim"
    users = dockerfile_values("USER")
    assert users, "the image should not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert "8000" in " ".join(dockerfile_values("EXPOSE"))


def test_dockerfile_installs_requirements_and_collects_static():
    runs = dockerfile_values("RUN")
    assert any("pip install" in run and "-r requirements.txt" in run for run in runs)
    collect = [run for run in runs if "collectstatic" in run]
    assert collect and "--noinput" in collect[0]
    assert "SECRET_KEY=" in collect[0] and "CONSOLE_ENCRYPTION_KEYS=" in collect[0]
    # Everything the commands start must be installed from requirements.txt.
    assert {"gunicorn", "whitenoise", "celery", "redis", "django"} <= requirement_names()
    assert any(name.startswith("psycopg") for name in requirement_names())


def test_dockerfile_cmd_and_entrypoint_refer_to_existing_things():
    assert check_argv(dockerfile_cmd()) == "gunicorn"
    for entrypoint in dockerfile_values("ENTRYPOINT"):
        program = exec_form(entrypoint)[0]
        assert program in ("python", "gunicorn", "celery") or (ROOT / program.removeprefix("/app/")).exists()


def test_dockerfile_copies_only_existing_files():
    copies = dockerfile_values("COPY") + dockerfile_values("ADD")
    assert copies
    for arguments in copies:
        parts = exec_form(arguments) if arguments.startswith("[") else arguments.split()
        if any(part.startswith("--from") for part in parts):
            continue  # from another build stage
        sources = [part for part in parts if not part.startswith("--")][:-1]
        assert sources, f"COPY {arguments}: no source"
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {arguments}: {source} does not exist"
            if source != ".":
                assert not dockerignored(source), f"COPY {arguments}: .dockerignore excludes {source}"


def test_dockerignore_keeps_what_the_image_runs():
    needed = ["manage.py", "requirements.txt", "console/settings.py", "console/wsgi.py", "console/celery.py"]
    needed += [f"{app}/__init__.py" for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()]
    needed += ["console/static/console/console.css"]
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not dockerignored(path), f".dockerignore excludes {path}, which the image needs"
    for path in (".env", ".git/config", ".venv/bin/python", "var/secret_key", "var/encryption_keys"):
        assert dockerignored(path), f".dockerignore should exclude {path}"


# ---- .env.example ---------------------------------------------------------------------------------------


# Set by the test runner for its own processes (console.settings.redis_url_for_test_worker), not by operators.
SET_BY_THE_TEST_RUNNER = {"PYTEST_XDIST_WORKER"}


def test_env_example_lists_exactly_what_settings_read():
    django_vars, _ = env_example()
    read = settings_env_vars() - SET_BY_THE_TEST_RUNNER
    assert read, "found no environment reads in console/settings.py"
    not_documented = read - set(django_vars)
    not_read = set(django_vars) - read
    assert not not_documented, f"settings read variables missing from .env.example: {sorted(not_documented)}"
    assert not not_read, f".env.example lists variables that settings never read: {sorted(not_read)}"


def test_env_example_compose_only_variables_are_used_by_compose():
    _, compose_vars = env_example()
    used = {match.group(1) for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text())}
    for name in compose_vars:
        assert name not in settings_env_vars(), f"{name} is read by settings; move it above {COMPOSE_ONLY_MARKER}"
        assert name in used, f"{name} is listed as docker-compose only but docker-compose.yml never uses it"


def test_env_example_explains_every_variable():
    django_vars, compose_vars = env_example()
    for name, comments in {**django_vars, **compose_vars}.items():
        prose = [line for line in comments if not ENV_LINE.match(line)]
        assert prose, f".env.example: {name} has no comment"


# ---- check --deploy -------------------------------------------------------------------------------------


def production_secrets() -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return {
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(60)),
        "CONSOLE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def environment_with(variables: dict[str, str]) -> dict[str, str]:
    """This process's environment with only `variables` set among those settings read."""
    environment = {name: value for name, value in os.environ.items() if name not in settings_env_vars()}
    environment.update(variables, DJANGO_SETTINGS_MODULE="console.settings")
    return environment


def check_deploy(variables: dict[str, str]) -> str:
    """Run `manage.py check --deploy` with only `variables` set among those settings read."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=environment_with(variables),
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS" not in output, output
    return output


# The response headers of GET /healthz over HTTPS, as a browser would get them (an empty SQLite database answers).
HEALTHZ_HEADERS = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz", secure=True, headers={"host": "console.example.com"})
print(json.dumps({"status": response.status_code, **response.headers}))
"""


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    variables = {
        "DEBUG": "false",
        **production_secrets(),
        "ALLOWED_HOSTS": "console.example.com",
        "HTTPS": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'console.sqlite3'}",
        "CONSOLE_VAR_DIR": str(tmp_path),
    }
    check_deploy(variables)
    # The keys came from the environment: nothing was generated into the var directory.
    assert not (tmp_path / "secret_key").exists()
    assert not (tmp_path / "encryption_keys").exists()

    # Responses carry the transport-security headers and the enforced Content-Security-Policy.
    result = subprocess.run(
        [sys.executable, "-c", HEALTHZ_HEADERS],
        cwd=ROOT,
        env=environment_with(variables),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    headers = json.loads(result.stdout.splitlines()[-1])
    assert headers["status"] == 200, headers
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000"), headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-" not in policy, policy
    assert "Content-Security-Policy-Report-Only" not in headers


def test_check_deploy_is_clean_with_the_compose_environment(tmp_path):
    """What docker-compose hands the web container, given a .env with just the required values."""
    dot_env = {**production_secrets(), "ALLOWED_HOSTS": "console.example.com", "POSTGRES_PASSWORD": "pw"}
    web = services()["web"]
    variables = {name: interpolate(str(value), dot_env) for name, value in web["environment"].items()}
    variables["CONSOLE_VAR_DIR"] = str(tmp_path)  # /app/var exists only in the image
    check_deploy(variables)  # settings only parse DATABASE_URL; `check` connects to no database
