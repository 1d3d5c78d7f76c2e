"""Quality alerts: the freeze rate over a window from the pulled metrics, firing once per window to the members
who may see the project's channels, in the console and by e-mail."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import AuditEntry, Notification
from accounts.services import create_role
from console.refusals import RuleViolation
from network import alerts
from network.freeze import freeze_rate
from network.models import Call, CallSession, MetricSeries, QualityAlert

NOW = timezone.now().replace(microsecond=0)
VIDEO_FREEZE, AUDIO_FREEZE = 20011, 20005


def session(project, sid, *, joined_minutes_ago=30, left=None):
    call, _ = Call.objects.get_or_create(
        project=project, call_id="c" * 24, defaults={"channel_name": "room-1", "started_at": NOW - timedelta(hours=1)}
    )
    return CallSession.objects.create(
        project=project,
        call=call,
        sid=sid,
        uid=len(sid),
        joined_at=NOW - timedelta(minutes=joined_minutes_ago),
        left_at=left,
    )


def series(session, mid, values, *, start_minutes_ago=10, peer=1):
    """One point every 10 s from `start_minutes_ago`, with `values` in turn."""
    first = int((NOW - timedelta(minutes=start_minutes_ago)).timestamp())
    points = [[first + 10 * n, value] for n, value in enumerate(values)]
    return MetricSeries.objects.create(session=session, mid=mid, peer_uid=peer, points=points)


@pytest.fixture
def freezing(acme):
    """Acme's first project over the last 10 minutes: 120 video samples (20 min of video received) of which
    12 froze fully (10 s each): 120 s frozen of 1,200 s, 10%. Audio never froze."""
    project = acme.projects[0]
    one, two = session(project, "A" * 32), session(project, "B" * 32)
    series(one, VIDEO_FREEZE, [10_000] * 12 + [0] * 48)
    series(two, VIDEO_FREEZE, [0] * 60)
    series(one, AUDIO_FREEZE, [0] * 60)
    return project


def test_the_freeze_rate_is_freeze_time_over_media_time(freezing):
    rate = freeze_rate(freezing, "video_freeze_rate", NOW - timedelta(minutes=10), NOW)
    assert (rate.freeze_seconds, rate.media_seconds) == (120, 1200)
    assert rate.percent == 10
    assert freeze_rate(freezing, "audio_freeze_rate", NOW - timedelta(minutes=10), NOW).percent == 0


def test_points_outside_the_window_do_not_count(freezing):
    rate = freeze_rate(freezing, "video_freeze_rate", NOW - timedelta(minutes=5), NOW)
    assert rate.media_seconds == 600 and rate.freeze_seconds == 0  # the freezes were in the first two minutes


def test_nothing_received_is_no_rate(acme):
    rate = freeze_rate(acme.projects[0], "video_freeze_rate", NOW - timedelta(minutes=10), NOW)
    assert rate.percent is None and rate.media_seconds == 0


def test_a_point_above_the_sample_length_counts_as_the_sample(acme):
    project = acme.projects[0]
    series(session(project, "C" * 32), VIDEO_FREEZE, [99_999_999, 0])
    assert freeze_rate(project, "video_freeze_rate", NOW - timedelta(minutes=10), NOW).percent == 50


def add(acme, project, threshold="5", window=10, metric="video_freeze_rate"):
    return alerts.create_alert(
        acme.membership("engineer"),
        project,
        metric=metric,
        threshold_percent=Decimal(threshold),
        window_minutes=window,
    )


def test_an_alert_above_its_threshold_fires_once_per_window(freezing, acme):
    alert = add(acme, freezing)
    [firing] = alerts.check_alerts(NOW)
    assert firing.alert == alert and firing.value_percent == Decimal("10.00") and firing.media_seconds == 1200
    assert alerts.check_alerts(NOW + timedelta(minutes=1)) == []  # within the window: told already
    assert alerts.check_alerts(NOW + timedelta(minutes=11)) == []  # the freezes are out of the window by then


def test_an_alert_below_its_threshold_or_on_little_media_stays_quiet(freezing, acme):
    add(acme, freezing, threshold="10")  # 10% is not above 10%
    add(acme, freezing, metric="audio_freeze_rate", threshold="1")
    assert alerts.check_alerts(NOW) == []
    project = acme.projects[1]
    series(session(project, "D" * 32), VIDEO_FREEZE, [10_000] * 5)  # 50 s of video, all frozen
    add(acme, project, threshold="1")
    assert alerts.check_alerts(NOW) == []


def test_the_channel_viewers_in_scope_are_told_in_the_console_and_by_mail(
    freezing, acme, django_capture_on_commit_callbacks
):
    admin = acme.membership("admin")
    outside = create_role(
        admin, name="Other project", levels={"channels": "view"}, all_projects=False, projects=[acme.projects[1]]
    )
    acme.users["cs_maintenance"].memberships.update(role=outside)
    add(acme, freezing)
    with django_capture_on_commit_callbacks(execute=True):
        alerts.check_alerts(NOW)
    told = set(Notification.objects.values_list("recipient__email", flat=True))
    assert told == {"admin@acme.test", "engineer@acme.test", "product_operation@acme.test"}
    assert sorted(message.to[0] for message in mail.outbox) == sorted(told)
    message = mail.outbox[0]
    assert "video freeze rate is 10.00%" in message.subject
    assert "above the alert set at 5.00%" in message.body
    link = Notification.objects.first().link
    assert link == f"/projects/{freezing.project_id}/quality/alerts/"


@pytest.mark.parametrize(
    ("threshold", "window", "metric", "field"),
    [
        ("0", 10, "video_freeze_rate", "threshold_percent"),
        ("100", 10, "video_freeze_rate", "threshold_percent"),
        ("1.234", 10, "video_freeze_rate", "threshold_percent"),
        ("NaN", 10, "video_freeze_rate", "threshold_percent"),
        ("5", 7, "video_freeze_rate", "window_minutes"),
        ("5", 10, "mos", "metric"),
    ],
)
def test_bad_alerts_are_refused_on_their_field(acme, threshold, window, metric, field):
    with pytest.raises(RuleViolation) as refused:
        add(acme, acme.projects[0], threshold=threshold, window=window, metric=metric)
    assert refused.value.field == field
    assert not QualityAlert.objects.exists()


def test_the_same_alert_twice_is_refused(acme):
    add(acme, acme.projects[0])
    with pytest.raises(RuleViolation, match="already"):
        add(acme, acme.projects[0])


def test_creating_and_deleting_are_audited_with_the_actor(acme):
    alert = add(acme, acme.projects[0])
    alerts.delete_alert(acme.membership("cs_maintenance"), alert)
    entries = AuditEntry.objects.filter(action__startswith="quality.").order_by("pk")
    assert [(e.action, e.actor_email) for e in entries] == [
        ("quality.alert_created", "engineer@acme.test"),
        ("quality.alert_deleted", "cs_maintenance@acme.test"),
    ]


# The page ----------------------------------------------------------------------------------------------


def page_url(project) -> str:
    return f"/projects/{project.project_id}/quality/alerts/"


def test_a_manager_adds_an_alert_on_the_page(acme, client_for):
    project = acme.projects[0]
    client = client_for(acme.users["cs_maintenance"])
    data = {"metric": "video_freeze_rate", "threshold_percent": "5", "window_minutes": "10"}
    response = client.post(page_url(project), data)
    assert response.status_code == 302
    assert client.post(page_url(project), data).status_code == 200  # a double submit: shown again, refused
    assert QualityAlert.objects.filter(project=project).count() == 1
    page = client.get(page_url(project)).content.decode()
    assert "Video freeze rate above 5.00% over 10 min" in page


def test_bad_input_on_the_page_shows_field_errors(acme, client_for):
    client = client_for(acme.users["engineer"])
    data = {"metric": "video_freeze_rate", "threshold_percent": "5\x00", "window_minutes": "9" * 30}
    response = client.post(page_url(acme.projects[0]), data)
    assert response.status_code == 200
    assert not QualityAlert.objects.exists()


def test_viewers_see_alerts_but_cannot_add(acme, client_for):
    add(acme, acme.projects[0])
    client = client_for(acme.users["product_operation"])
    page = client.get(page_url(acme.projects[0])).content.decode()
    assert "Video freeze rate above" in page and "Add alert" not in page
    data = {"metric": "audio_freeze_rate", "threshold_percent": "3", "window_minutes": "10"}
    assert client.post(page_url(acme.projects[0]), data).status_code == 403


def test_finance_and_outsiders_cannot_open_alerts(acme, globex, client_for):
    assert client_for(acme.users["finance"]).get(page_url(acme.projects[0])).status_code == 403
    assert client_for(globex.users["admin"]).get(page_url(acme.projects[0])).status_code == 404


def test_deleting_asks_first(acme, client_for):
    alert = add(acme, acme.projects[0])
    client = client_for(acme.users["engineer"])
    url = f"{page_url(acme.projects[0])}{alert.pk}/delete/"
    assert "Delete this quality alert?" in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    assert not QualityAlert.objects.exists()
