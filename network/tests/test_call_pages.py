"""The call inspector's pages: the call search (Calls tab), a call's page and the Quality tab; who may open them,
what they show, and that nothing typed into them gives a 500. Also the pure pieces behind them: the search's
questions, the charts' geometry, key events."""

from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.services import create_role
from console.tests.test_csp import blocked_in
from network import agora_shapes, call_charts, calls, ncs, quality
from network.models import Call, CallSession, MetricSeries
from network.tests.call_data import make_call, notice, points

pytestmark = pytest.mark.django_db


def calls_url(project) -> str:
    return reverse("channels:calls", args=[project.project_id])


def call_url(project, call) -> str:
    return reverse("channels:call", args=[project.project_id, call.call_id or call.pk])


def quality_url(project) -> str:
    return reverse("channels:quality", args=[project.project_id])


def recent(project, **options) -> Call:
    """A call that started an hour ago (inside the search's default range)."""
    start = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    return make_call(project, start=start, **options)


def listed(response) -> list[str]:
    return [row.call.channel_name for row in response.context["cl"].page.object_list]


# Who may open them --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("engineer", 200), ("cs_maintenance", 200), ("product_operation", 200), ("finance", 403)],
)
def test_channel_viewers_open_the_pages_and_finance_does_not(role, status, acme, client):
    project = acme.projects[0]
    call = recent(project)
    client.force_login(acme.users[role])
    for url in (calls_url(project), call_url(project, call), quality_url(project)):
        assert client.get(url).status_code == status, url


def test_another_organizations_project_and_call_are_not_found(acme, globex, client):
    project = acme.projects[0]
    call = recent(project)
    theirs = recent(globex.projects[0], call_id="ffffffffffffffffffffffff")
    client.force_login(globex.users["admin"])
    for url in (calls_url(project), call_url(project, call), quality_url(project)):
        assert client.get(url).status_code == 404, url
    client.force_login(acme.users["admin"])
    assert client.get(reverse("channels:call", args=[project.project_id, theirs.call_id])).status_code == 404
    assert client.get(reverse("channels:call", args=[project.project_id, theirs.pk])).status_code == 404


def test_a_call_of_another_project_is_not_found_through_this_one(acme, client):
    first, second = acme.projects
    call = recent(second)
    client.force_login(acme.users["admin"])
    assert client.get(reverse("channels:call", args=[first.project_id, call.call_id])).status_code == 404
    assert client.get(reverse("channels:call", args=[second.project_id, call.call_id])).status_code == 200


def test_a_member_scoped_to_one_project_sees_only_its_calls(acme, client):
    first, second = acme.projects
    role = create_role(
        acme.membership("admin"), name="First only", levels={"channels": "view"}, all_projects=False, projects=[first]
    )
    Membership.objects.filter(user=acme.users["engineer"], organization=acme.organization).update(role=role)
    call = recent(second)
    client.force_login(acme.users["engineer"])
    assert client.get(calls_url(first)).status_code == 200
    assert client.get(calls_url(second)).status_code == 404
    assert client.get(call_url(second, call)).status_code == 404
    assert client.get(quality_url(second)).status_code == 404


def test_the_pages_only_answer_reads(acme, client):
    project = acme.projects[0]
    call = recent(project)
    client.force_login(acme.users["admin"])
    for url in (calls_url(project), call_url(project, call), quality_url(project)):
        assert client.post(url).status_code == 405


# The search ---------------------------------------------------------------------------------------------


def test_the_search_lists_the_last_24_hours_newest_first_with_bad_rates_marked(acme, client):
    project = acme.projects[0]
    now = timezone.now().replace(microsecond=0)
    recent(project, channel="older", call_id="a" * 24, video_spike_for=None, metrics=False)
    make_call(project, channel="newer", call_id="b" * 24, start=now - timedelta(minutes=20), metrics=False)
    make_call(project, channel="yesterday", call_id="c" * 24, start=now - timedelta(hours=30), metrics=False)
    Call.objects.create(project=project, channel_name="live-now", started_at=now - timedelta(minutes=5))
    client.force_login(acme.users["product_operation"])
    response = client.get(calls_url(project))
    assert listed(response) == ["live-now", "newer", "older"]
    page = response.content.decode()
    assert "7.10%" in page and "(above 5%)" in page  # newer's video freeze rate, marked
    assert "In progress" in page and "not pulled yet" in page
    assert "Time range (UTC)" in page
    assert not blocked_in(page)
    assert listed(client.get(calls_url(project), {"range": "7d"})) == ["live-now", "newer", "older", "yesterday"]


