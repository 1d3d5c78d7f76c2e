"""The usage page and its CSV export: who may open them, scope, the CSV against the table, presets, bad
parameters, the empty state, and the overview card."""

import csv
import io
import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from accounts.models import Membership, User
from accounts.services import create_role
from projects.models import Project
from usage import views
from usage.models import DailyUsage
from usage.report import COLUMNS, TIERS

TODAY = date(2026, 3, 18)
ROLES = ("admin", "finance", "product_operation", "cs_maintenance", "engineer")
PAGE = reverse("usage:overview")
EXPORT = reverse("usage:export")


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(views, "utc_today", lambda: TODAY)


def add(project, day, business="default", **seconds):
    return DailyUsage.objects.create(project=project, date=day, business=business, **seconds)


@pytest.fixture
def usage(acme):
    """Two projects, 60 days up to TODAY: uneven seconds so that rounding shows."""
    alpha, beta = acme.projects
    for offset in range(60):
        day = TODAY - timedelta(days=offset)
        add(alpha, day, audio=600 + offset, video_hd=61 * (offset % 3))
        if offset % 2:
            add(beta, day, audio=59, video_full_hd=125, video_hd_plus=1)
    add(alpha, TODAY, business="cloudRecording", video_hd=3600)
    return acme


def scoped_member(org, projects, levels=None):
    admin = org.membership("admin")
    role = create_role(
        admin,
        name="Scoped",
        levels=levels or {"usage": "view", "projects": "view"},
        all_projects=False,
        projects=projects,
    )
    user = User.objects.create_user("scoped@acme.test", "x" * 12, name="Scoped")
    Membership.objects.create(user=user, organization=org.organization, role=role)
    return user


class _Table(HTMLParser):
    """The text of each cell of table.usage-table, row by row (header row included)."""

    def __init__(self):
        super().__init__()
        self.rows, self.inside, self.cell = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and "usage-table" in (dict(attrs).get("class") or ""):
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table(response) -> list[list[str]]:
    parser = _Table()
    parser.feed(response.content.decode())
    return parser.rows


def csv_rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


# Who may open the pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_builtin_role_may_open_the_page_and_the_export(usage, client_for, role):
    client = client_for(usage.users[role])
    page = client.get(PAGE)
    assert page.status_code == 200
    assert b"Minutes per tier" in page.content
    assert client.get(EXPORT).status_code == 200


def test_a_role_without_usage_is_refused_and_anonymous_visitors_sign_in(usage, client_for, client):
    assert client.get(PAGE).status_code == 302
    assert client.get(EXPORT).status_code == 302
    user = scoped_member(usage, usage.projects, levels={"projects": "view"})
    client = client_for(user)
    assert client.get(PAGE).status_code == 403
    assert client.get(EXPORT).status_code == 403
    assert b"Usage this month" not in client.get(reverse("overview")).content


def test_an_outsider_sees_only_their_own_organization(usage, globex, client_for):
    add(globex.projects[0], TODAY, audio=60 * 1000)
    client = client_for(globex.users["admin"])
    rows = table(client.get(PAGE, {"period": "7d"}))
    assert rows[-1][1] == "1,000"  # audio of the total row: Globex's only
    alien = client.get(PAGE, {"project": usage.projects[0].project_id, "breakdown": "1"})
    assert b"not among your projects" in alien.content
    assert usage.projects[0].name.encode() not in alien.content


# The page ------------------------------------------------------------------------------------------------


def test_the_page_shows_a_stacked_chart_and_the_table_by_day(usage, client_for):
    response = client_for(usage.users["finance"]).get(PAGE, {"period": "7d"})
    html = response.content.decode()
    scripts = re.findall(r"""<script[^>]+src=["']([^"']+)""", html, re.IGNORECASE)
    assert any(src.endswith("console/vendor/chart-4.6.1.umd.min.js") for src in scripts), scripts
    assert all(src.startswith("/static/") for src in scripts), scripts  # from this server, never a CDN
    assert 'data-usage-chart="usage-chart-data"' in html and 'id="usage-chart-data"' in html
    rows = table(response)
    assert rows[0][:2] == ["Day", "Audio"] and rows[0][-1] == "Total"
    assert [row[0] for row in rows[1:-1]] == [(TODAY - timedelta(days=d)).isoformat() for d in range(6, -1, -1)]
    # TODAY: alpha 600 s audio, 0 s HD; beta has no row on even offsets.
    assert rows[-2][1:] == ["10", "0", "0", "0", "0", "10"]
    # Yesterday, each project's day rounded up on its own: audio 601 s (11 min) + 59 s (1 min) = 12; HD 61 s
    # (2 min) + beta's 1 s of legacy HD+ (1 min) = 3; Full HD 125 s = 3 min.
    assert rows[-3][1:] == ["12", "3", "3", "0", "0", "18"]
    assert rows[-1][0] == "Total"
    assert "includes the older <strong>HD+ (legacy)</strong> tier" in html
    assert "rounded up" in html


