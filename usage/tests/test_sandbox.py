"""The sandbox upstream over real HTTP (live_server): Agora's auth, shapes and validation, synthetic usage
with a rhythm, and the misbehaviour tests can ask of it."""

import base64
import re
import statistics
import time
from datetime import date, timedelta

import pytest
import requests

from projects import services as project_services
from projects.models import Project
from usage.synthetic import usage_for_day

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = [
    "durationAudioAll",
    "durationVideoHd",
    "durationVideo1080P",
    "durationVideo2K",
    "durationVideo4K",
    "durationVideoHdp",
]
DATE_FORM = re.compile(r"\d{4}-\d{2}-\d{2}T00:00:00\.000Z")


def credentials(org) -> tuple[str, str]:
    upstream = org.organization.upstream
    return upstream.customer_id, upstream.customer_secret


def call(live_server, org, path, auth=None, **params):
    return requests.get(f"{live_server.url}/sandbox{path}", params=params, auth=auth or credentials(org), timeout=10)


def usage(live_server, org, project, day_from, day_to, **params):
    return call(
        live_server,
        org,
        "/dev/v3/usage",
        project_id=project.project_id,
        from_date=day_from.isoformat(),
        to_date=day_to.isoformat(),
        **params,
    )


def totals(answer) -> list[tuple[date, int]]:
    return [(date.fromisoformat(item["date"][:10]), sum(item["usage"].values())) for item in answer["usages"]]


# Authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dev/v1/projects", "/dev/v3/usage"])
def test_basic_auth_is_required(acme, live_server, path):
    customer_id, secret = credentials(acme)
    url = f"{live_server.url}/sandbox{path}"
    for auth in (None, (customer_id, "wrong"), ("nobody", secret), (customer_id, "")):
        response = requests.get(url, auth=auth, timeout=10)
        assert response.status_code == 401, auth
        assert response.json() == {"message": "Invalid authentication credentials"}
    for header in ("Bearer abc", "Basic", "Basic %%%", "Basic " + base64.b64encode(customer_id.encode()).decode()):
        assert requests.get(url, headers={"Authorization": header}, timeout=10).status_code == 401, header


def test_the_scheme_word_is_case_insensitive(acme, live_server):
    token = base64.b64encode(":".join(credentials(acme)).encode()).decode()
    for scheme in ("Basic", "basic", "BASIC", "bAsIc"):
        response = requests.get(
            f"{live_server.url}/sandbox/dev/v1/projects", headers={"Authorization": f"{scheme} {token}"}, timeout=10
        )
        assert response.status_code == 200, scheme


def test_an_upstream_that_is_not_the_sandbox_cannot_sign_in_to_it(acme, live_server):
    upstream = acme.organization.upstream
    upstream.base_url = "https://api.agora.io"
    upstream.save()
    assert call(live_server, acme, "/dev/v1/projects").status_code == 401


# Projects --------------------------------------------------------------------------------------


def test_projects_have_exactly_agoras_shape(acme, globex, live_server):
    admin = acme.membership("admin")
    open_project = project_services.create_project(admin, name="App ID only", mechanism=Project.Mechanism.APP_ID)
    project_services.set_enabled(admin, acme.projects[1], False)

    response = call(live_server, acme, "/dev/v1/projects")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["projects"]
    listed = {item["id"]: item for item in body["projects"]}
    assert set(listed) == {p.project_id for p in [*acme.projects, open_project]}  # Globex's are not there
    for project in [*acme.projects, open_project]:
        project = Project.objects.get(pk=project.pk)
        item = listed[project.project_id]
        assert list(item) == ["id", "name", "vendor_key", "sign_key", "recording_server", "status", "created"]
        primary = project.primary
        assert item == {
            "id": project.project_id,
            "name": project.name,
            "vendor_key": project.app_id,
            "sign_key": primary.value if primary else "",
            "recording_server": None,
            "status": 1 if project.enabled else 0,
            "created": int(project.created_at.timestamp()),
        }
        assert isinstance(item["created"], int) and not isinstance(item["status"], bool)
    assert listed[acme.projects[1].project_id]["status"] == 0
    assert listed[open_project.project_id]["sign_key"] == ""
    assert len(listed[acme.projects[0].project_id]["sign_key"]) == 32


# Usage: shape and rhythm ----------------------------------------------------------------------