def test_each_filter_narrows_the_search(acme, client):
    project = acme.projects[0]
    now = timezone.now().replace(microsecond=0)
    short = make_call(project, channel="short", call_id="1" * 24, start=now - timedelta(hours=2), minutes=5)
    long = make_call(
        project, channel="long", call_id="2" * 24, start=now - timedelta(hours=3), minutes=90, video_spike_for=None
    )
    Call.objects.filter(pk=long.pk).update(accumulated_users=12, audio_freeze_rate=0.05)
    webhook = Call.objects.create(project=project, channel_name="live", started_at=now - timedelta(minutes=30))
    client.force_login(acme.users["admin"])

    def names(**params) -> list[str]:
        return listed(client.get(calls_url(project), params))

    assert names(q="short") == ["short"]
    assert names(q=long.call_id) == ["long"]
    assert names(q=f"console-{webhook.pk}") == ["live"]
    assert names(q="Short") == []  # channel names are case-sensitive
    assert names(status="in_progress") == ["live"]
    assert names(status="ended") == ["short", "long"]
    assert names(min_minutes="30") == ["live", "long"]
    assert names(max_minutes="10") == ["short"]
    assert names(min_minutes="10", max_minutes="60") == ["live"]
    assert names(min_users="10") == ["long"]
    assert names(min_audio_freeze="4") == ["long"]
    assert names(min_video_freeze="5") == ["short"]
    assert names(min_video_freeze="5", min_audio_freeze="4") == []
    assert names(range="1h") == ["live"]
    start, end = short.started_at - timedelta(minutes=1), short.started_at + timedelta(minutes=1)
    assert names(**{"from": f"{start:%Y-%m-%dT%H:%M}", "to": f"{end:%Y-%m-%dT%H:%M:%S}"}) == ["short"]
    assert names(range="custom", to=f"{short.started_at - timedelta(seconds=1):%Y-%m-%dT%H:%M:%S}") == ["long"]


def test_sorting_by_a_quality_figure_leaves_out_calls_without_it_and_says_so(acme, client):
    project = acme.projects[0]
    now = timezone.now().replace(microsecond=0)
    for number, rate in enumerate((0.02, 0.08, 0.05)):
        call = make_call(
            project,
            channel=f"c{number}",
            call_id=f"{number:024x}",
            start=now - timedelta(hours=number + 1),
            metrics=False,
        )
        Call.objects.filter(pk=call.pk).update(video_freeze_rate=rate)
    Call.objects.create(project=project, channel_name="live", started_at=now - timedelta(minutes=3))
    client.force_login(acme.users["admin"])
    response = client.get(calls_url(project), {"o": "-video_freeze_rate"})
    assert listed(response) == ["c1", "c2", "c0"]
    assert "are left out" in response.content.decode()
    assert listed(client.get(calls_url(project), {"o": "video_freeze_rate"})) == ["c0", "c2", "c1"]
    assert listed(client.get(calls_url(project), {"o": "started_at"})) == ["c2", "c1", "c0", "live"]
    assert listed(client.get(calls_url(project), {"o": "nonsense"}))[0] == "live"


def test_the_count_stops_at_the_cap_and_says_narrow_the_search(acme, client, monkeypatch):
    monkeypatch.setattr(calls.CappedPaginator, "cap", 3)
    project = acme.projects[0]
    now = timezone.now()
    Call.objects.bulk_create(
        Call(project=project, channel_name=f"room-{n}", started_at=now - timedelta(minutes=n + 1)) for n in range(5)
    )
    client.force_login(acme.users["admin"])
    page = client.get(calls_url(project)).content.decode()
    assert "more than" in page and "narrow the search" in page