def test_presets_and_automatic_granularity(usage, client_for):
    client = client_for(usage.users["admin"])
    expected = {
        "cycle": (date(2026, 3, 1), TODAY, "day"),
        "7d": (date(2026, 3, 12), TODAY, "day"),
        "30d": (date(2026, 2, 17), TODAY, "day"),
        "90d": (date(2025, 12, 19), TODAY, "day"),
        "12m": (date(2025, 4, 1), TODAY, "month"),
    }
    for preset, (first, last, granularity) in expected.items():
        filters = client.get(PAGE, {"period": preset}).context["filters"]
        assert (filters.day_from, filters.day_to, filters.granularity) == (first, last, granularity), preset
    assert client.get(PAGE).context["filters"].preset == "cycle"
    by_month = table(client.get(PAGE, {"period": "12m"}))
    assert [row[0] for row in by_month[1:4]] == ["2025-04", "2025-05", "2025-06"]
    assert by_month[-2][0].startswith("2026-03")
    by_day = client.get(PAGE, {"period": "12m", "granularity": "day"}).context["report"]
    assert len(by_day.periods) == 352


def test_custom_range_business_and_chosen_projects(usage, client_for):
    alpha, beta = usage.projects
    client = client_for(usage.users["product_operation"])
    params = {"from": "2026-03-17", "to": "2026-03-18", "project": beta.project_id}
    rows = table(client.get(PAGE, params))
    assert [row[0] for row in rows[1:-1]] == ["2026-03-17", "2026-03-18"]
    assert rows[1][1:] == ["1", "1", "3", "0", "0", "5"]  # beta on the 17th; its 1 s of legacy HD+ is HD
    assert rows[2][1:] == ["0"] * 6
    recording = table(
        client.get(PAGE, {**params, "project": [alpha.project_id, beta.project_id], "business": "cloudRecording"})
    )
    assert recording[-1][1:] == ["0", "60", "0", "0", "0", "60"]


