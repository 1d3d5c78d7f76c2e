"""The native API for usage: /api/v1/usage/daily/ (rows, filters, cursor pages, scope) and
/api/v1/usage/summary/ (totals per tier in seconds and billed minutes, grouped by day, month or project)."""

from datetime import date

import pytest
from django.utils import timezone

from accounts.models import Membership, User
from accounts.services import create_role
from console.tests.api_helpers import Api, message
from usage.models import DailyUsage

DAILY = "/api/v1/usage/daily/"
SUMMARY = "/api/v1/usage/summary/"
NO_SECONDS = {"audio": 0, "video_hd": 0, "video_full_hd": 0, "video_2k": 0, "video_2k_plus": 0, "video_hd_plus": 0}


def add(project, day, business="default", **seconds):
    return DailyUsage.objects.create(project=project, date=day, business=business, **seconds)


def tiers(**values) -> dict:
    return {**NO_SECONDS, **values}


def minutes(**values) -> dict:
    """Billable minutes per tier (legacy HD+ is in video_hd)."""
    return {key: 0 for key in NO_SECONDS if key != "video_hd_plus"} | values


@pytest.fixture
def api(acme, client):
    return Api(client, acme.membership("finance"))


@pytest.fixture
def usage(acme, globex):
    one, two = acme.projects
    add(one, date(2026, 3, 1), audio=61, video_hd=30)
    add(two, date(2026, 3, 1), audio=59)
    add(one, date(2026, 3, 2), video_full_hd=120)
    add(one, date(2026, 4, 10), audio=1)
    add(one, date(2026, 3, 2), business="cloudRecording", audio=600)
    add(globex.projects[0], date(2026, 3, 1), audio=9999)


def scoped_member(acme, project) -> Membership:
    """A member whose role sees `project` only."""
    role = create_role(
        acme.membership("admin"), name="One project", levels={"usage": "view"}, all_projects=False, projects=[project]
    )
    user = User.objects.create_user("scoped@acme.test", "pw")
    return Membership.objects.create(user=user, organization=acme.organization, role=role)


# Daily rows -------------------------------------------------------------------------------------


def test_daily_rows_newest_first_with_seconds_per_tier(acme, api, usage):
    response = api.get(DAILY)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["date"], r["project_name"], r["business"]) for r in rows] == [
        ("2026-04-10", "Acme project 1", "default"),
        ("2026-03-02", "Acme project 1", "cloudRecording"),
        ("2026-03-02", "Acme project 1", "default"),
        ("2026-03-01", "Acme project 2", "default"),
        ("2026-03-01", "Acme project 1", "default"),
    ]
    first_of_march = rows[-1]
    assert first_of_march["project"] == acme.projects[0].project_id
    assert first_of_march["audio"] == 61 and first_of_march["video_hd"] == 30
    assert first_of_march["total_seconds"] == 91


def test_daily_rows_filtered_by_project_dates_and_business(acme, api, usage):
    def dates(**params) -> list[tuple[str, str]]:
        response = api.get(DAILY, params)
        assert response.status_code == 200, response.content
        return [(r["date"], r["project_name"]) for r in response.json()["results"]]

    two = acme.projects[1].project_id
    assert dates(project=two) == [("2026-03-01", "Acme project 2")]
    assert dates(date_from="2026-03-02", date_to="2026-03-31", business="default") == [("2026-03-02", "Acme project 1")]
    assert dates(business="cloudRecording") == [("2026-03-02", "Acme project 1")]
    assert dates(date_from="2026-05-01") == []


def test_a_project_filter_outside_the_callers_projects_is_refused(globex, api, usage):
    response = api.get(DAILY, {"project": globex.projects[0].project_id})
    assert response.status_code == 400 and "project" in message(response)
    response = api.get(DAILY, {"date_from": "2026-02-30"})
    assert response.status_code == 400 and "date_from" in message(response)


def test_daily_rows_come_in_cursor_pages(acme, api):
    project = acme.projects[0]
    for day in range(1, 29):
        add(project, date(2026, 2, day), audio=day)
    seen, url, pages = [], DAILY + "?page_size=5", 0
    while url:
        body = api.get(url).json()
        seen += [row["date"] for row in body["results"]]
        url, pages = body["next"], pages + 1
        assert len(body["results"]) <= 5
    assert pages == 6
    assert seen == [date(2026, 2, day).isoformat() for day in range(28, 0, -1)]