def test_empty_states_say_what_to_do(acme, client):
    project = acme.projects[0]
    client.force_login(acme.users["admin"])
    page = client.get(calls_url(project)).content.decode()
    assert "No calls in this time range" in page and "last 7 or 30 days" in page
    page = client.get(calls_url(project), {"q": "nothing-here"}).content.decode()
    assert "Nothing matches these filters" in page and "Clear the filters" in page


BAD_SEARCHES = [
    {"q": "room\x00-42"},
    {"q": "line\nbreak"},
    {"q": "x" * 5000},
    {"q": "é" * 40},
    {"status": "sometimes"},
    {"range": "\x07"},
    {"range": "custom"},
    {"from": "yesterday", "to": "2026-13-45T99:99"},
    {"from": "0000-01-01T00:00", "to": "0001-01-01T00:00"},
    {"from": "9999-12-31T23:59:59", "to": "0001-01-01T00:00"},
    {"to": "0001-01-01T00:00"},
    {"from": "2026-12-05T10:00", "to": "2026-12-01T10:00"},
    {"min_minutes": "99999999999999999999999"},
    {"min_minutes": "-5", "max_minutes": "1e9"},
    {"min_minutes": "60", "max_minutes": "10"},
    {"min_users": "12.5"},
    {"min_audio_freeze": "nan"},
    {"min_video_freeze": "inf"},
    {"min_video_freeze": "1e400"},
    {"min_video_freeze": "101"},
    {"page": "99999999999999999999"},
    {"page": "-1"},
    {"o": "-project__organization__name"},
]


@pytest.mark.parametrize("params", BAD_SEARCHES)
def test_bad_search_input_never_fails(params, acme, client):
    project = acme.projects[0]
    recent(project, metrics=False)
    client.force_login(acme.users["admin"])
    response = client.get(calls_url(project), params)
    assert response.status_code == 200


def test_bad_input_is_explained_and_left_out(acme, client):
    project = acme.projects[0]
    recent(project, metrics=False)
    client.force_login(acme.users["admin"])
    page = client.get(calls_url(project), {"min_users": "lots", "q": "a\tb"}).content.decode()
    assert "Users must be a whole number" in page
    assert "one line of at most 64 bytes" in page
    page = client.get(calls_url(project), {"from": "2026-12-05T10:00", "to": "2026-12-01T10:00"}).content.decode()
    assert "From is after To; they were swapped." in page


def test_parse_call_query_reads_each_question():
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    query, problems = calls.parse_call_query(QueryDict("range=7d&status=ended&min_audio_freeze=2.5"), now)
    assert (query.start, query.end, query.preset) == (now - timedelta(days=7), now, "7d")
    assert query.status == "ended" and query.min_audio_freeze == 2.5 and not problems
    query, problems = calls.parse_call_query(QueryDict("from=2026-12-01T10:00:00Z&to=2026-12-01T12:00%2B02:00"), now)
    assert query.start == datetime(2026, 12, 1, 10, tzinfo=UTC) and query.end == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert query.preset == "custom" and not problems
    query, _ = calls.parse_call_query(QueryDict("from=2026-12-01T10:00&to=2026-12-01T12:00+02:00"), now)
    assert query.end == datetime(2026, 12, 1, 10, tzinfo=UTC)  # a "+" that became a space
    _, problems = calls.parse_call_query(QueryDict("min_minutes=abc&min_video_freeze=-1"), now)
    assert len(problems) == 2


# One call -----------------------------------------------------------------------------------------------


def test_the_call_page_shows_its_users_with_presence_and_in_call_time(acme, client):
    project = acme.projects[0]
    call = recent(project, minutes=30)
    rejoin = CallSession.objects.get(call=call, uid=1003)
    gap_from, gap_to = call.started_at + timedelta(minutes=10), call.started_at + timedelta(minutes=15)
    CallSession.objects.create(
        project=project, call=call, sid="R" * 32, uid=1003, joined_at=gap_to, left_at=rejoin.left_at, finished=True
    )
    CallSession.objects.filter(pk=rejoin.pk).update(left_at=gap_from)
    client.force_login(acme.users["admin"])
    response = client.get(call_url(project, call))
    assert response.status_code == 200
    rows = {row["user"].uid: row for row in response.context["users"]}
    assert set(rows) == {1001, 1002, 1003}
    user = rows[1003]["user"]
    assert len(user.sessions) == 2 and len(user.presence) == 2
    assert user.in_call == (gap_from - rejoin.joined_at) + (rejoin.left_at - gap_to)
    page = response.content.decode()
    assert "2 sessions" in page and "Germany:Berlin" in page and "SDK 4.3.0" in page and "Pixel 7" in page
    assert "room-42" in page and call.call_id in page and "3 / 3" in page
    assert not blocked_in(page)