def test_usage_has_exactly_agoras_shape_one_entry_per_day(acme, live_server):
    project = acme.projects[0]
    response = usage(live_server, acme, project, date(2025, 2, 20), date(2025, 3, 5))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["meta", "usages"]
    assert list(body["meta"]) == FIELDS
    assert all(body["meta"][name]["unit"] == "second" and body["meta"][name]["en"] for name in FIELDS)
    assert body["meta"]["durationAudioAll"]["en"] == "Total Audio Duration"
    expected_days = [date(2025, 2, 20) + timedelta(days=n) for n in range(14)]
    assert [item["date"] for item in body["usages"]] == [f"{d.isoformat()}T00:00:00.000Z" for d in expected_days]
    for item, day in zip(body["usages"], expected_days, strict=True):
        assert list(item) == ["date", "usage"] and DATE_FORM.fullmatch(item["date"])
        assert list(item["usage"]) == FIELDS
        for value in item["usage"].values():
            assert type(value) is int and value >= 0
        assert item["usage"] == usage_for_day(project.project_id, day)  # what the synthetic model says


def test_usage_is_deterministic_per_project_and_differs_between_projects(acme, live_server):
    first, second = acme.projects
    window = (date(2025, 6, 1), date(2025, 7, 31))
    once = usage(live_server, acme, first, *window).json()
    assert usage(live_server, acme, first, *window).json() == once
    other = usage(live_server, acme, second, *window).json()
    assert [item["usage"] for item in other["usages"]] != [item["usage"] for item in once["usages"]]


def test_usage_has_a_weekly_rhythm_empty_days_and_growth(acme, live_server):
    project = acme.projects[0]
    year = totals(usage(live_server, acme, project, date(2025, 1, 1), date(2025, 12, 31)).json())
    assert len(year) == 365
    weekdays = [seconds for day, seconds in year if day.weekday() < 5 and seconds]
    weekends = [seconds for day, seconds in year if day.weekday() >= 5 and seconds]
    assert statistics.mean(weekdays) > 1.5 * statistics.mean(weekends)
    empty = [day for day, seconds in year if seconds == 0]
    assert 1 <= len(empty) <= 60  # a few days nobody called

    early = [s for _, s in totals(usage(live_server, acme, project, date(2024, 1, 1), date(2024, 3, 31)).json()) if s]
    late = [s for _, s in totals(usage(live_server, acme, project, date(2025, 10, 1), date(2025, 12, 31)).json()) if s]
    assert statistics.mean(late) > 1.3 * statistics.mean(early)


def test_usage_mixes_tiers_and_scales_by_business(acme, live_server):
    project = acme.projects[0]
    window = (date(2025, 4, 1), date(2025, 4, 30))
    default = usage(live_server, acme, project, *window).json()["usages"]
    per_field = {name: sum(item["usage"][name] for item in default) for name in FIELDS}
    assert all(per_field[name] > 0 for name in FIELDS)  # audio and every video tier
    assert per_field["durationAudioAll"] > per_field["durationVideo4K"]
    recording = usage(live_server, acme, project, *window, business="cloudRecording").json()["usages"]
    assert 0 < sum(sum(i["usage"].values()) for i in recording) < sum(sum(i["usage"].values()) for i in default)
    miniapp = usage(live_server, acme, project, *window, business="miniapp").json()["usages"]
    assert len(miniapp) == 30 and all(set(i["usage"].values()) == {0} for i in miniapp)


def test_days_to_come_have_no_usage(acme, live_server):
    today = date.today()
    answer = usage(live_server, acme, acme.projects[0], today + timedelta(days=1), today + timedelta(days=5)).json()
    assert len(answer["usages"]) == 5
    assert all(set(item["usage"].values()) == {0} for item in answer["usages"])


# Usage: parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"project_id": None}, "project_id"),
        ({"project_id": ""}, "project_id"),
        ({"from_date": None}, "from_date"),
        ({"to_date": None}, "to_date"),
        ({"from_date": "2025-13-01"}, "from_date"),
        ({"from_date": "yesterday"}, "from_date"),
        ({"from_date": "20250101"}, "from_date"),
        ({"to_date": "2025-W05-1"}, "to_date"),
        ({"to_date": "2025-02-30"}, "to_date"),
        ({"from_date": "2025-03-02", "to_date": "2025-03-01"}, "after"),
        ({"from_date": "2024-01-01", "to_date": "2025-01-02"}, "one year"),
        ({"business": "video"}, "business"),
        ({"business": "Default"}, "business"),
    ],
)
def test_bad_parameters_are_400_with_a_message(acme, live_server, params, message):
    query = {"project_id": acme.projects[0].project_id, "from_date": "2025-01-01", "to_date": "2025-01-31"}
    query.update(params)
    response = call(live_server, acme, "/dev/v3/usage", **{k: v for k, v in query.items() if v is not None})
    assert response.status_code == 400
    assert list(response.json()) == ["message"] and message in response.json()["message"]