def test_the_breakdown_lists_each_project_and_pages(usage, client_for, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    alpha, beta = usage.projects
    client = client_for(usage.users["cs_maintenance"])
    response = client.get(PAGE, {"period": "7d", "breakdown": "1"})
    rows = table(response)
    assert rows[0][:2] == ["Day", "Project"]
    assert rows[1][:2] == ["2026-03-12", alpha.name] and rows[2][:2] == ["2026-03-13", alpha.name]
    assert rows[3][:2] == ["2026-03-13", beta.name]
    assert len(rows) == 1 + 5 + 1
    assert response.context["page"].paginator.count == 7 + 3
    second = table(client.get(PAGE, {"period": "7d", "breakdown": "1", "page": "2"}))
    assert len(second) == 1 + 5 + 1 and second[-2][:2] == ["2026-03-18", alpha.name]
    assert f'href="/projects/{alpha.project_id}' in response.content.decode()


# The export equals the table -----------------------------------------------------------------------------


def _minutes_cells(row: dict) -> list[str]:
    return [f"{int(row[f'{tier}_minutes']):,}" for tier in TIERS] + [f"{int(row['total_minutes']):,}"]


@pytest.mark.parametrize(
    "params",
    [
        {"period": "30d"},
        {"period": "12m"},
        {"from": "2026-02-10", "to": "2026-03-18", "granularity": "month"},
        {"period": "cycle", "business": "cloudRecording"},
    ],
)
def test_the_csv_holds_exactly_the_rows_of_the_table(usage, client_for, params):
    client = client_for(usage.users["finance"])
    shown = table(client.get(PAGE, params))[1:]
    exported = csv_rows(client.get(EXPORT, params))
    assert len(exported) == len(shown)
    for cells, row in zip(shown, exported, strict=True):
        assert cells[0].startswith(row["period"])
        assert cells[1:] == _minutes_cells(row)
        assert int(row["total_seconds"]) == sum(int(row[f"{column}_seconds"]) for column in COLUMNS)
        assert int(row["total_minutes"]) == sum(int(row[f"{tier}_minutes"]) for tier in TIERS)
    for tier in TIERS:  # the total row adds up the rows
        assert int(exported[-1][f"{tier}_minutes"]) == sum(int(row[f"{tier}_minutes"]) for row in exported[:-1])


def test_the_breakdown_csv_holds_every_page_of_the_table(usage, client_for, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    client = client_for(usage.users["admin"])
    params = {"period": "7d", "breakdown": "1"}
    shown, page = [], 1
    while True:
        response = client.get(PAGE, {**params, "page": page})
        shown += table(response)[1:-1]
        if not response.context["page"].has_next():
            totals = table(response)[-1]
            break
        page += 1
    exported = csv_rows(client.get(EXPORT, params))
    assert len(exported) == len(shown) + 1 == 11
    for cells, row in zip(shown, exported[:-1], strict=True):
        assert [cells[0], cells[1]] == [row["period"], row["project_name"]]
        assert cells[2:] == _minutes_cells(row)
        assert row["project_id"] in {p.project_id for p in usage.projects}
    assert exported[-1]["period"] == "Total" and totals[1:] == _minutes_cells(exported[-1])
    assert exported[-1]["period_start"] == "2026-03-12" and exported[-1]["period_end"] == "2026-03-18"


def test_the_total_row_is_the_sum_of_the_rows(usage, client_for):
    rows = csv_rows(client_for(usage.users["admin"]).get(EXPORT, {"period": "7d"}))
    total = rows[-1]
    for column in COLUMNS:
        assert int(total[f"{column}_seconds"]) == sum(int(row[f"{column}_seconds"]) for row in rows[:-1])
    for tier in TIERS:
        assert int(total[f"{tier}_minutes"]) == sum(int(row[f"{tier}_minutes"]) for row in rows[:-1])


def test_project_names_cannot_run_as_spreadsheet_formulas(acme, client_for):
    project = Project.objects.create(organization=acme.organization, name="=HYPERLINK(1)")
    add(project, TODAY, audio=60)
    rows = csv_rows(client_for(acme.users["admin"]).get(EXPORT, {"breakdown": "1"}))
    assert rows[0]["project_name"] == "'=HYPERLINK(1)"


# Scope ---------------------------------------------------------------------------------------------------


def test_a_scoped_member_sees_and_exports_only_their_projects(usage, client_for):
    alpha, beta = usage.projects
    client = client_for(scoped_member(usage, [beta]))
    response = client.get(PAGE, {"period": "7d", "breakdown": "1"})
    html = response.content.decode()
    assert f'value="{beta.project_id}"' in html and alpha.project_id not in html and alpha.name not in html
    assert {row[1] for row in table(response)[1:-1]} == {beta.name}
    assert "of your data scope" in html
    exported = csv_rows(client.get(EXPORT, {"period": "7d", "breakdown": "1"}))
    assert {row["project_id"] for row in exported[:-1]} == {beta.project_id}

    # Asking for a project outside the scope is ignored: the report stays within the scope.
    asked = client.get(PAGE, {"period": "7d", "project": alpha.project_id})
    assert "not among your projects" in asked.content.decode()
    assert asked.context["filters"].chosen == []
    assert table(asked)[-1] == table(client.get(PAGE, {"period": "7d"}))[-1]
    stolen = csv_rows(client.get(EXPORT, {"period": "7d", "project": alpha.project_id}))
    beta_only = csv_rows(client.get(EXPORT, {"period": "7d"}))
    assert stolen == beta_only


def test_a_member_scoped_to_no_project_gets_the_empty_state(usage, client_for):
    client = client_for(scoped_member(usage, []))
    response = client.get(PAGE)
    assert response.status_code == 200
    assert b"No usage in this period" in response.content and b"in your data scope" in response.content
    assert csv_rows(client.get(EXPORT))[-1]["total_minutes"] == "0"


# Bad parameters and the empty state ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, warning",
    [
        ("from=2026-03-10&to=2026-03-01", "swapped"),
        ("from=2020-01-01&to=2026-03-01", "at most 2 years"),
        ("from=0001-01-01&to=9999-12-31", "at most 2 years"),
        ("from=2026-02-30&to=2026-03-01", "Ignored the date"),
        ("from=yesterday", "Ignored the date"),
        ("to=2027-01-01", "after today"),
        ("from=2030-01-01&to=2031-01-01", "after today"),
        ("business=nope", "Unknown business"),
        ("granularity=week", "Unknown granularity"),
        ("period=forever", "Unknown period"),
        ("project=doesnotexist&project=", "not among your projects"),
        ("period=7d&breakdown=1&page=abc", None),
        ("period=7d&breakdown=1&page=99999", None),
        ("period=7d&breakdown=yes&page=-1", None),
        ("from=" + "9" * 5000, "Ignored the date"),
        ("from=2026-03-01%00", "Ignored the date"),
    ],
)
def test_bad_parameters_give_a_message_never_an_error(usage, client_for, query, warning):
    client = client_for(usage.users["admin"])
    response = client.get(f"{PAGE}?{query}")
    assert response.status_code == 200
    filters = response.context["filters"]
    assert filters.day_from <= filters.day_to <= TODAY
    assert (filters.day_to - filters.day_from).days < views.MAX_DAYS
    if warning:
        assert any(warning in text for text in filters.warnings), filters.warnings
        assert warning.encode() in response.content
    export = client.get(f"{EXPORT}?{query}")
    assert export.status_code == 200
    assert csv_rows(export)[-1]["period"] == "Total"


def test_the_empty_state(acme, client_for):
    client = client_for(acme.users["admin"])
    response = client.get(PAGE)
    html = response.content.decode()
    assert "No usage in this period" in html
    assert "usage-table" not in html and "data-usage-chart" not in html
    assert csv_rows(client.get(EXPORT)) == [
        {
            **{key: "0" for key in views.csv_header(False)},
            "period": "Total",
            "period_start": "2026-03-01",
            "period_end": "2026-03-18",
        }
    ]


def test_the_export_link_keeps_the_query(usage, client_for):
    response = client_for(usage.users["admin"]).get(PAGE, {"period": "30d", "breakdown": "1", "page": "2"})
    assert f'href="{EXPORT}?period=30d&amp;breakdown=1"' in response.content.decode()


def test_the_page_takes_a_few_queries_whatever_the_number_of_projects(acme, client_for, django_assert_max_num_queries):
    projects = [Project.objects.create(organization=acme.organization, name=f"P{n:02}") for n in range(30)]
    DailyUsage.objects.bulk_create(
        DailyUsage(project=p, date=TODAY - timedelta(days=d), audio=100 + d) for p in projects for d in range(100)
    )
    client = client_for(acme.users["admin"])
    client.get(PAGE)  # session and caches
    for params in (
        {"period": "12m"},
        {"period": "90d", "breakdown": "1"},
        {"period": "90d", "breakdown": "1", "page": "7"},
    ):
        with django_assert_max_num_queries(15):
            assert client.get(PAGE, params).status_code == 200
        with django_assert_max_num_queries(15):
            assert client.get(EXPORT, params).status_code == 200


# The overview card ---------------------------------------------------------------------------------------


def test_the_overview_card_shows_month_to_date_minutes_and_a_sparkline(usage, client_for):
    response = client_for(usage.users["finance"]).get(reverse("overview"))
    html = response.content.decode()
    card = response.context["usage_card"]
    # March 1..18: alpha every day, beta on odd offsets (17, 15, ... 1 = 9 days).
    audio = sum(600 + offset for offset in range(18)) + 9 * 59
    assert card["glance"].month_to_date.seconds[0] == audio
    # Each project's day rounded up on its own: 600 s is 10 minutes, 601..617 s are 11, beta's 59 s are 1.
    audio_minutes = 10 + 17 * 11 + 9 * 1
    assert card["glance"].month_to_date.minutes[0] == audio_minutes
    assert "Usage this month" in html and f"<dd>{audio_minutes:,}</dd>" in html
    assert '<svg class="sparkline"' in html and "<polyline points=" in html
    assert len(card["spark_line"].split()) == 30


def test_the_overview_card_follows_the_scope(usage, client_for):
    alpha, beta = usage.projects
    response = client_for(scoped_member(usage, [beta])).get(reverse("overview"))
    assert response.context["usage_card"]["glance"].month_to_date.seconds[0] == 9 * 59