def test_by_default_the_worst_freezing_users_are_charted(acme, client):
    project = acme.projects[0]
    call = recent(project, uids=tuple(range(2001, 2011)))
    CallSession.objects.filter(call=call, uid=2007).update(video_freeze_rate=0.4)
    client.force_login(acme.users["admin"])
    response = client.get(call_url(project, call))
    chosen = response.context["chosen"]
    assert len(chosen) == 5 and chosen[0] == 2007


def test_choosing_users_charts_their_metrics_with_bad_points_marked(acme, client):
    project = acme.projects[0]
    call = recent(project)
    client.force_login(acme.users["admin"])
    response = client.get(call_url(project, call), {"chosen": "1", "uid": ["1001", "1002"], "receiver": "1001"})
    assert response.context["chosen"] == [1001, 1002]
    sender = {chart.title: chart for chart in response.context["sender_charts"]}
    assert len(sender["Audio sending bitrate"].lines) == 2
    loss = sender["Video upstream packet loss"]
    assert loss.bad_count == 1 and len(loss.marks) == 1 and loss.threshold
    receiver = {chart.title: chart for chart in response.context["receiver_charts"]}
    freeze = receiver["Video freeze time"]
    assert [line.label for line in freeze.lines] == ["from 1002"]
    assert freeze.bad_count == 6
    assert receiver["Video end-to-end packet loss"].empty  # not stored: "No data in this time window"
    page = response.content.decode()
    assert "bad-point" in page and "No data in this time window." in page
    events = [event.text for event in response.context["events"]]
    assert any("Video upstream packet loss above 5 %" in text for text in events)
    assert any("Video freeze time from 1002 above 500 ms" in text for text in events)
    assert not blocked_in(page)


def test_choosing_no_user_asks_to_choose(acme, client):
    project = acme.projects[0]
    call = recent(project)
    client.force_login(acme.users["admin"])
    page = client.get(call_url(project, call), {"chosen": "1"}).content.decode()
    assert "No user chosen" in page


def test_at_most_20_users_are_charted_and_strangers_are_left_out(acme, client):
    project = acme.projects[0]
    call = recent(project, uids=tuple(range(3001, 3026)), metrics=False)
    client.force_login(acme.users["admin"])
    uids = [str(uid) for uid in range(3001, 3026)] + ["42", "abc"]
    response = client.get(call_url(project, call), {"chosen": "1", "uid": uids})
    assert len(response.context["chosen"]) == 20
    page = response.content.decode()
    assert "at most 20 users at once" in page and "UID &#x27;42&#x27; is not a user of this call" in page


def test_key_events_name_leave_reasons_and_role_changes(acme, client):
    project = acme.projects[0]
    call = recent(project)
    session = CallSession.objects.get(call=call, uid=1002)
    notice(project, ncs.BROADCASTER_LEFT, 1002, session.left_at, reason=3)
    notice(project, ncs.BECAME_AUDIENCE, 1002, call.started_at + timedelta(minutes=5))
    notice(project, ncs.BECAME_AUDIENCE, 1001, call.started_at + timedelta(minutes=5), channel="another-room")
    client.force_login(acme.users["admin"])
    response = client.get(call_url(project, call), {"chosen": "1", "uid": ["1001", "1002"]})
    events = [(event.uid, event.kind, event.text, event.severe) for event in response.context["events"]]
    assert (1002, "leave", "left: removed by a kicking rule (reason 3)", True) in events
    assert (1002, "role", "became audience", False) in events
    assert (1001, "leave", "left", False) in events
    assert not any(uid == 1001 and kind == "role" for uid, kind, _, _ in events)  # another channel's
    assert len(response.context["timeline"].dots) == len(response.context["events"])