def test_a_year_is_the_longest_window(acme, live_server):
    answer = usage(live_server, acme, acme.projects[0], date(2025, 1, 1), date(2025, 12, 31))
    assert answer.status_code == 200 and len(answer.json()["usages"]) == 365
    assert usage(live_server, acme, acme.projects[0], date(2024, 1, 1), date(2024, 12, 31)).status_code == 200
    assert usage(live_server, acme, acme.projects[0], date(2025, 1, 1), date(2026, 1, 2)).status_code == 400


def test_another_organizations_project_is_404(acme, globex, live_server):
    for project_id in (globex.projects[0].project_id, "NoSuchOne"):
        response = call(
            live_server, acme, "/dev/v3/usage", project_id=project_id, from_date="2025-01-01", to_date="2025-01-02"
        )
        assert response.status_code == 404
        assert response.json() == {"message": "project not exist"}
    assert usage(live_server, globex, globex.projects[0], date(2025, 1, 1), date(2025, 1, 2)).status_code == 200


def test_the_sandbox_is_off_unless_enabled(acme, live_server, settings):
    settings.USAGE_SANDBOX = False
    assert call(live_server, acme, "/dev/v1/projects").status_code == 404
    assert usage(live_server, acme, acme.projects[0], date(2025, 1, 1), date(2025, 1, 2)).status_code == 404
    settings.USAGE_SANDBOX = True
    assert call(live_server, acme, "/dev/v1/projects").status_code == 200


# Fault injection --------------------------------------------------------------------------------


def always(kind, **options) -> dict:
    return {"error_rate": 1.0, "faults": [kind], **options}


def test_fault_500(acme, live_server, settings):
    settings.USAGE_SANDBOX_FAULTS = always("500")
    response = usage(live_server, acme, acme.projects[0], date(2025, 1, 1), date(2025, 1, 2))
    assert response.status_code == 500 and "message" in response.json()
    assert call(live_server, acme, "/dev/v1/projects").status_code == 500


def test_fault_429_says_when_to_come_back(acme, live_server, settings):
    settings.USAGE_SANDBOX_FAULTS = always("429", retry_after=7)
    response = usage(live_server, acme, acme.projects[0], date(2025, 1, 1), date(2025, 1, 2))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert "message" in response.json()


def test_fault_malformed_json(acme, live_server, settings):
    settings.USAGE_SANDBOX_FAULTS = always("malformed")
    response = usage(live_server, acme, acme.projects[0], date(2025, 1, 1), date(2025, 1, 2))
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_fault_slow_answers_late_but_right(acme, live_server, settings):
    project = acme.projects[0]
    settings.USAGE_SANDBOX_FAULTS = always("slow", slow_seconds=0.4)
    started = time.monotonic()
    response = usage(live_server, acme, project, date(2025, 1, 1), date(2025, 1, 2))
    assert time.monotonic() - started >= 0.4
    assert response.status_code == 200
    assert response.json()["usages"][0]["usage"] == usage_for_day(project.project_id, date(2025, 1, 1))


def test_faults_come_at_the_asked_rate_and_never_before_authentication(acme, live_server, settings):
    settings.USAGE_SANDBOX_FAULTS = {"error_rate": 0.3, "faults": ["500", "429"], "retry_after": 0}
    statuses = [call(live_server, acme, "/dev/v1/projects").status_code for _ in range(80)]
    faults = statuses.count(500) + statuses.count(429)
    assert set(statuses) <= {200, 429, 500}
    assert 8 <= faults <= 42, statuses  # 24 expected
    assert statuses.count(500) and statuses.count(429)

    settings.USAGE_SANDBOX_FAULTS = always("500")
    assert call(live_server, acme, "/dev/v1/projects", auth=("nobody", "nothing")).status_code == 401
    settings.USAGE_SANDBOX_FAULTS = {}
    assert call(live_server, acme, "/dev/v1/projects").status_code == 200