def test_a_bad_cursor_is_not_found(api, usage):
    response = api.get(DAILY, {"cursor": "not-a-cursor"})
    assert response.status_code == 404 and "cursor" in message(response).lower()
    crafted = "cD1ub3QtYS1kYXRl"  # base64 of "p=not-a-date": decodes, but the position is no date
    response = api.get(DAILY, {"cursor": crafted})
    assert response.status_code == 404


def test_page_size_is_capped_and_bad_sizes_fall_back(acme, api):
    add(acme.projects[0], date(2026, 1, 1))
    for size in ("100000", "0", "-3", "many"):
        response = api.get(DAILY, {"page_size": size})
        assert response.status_code == 200


def test_a_scoped_member_sees_the_usage_of_their_projects_only(acme, client, usage):
    one, two = acme.projects
    scoped = Api(client, scoped_member(acme, one))
    names = {row["project_name"] for row in scoped.get(DAILY).json()["results"]}
    assert names == {one.name}
    response = scoped.get(SUMMARY, {"project": two.project_id, "date_from": "2026-03-01"})
    assert response.status_code == 400 and two.project_id in message(response)


# Summary ----------------------------------------------------------------------------------------


def test_the_total_of_a_range_is_the_sum_of_each_projects_rounded_days(acme, api, usage):
    response = api.get(SUMMARY, {"date_from": "2026-03-01", "date_to": "2026-03-31"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["date_from"] == "2026-03-01" and body["date_to"] == "2026-03-31"
    assert body["business"] == "default" and body["group_by"] is None and body["groups"] == []
    assert body["projects"] == []
    total = body["total"]
    assert total["seconds"] == tiers(audio=120, video_hd=30, video_full_hd=120)  # Globex's 9999 s are not Acme's
    # 61 s and 59 s of audio in two projects: 2 + 1 minutes (each project's day is rounded up on its own).
    assert total["minutes"] == minutes(audio=3, video_hd=1, video_full_hd=2)
    assert total["total_seconds"] == 270 and total["total_minutes"] == 6
    assert total["project"] is None


def test_grouped_by_month(api, usage):
    body = api.get(SUMMARY, {"date_from": "2026-03-15", "date_to": "2026-04-30", "group_by": "month"}).json()
    assert [(g["start"], g["end"]) for g in body["groups"]] == [
        ("2026-03-15", "2026-03-31"),
        ("2026-04-01", "2026-04-30"),
    ]
    assert [g["total_seconds"] for g in body["groups"]] == [0, 1]


def test_grouped_by_day_lists_every_day(api, usage):
    body = api.get(SUMMARY, {"date_from": "2026-03-01", "date_to": "2026-03-03", "group_by": "day"}).json()
    assert [g["start"] for g in body["groups"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert body["groups"][0]["seconds"] == tiers(audio=120, video_hd=30)
    assert body["groups"][0]["minutes"] == minutes(audio=3, video_hd=1)


def test_grouped_by_project(acme, api, usage):
    params = {"date_from": "2026-03-01", "date_to": "2026-04-30", "group_by": "project"}
    body = api.get(SUMMARY, params).json()
    one, two = acme.projects
    assert [(g["project"]["project_id"], g["total_seconds"]) for g in body["groups"]] == [
        (one.project_id, 212),
        (two.project_id, 59),
    ]
    assert body["total"]["total_seconds"] == 271
    # The total is the sum of the groups, in minutes too.
    assert body["total"]["total_minutes"] == sum(g["total_minutes"] for g in body["groups"]) == 7
    assert body["groups"][0]["start"] == "2026-03-01" and body["groups"][0]["end"] == "2026-04-30"


def test_a_chosen_project_and_business(acme, api, usage):
    one = acme.projects[0].project_id
    params = {"date_from": "2026-03-01", "date_to": "2026-03-31", "project": one, "business": "cloudRecording"}
    body = api.get(SUMMARY, params).json()
    assert body["projects"] == [one] and body["total"]["seconds"]["audio"] == 600


def test_the_range_defaults_to_the_current_month(api):
    today = timezone.now().date()
    body = api.get(SUMMARY).json()
    assert body["date_from"] == today.replace(day=1).isoformat() and body["date_to"] == today.isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "after"),
        ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "at most 731 days"),
        ({"group_by": "week"}, "group_by"),
        ({"business": "nope"}, "business"),
        ({"date_to": "yesterday"}, "date_to"),
    ],
)
def test_bad_summary_parameters_are_refused(api, params, expected):
    response = api.get(SUMMARY, params)
    assert response.status_code == 400
    assert expected in message(response)