def test_the_window_covers_the_call_or_its_last_3_hours(acme, client):
    project = acme.projects[0]
    start = timezone.now().replace(microsecond=0) - timedelta(hours=6)
    call = make_call(project, start=start, minutes=300, uids=(1, 2), metrics=False)
    client.force_login(acme.users["admin"])
    response = client.get(call_url(project, call))
    window = response.context["window"]
    assert window.end == call.ended_at and window.end - window.start == timedelta(hours=3)
    assert response.context["earlier_url"] and not response.context["later_url"]
    asked = {
        "from": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}",
        "to": f"{start + timedelta(hours=5):%Y-%m-%dT%H:%M}",
    }
    response = client.get(call_url(project, call), asked)
    window = response.context["window"]
    assert window.start == start + timedelta(hours=1) and window.end == start + timedelta(hours=4)
    assert "at most 3 hours" in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"from": "garbage", "to": "2026-99-99"},
        {"from": "2999-01-01T00:00", "to": "1999-01-01T00:00"},
        {"from": "0001-01-01T00:00"},
        {"to": "9999-12-31T23:59:59"},
        {"receiver": "99999999999999"},
        {"receiver": "x\x00"},
        {"uid": ["\x00", "1" * 40, "-1"], "chosen": "1"},
        {"users_page": "999999999999999999999"},
    ],
)
def test_bad_call_page_input_never_fails(params, acme, client):
    project = acme.projects[0]
    call = recent(project)
    client.force_login(acme.users["admin"])
    assert client.get(call_url(project, call), params).status_code == 200


@pytest.mark.parametrize("key", ["console-x", "bad%21key", "%00", "a" * 65, "console-99999999999999999999", "0"])
def test_a_call_key_that_names_nothing_is_not_found(key, acme, client):
    client.force_login(acme.users["admin"])
    assert client.get(f"/projects/{acme.projects[0].project_id}/calls/{key}/").status_code == 404


def test_a_call_known_from_webhooks_only_explains_where_users_come_from(acme, client):
    project = acme.projects[0]
    call = Call.objects.create(project=project, channel_name="live", started_at=timezone.now() - timedelta(minutes=4))
    client.force_login(acme.users["admin"])
    for key in (call.pk, f"console-{call.pk}"):
        response = client.get(reverse("channels:call", args=[project.project_id, key]))
        page = response.content.decode()
        assert response.status_code == 200
        assert "No users known for this call yet" in page and "still in progress" in page


def test_stored_points_that_are_not_points_are_left_out(acme, client):
    project = acme.projects[0]
    call = recent(project)
    session = CallSession.objects.get(call=call, uid=1001)
    MetricSeries.objects.filter(session=session, mid=20003).update(
        points=[[int(call.started_at.timestamp()) + 10, 40], ["x", 1], [1, 2, 3], "junk", [None, 5]]
    )
    client.force_login(acme.users["admin"])
    response = client.get(call_url(project, call), {"chosen": "1", "uid": "1001"})
    assert response.status_code == 200
    sent = {chart.title: chart for chart in response.context["sender_charts"]}["Audio sending bitrate"]
    assert len(sent.lines) == 1


# Quality ------------------------------------------------------------------------------------------------


def test_quality_summarises_calls_users_and_freeze_rates(acme, client):
    project = acme.projects[0]
    now = timezone.now().replace(microsecond=0)
    bad = make_call(project, start=now - timedelta(hours=3), minutes=60, uids=(1, 2, 3), metrics=False)
    good = make_call(
        project,
        channel="other",
        call_id="f" * 24,
        start=now - timedelta(hours=2, minutes=30),
        minutes=60,
        uids=(4, 5),
        video_spike_for=None,
        metrics=False,
    )
    Call.objects.create(project=project, channel_name="live", started_at=now - timedelta(minutes=2))
    client.force_login(acme.users["product_operation"])
    response = client.get(quality_url(project))
    summary = response.context["summary"]
    assert (summary.calls, summary.in_progress, summary.rated) == (3, 1, 2)
    assert summary.peak_users == 5  # both calls overlap for half an hour
    assert (summary.video_bad, summary.audio_bad) == (1, 0)
    # Weighted by length x users: (0.071 x 3 + 0.01 x 2) / 5
    assert summary.video_rate == pytest.approx((bad.video_freeze_rate * 3 + good.video_freeze_rate * 2) / 5)
    assert summary.joins == 5
    page = response.content.decode()
    assert "not reported by the upstream" in page
    assert "50.00% of calls above 5%" in page
    assert len(response.context["charts"]) == 4
    assert not blocked_in(page)
    assert [row.call.channel_name for row in response.context["worst"]] == ["room-42", "other"]


