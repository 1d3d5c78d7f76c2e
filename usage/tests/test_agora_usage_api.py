"""Agora's `GET /dev/v3/usage` over the console's stored usage, called over real HTTP with `requests` and a
Customer ID / Secret, as an outside script would."""

import re
from datetime import date, timedelta

import pytest
import requests

from accounts.api_credentials import create_credential
from accounts.models import Membership, User
from accounts.services import create_role
from conftest import PASSWORD
from projects import services as project_services
from usage.models import DailyUsage

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = [
    "durationAudioAll",
    "durationVideoHd",
    "durationVideo1080P",
    "durationVideo2K",
    "durationVideo4K",
    "durationVideoHdp",
]
ZERO = dict.fromkeys(FIELDS, 0)
DATE_FORM = re.compile(r"\d{4}-\d{2}-\d{2}T00:00:00\.000Z")
NOT_FOUND = {"message": "project not exist"}


def caller_for(live_server, membership: Membership):
    new = create_credential(membership, "usage script")

    def get(**params) -> requests.Response:
        auth = params.pop("auth", (new.credential.customer_id, new.secret))
        return requests.get(f"{live_server.url}/dev/v3/usage", params=params, auth=auth, timeout=10)

    return get


@pytest.fixture
def usage_api(live_server, acme):
    return caller_for(live_server, acme.membership("finance"))


@pytest.fixture
def stored(acme):
    """Two days of RTC usage and one of cloud recording for Acme's first project, one day for its second."""
    first, second = acme.projects
    DailyUsage.objects.create(project=first, date=date(2025, 3, 10), audio=779, video_hd=60, video_hd_plus=5)
    DailyUsage.objects.create(project=first, date=date(2025, 3, 12), audio=1, video_full_hd=2, video_2k=3)
    DailyUsage.objects.create(project=first, date=date(2025, 3, 12), business="cloudRecording", video_2k_plus=42)
    DailyUsage.objects.create(project=second, date=date(2025, 3, 10), audio=99_999)
    return first


def query(project, day_from="2025-03-09", day_to="2025-03-13", **params) -> dict:
    return {"project_id": project.project_id, "from_date": day_from, "to_date": day_to, **params}


def test_usage_has_exactly_agoras_shape_one_entry_per_day(usage_api, stored):
    response = usage_api(**query(stored))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["meta", "usages"]
    assert list(body["meta"]) == FIELDS
    assert body["meta"]["durationAudioAll"] == {"en": "Total Audio Duration", "unit": "second"}
    assert all(list(meta) == ["en", "unit"] and meta["unit"] == "second" for meta in body["meta"].values())
    assert [item["date"] for item in body["usages"]] == [f"2025-03-{day:02d}T00:00:00.000Z" for day in range(9, 14)]
    for item in body["usages"]:
        assert list(item) == ["date", "usage"] and DATE_FORM.fullmatch(item["date"])
        assert list(item["usage"]) == FIELDS
        assert all(type(value) is int for value in item["usage"].values())
    assert [item["usage"] for item in body["usages"]] == [
        ZERO,
        {**ZERO, "durationAudioAll": 779, "durationVideoHd": 60, "durationVideoHdp": 5},
        ZERO,  # no row that day
        {**ZERO, "durationAudioAll": 1, "durationVideo1080P": 2, "durationVideo2K": 3},
        ZERO,
    ]


def test_the_business_filter_picks_the_rows_of_that_business(usage_api, stored):
    body = usage_api(**query(stored, business="cloudRecording")).json()
    assert [item["usage"]["durationVideo4K"] for item in body["usages"]] == [0, 0, 0, 42, 0]
    miniapp = usage_api(**query(stored, business="miniapp")).json()["usages"]
    assert [item["usage"] for item in miniapp] == [ZERO] * 5


def test_a_year_is_the_longest_window_and_one_day_the_shortest(usage_api, stored):
    year = usage_api(**query(stored, "2024-01-01", "2024-12-31"))  # a leap year: 366 days
    assert year.status_code == 200 and len(year.json()["usages"]) == 366
    one = usage_api(**query(stored, "2025-03-10", "2025-03-10")).json()["usages"]
    assert [item["usage"]["durationAudioAll"] for item in one] == [779]
    assert usage_api(**query(stored, "2025-01-01", "2026-01-01")).status_code == 200  # 366 days
    assert usage_api(**query(stored, "2025-01-01", "2026-01-02")).status_code == 400


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"project_id": None}, "project_id"),
        ({"project_id": ""}, "project_id"),
        ({"from_date": None}, "from_date"),
        ({"to_date": None}, "to_date"),
        ({"from_date": "2025-13-01"}, "from_date"),
        ({"from_date": "20250101"}, "from_date"),
        ({"from_date": "2025-3-1"}, "from_date"),
        ({"to_date": "2025-W05-1"}, "to_date"),
        ({"to_date": "2025-02-30"}, "to_date"),
        ({"to_date": "2025-03-01T00:00:00"}, "to_date"),
        ({"from_date": "2025-03-02", "to_date": "2025-03-01"}, "after"),
        ({"from_date": "2024-01-01", "to_date": "2025-01-02"}, "one year"),
        ({"business": "video"}, "business"),
        ({"business": "Default"}, "business"),
    ],
)
def test_bad_parameters_are_400_with_a_message(usage_api, stored, params, message):
    asked = {**query(stored, "2025-01-01", "2025-01-31"), **params}
    response = usage_api(**{key: value for key, value in asked.items() if value is not None})
    assert response.status_code == 400
    assert list(response.json()) == ["message"] and message in response.json()["message"]


def test_a_project_outside_the_organization_or_the_scope_is_404(live_server, usage_api, acme, globex, stored):
    for project_id in (globex.projects[0].project_id, "NoSuchOne", "not-an-id"):
        response = usage_api(**query(stored, project_id=project_id))
        assert response.status_code == 404 and response.json() == NOT_FOUND, project_id

    admin = acme.membership("admin")
    levels = {"usage": "view"}
    role = create_role(admin, name="Second only", levels=levels, all_projects=False, projects=[acme.projects[1]])
    user = User.objects.create_user("scoped@acme.test", PASSWORD)
    scoped = caller_for(live_server, Membership.objects.create(user=user, organization=acme.organization, role=role))
    assert scoped(**query(stored)).json() == NOT_FOUND
    second = scoped(**query(acme.projects[1], "2025-03-10", "2025-03-10")).json()
    assert second["usages"][0]["usage"]["durationAudioAll"] == 99_999


def test_archived_projects_keep_their_usage(usage_api, acme, stored):
    project_services.set_archived(acme.membership("admin"), stored, True)
    assert usage_api(**query(stored)).json()["usages"][1]["usage"]["durationAudioAll"] == 779


def test_usage_needs_credentials_and_usage_view(live_server, usage_api, acme, stored):
    for auth in (None, ("nobody", "nothing")):
        response = usage_api(**query(stored), auth=auth)
        assert response.status_code == 401 and list(response.json()) == ["message"]
    role = create_role(acme.membership("admin"), name="No usage", levels={"projects": "view"})
    user = User.objects.create_user("nousage@acme.test", PASSWORD)
    refused = caller_for(live_server, Membership.objects.create(user=user, organization=acme.organization, role=role))
    response = refused(**query(stored))
    assert response.status_code == 403 and "usage: view" in response.json()["message"]


def test_days_to_come_are_zeros(usage_api, stored):
    today = date.today()
    body = usage_api(**query(stored, str(today + timedelta(days=1)), str(today + timedelta(days=3)))).json()
    assert [item["usage"] for item in body["usages"]] == [ZERO] * 3