def test_quality_ranges_and_empty_state(acme, client):
    project = acme.projects[0]
    client.force_login(acme.users["admin"])
    for key, buckets in (("24h", 25), ("7d", 8), ("30d", 31), ("nonsense", 25)):
        response = client.get(quality_url(project), {"range": key})
        assert response.status_code == 200
        assert len(response.context["summary"].buckets) == buckets
    assert "No calls in this time range" in response.content.decode()


def test_peak_concurrency_counts_whoever_is_still_in_from_before(acme):
    project = acme.projects[0]
    now = datetime(2026, 12, 5, 12, 30, tzinfo=UTC)
    make_call(project, start=now - timedelta(hours=5), minutes=240, uids=(1, 2), metrics=False)
    summary = quality.summary(project, "24h", now)
    by_hour = {bucket.start.hour: bucket.peak_users for bucket in summary.buckets}
    assert by_hour[7] == 2 and by_hour[9] == 2 and by_hour[11] == 2  # hours without a join or leave
    assert by_hour[12] == 0 and by_hour[6] == 0


# The pure pieces ----------------------------------------------------------------------------------------


def test_line_chart_breaks_lines_at_gaps_and_keeps_spikes_when_thinning():
    start = 1_800_000_000
    dense = [[start + second, 1.0] for second in range(0, 20_000)]
    dense[12_345][1] = 99.0
    chart = call_charts.line_chart("Loss", "%", [("UID 1", dense)], start, start + 20_000, bad_above=5)
    assert chart.bad_count == 1 and len(chart.marks) == 1
    top = min(int(y) for y in chart.lines[0].path.replace("M", " ").split()[1::2])
    assert top <= call_charts.TOP + 2  # the spike reaches the top of the plot, though 20,000 points were thinned
    gapped = [[start, 1], [start + 10, 1], [start + 500, 2], [start + 510, 2]]
    chart = call_charts.line_chart("Bitrate", "Kbps", [("UID 1", gapped)], start, start + 600, gap=25)
    assert chart.lines[0].path.count("M") == 2
    assert "<path" in chart.svg() and "style=" not in chart.svg()


def test_chart_text_is_escaped():
    chart = call_charts.line_chart("<b>", "%", [("<script>", [[1, 2], [2, 3]])], 0, 10)
    assert "<script>" not in chart.svg() and "&lt;script&gt;" in chart.svg()


def test_bars_count_in_whole_numbers():
    chart = call_charts.bar_chart("Calls", "", [(0, 3), (3600, 1)], 0, 7200, 3600, whole=True)
    assert [label for _, label in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert len(chart.bars) == 2


def test_bad_runs_group_consecutive_samples():
    samples = [[t * 10, value] for t, value in enumerate([0, 9, 9, 0, 0, 0, 7, 0])]
    assert calls._bad_runs(samples, 5) == [(10, 9), (60, 7)]


def test_leave_reasons_read_as_words():
    assert calls.leave_text(2) == ("left: timed out: no packets for over 10 seconds (reason 2)", True)
    assert calls.leave_text(1) == ("left: left normally (reason 1)", False)
    assert calls.leave_text(77)[0] == "left: reason 77 (reason 77)"
    assert calls.leave_text(None) == ("left", False)


def test_thresholds_come_from_agoras_catalogue():
    assert calls.bad_audio(agora_shapes.AUDIO_FREEZE_BAD + 0.001) and not calls.bad_audio(agora_shapes.AUDIO_FREEZE_BAD)
    assert calls.bad_video(0.051) and not calls.bad_video(0.05) and not calls.bad_video(None)
    assert points(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC), 1)[-1][0] % 10 == 0
