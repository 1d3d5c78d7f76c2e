"""`manage.py simulate_traffic`: the sandbox network's traffic reaches the real console receiver over HTTP,
signed; what the console then believes is online is the sandbox's truth, with duplicated and reordered
deliveries too; lost ones are reported. seed_demo starts such traffic on every demo project."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from network import ncs, services
from network.models import (
    Call,
    ChannelUser,
    NotificationSettings,
    ReceivedNotice,
    SandboxCall,
    SandboxFailedJoin,
    SandboxSession,
)
from network.sandbox_network import is_legacy_sdk

pytestmark = pytest.mark.django_db(transaction=True)  # the console receives from another thread


@pytest.fixture
def project(acme):
    project = acme.projects[0]
    services.enable(None, project)
    return project


def simulate(project, *args: str) -> str:
    out = StringIO()
    call_command("simulate_traffic", "--project", project.project_id, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def console_role(session: SandboxSession) -> int:
    """The role the console learns: v4 SDKs report communication users as broadcasters (103)."""
    if session.role == ncs.COMMUNICATION and not is_legacy_sdk(session.sdk_version):
        return ncs.HOST
    return session.role


def sandbox_truth(project) -> set[tuple[str, int, int]]:
    online = SandboxSession.objects.filter(call__project=project, left_at__isnull=True).select_related("call")
    return {(session.call.channel_name, session.uid, console_role(session)) for session in online}


def console_view(project) -> set[tuple[str, int, int]]:
    online = ChannelUser.objects.filter(project=project, online=True)
    return set(online.values_list("channel_name", "uid", "role"))


def test_the_console_sees_who_is_online_as_the_sandbox_does(project, live_server):
    out = simulate(project, "--minutes", "90", "--users", "40", "--seed", "5", "--deliver-to", live_server.url)
    assert f"Simulated 90 minutes of traffic on {project.name} ({project.project_id}), 40 users" in out
    assert "0 duplicated, 0 reordered, 0 dropped" in out and "0 failed" in out
    truth = sandbox_truth(project)
    assert truth and console_view(project) == truth
    # the console's calls are the sandbox's: opened by 101, closed by 102
    sandbox_calls = SandboxCall.objects.filter(project=project)
    assert Call.objects.filter(project=project).count() == sandbox_calls.count()
    assert (
        Call.objects.filter(project=project, ended_at__isnull=True).count()
        == sandbox_calls.filter(ended_at__isnull=True).count()
    )
    sent = int(out.split("notifications: ")[1].split(" delivered")[0])
    assert sent == ReceivedNotice.objects.filter(project=project).count() > 0
    refused = SandboxFailedJoin.objects.filter(project=project).count()
    assert f"refused joins: {refused}" in out and refused >= 1


def test_duplicated_and_reordered_deliveries_change_nothing(project, live_server, settings):
    settings.NETWORK_SANDBOX_FAULTS = {"duplicate_rate": 0.3, "reorder_rate": 0.3}
    out = simulate(project, "--minutes", "60", "--users", "30", "--seed", "8", "--deliver-to", live_server.url)
    duplicated = int(out.split(" duplicated")[0].rsplit(" ", 1)[1])
    reordered = int(out.split(" reordered")[0].rsplit(" ", 1)[1])
    assert duplicated > 0 and reordered > 0 and "0 dropped" in out
    assert console_view(project) == sandbox_truth(project)
    notices = ReceivedNotice.objects.filter(project=project)
    assert sum(notice.deliveries for notice in notices) == notices.count() + duplicated


def test_lost_deliveries_are_reported(project, live_server):
    out = simulate(project, "--minutes", "30", "--users", "20", "--loss-rate", "0.5", "--deliver-to", live_server.url)
    dropped = int(out.split(" dropped")[0].rsplit(" ", 1)[1])
    events = int(out.split(" events;")[0].rsplit("(", 1)[1])
    assert dropped > 0 and ReceivedNotice.objects.filter(project=project).count() == events - dropped


def test_without_a_server_the_console_is_served_for_the_run(project):
    out = simulate(project, "--minutes", "20", "--users", "8")
    assert "delivered to http://127.0.0.1:" in out
    assert console_view(project) == sandbox_truth(project) != set()


def test_a_second_run_ends_the_first_runs_channels(project, live_server):
    simulate(project, "--minutes", "30", "--users", "10", "--deliver-to", live_server.url)
    first = {channel for channel, _, _ in sandbox_truth(project)}
    out = simulate(project, "--minutes", "30", "--users", "10", "--deliver-to", live_server.url)
    assert "users still online from an earlier run who left" in out
    assert not first & {channel for channel, _, _ in console_view(project)}
    assert console_view(project) == sandbox_truth(project)


def test_nothing_is_sent_when_the_projects_notifications_are_off(acme):
    project = acme.projects[1]
    out = simulate(project, "--minutes", "10", "--users", "5")
    assert "none sent: the project's notifications are off" in out
    assert SandboxSession.objects.filter(call__project=project).exists()
    assert not ReceivedNotice.objects.exists() and not ChannelUser.objects.exists()


def test_unsubscribed_event_types_are_not_sent(project, live_server):
    NotificationSettings.objects.filter(project=project).update(event_types=[ncs.CHANNEL_CREATED])
    out = simulate(project, "--minutes", "10", "--users", "5", "--deliver-to", live_server.url)
    assert set(ReceivedNotice.objects.values_list("event_type", flat=True)) == {ncs.CHANNEL_CREATED}
    assert "not subscribed" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--minutes", "0"], "minutes must be a whole number from 1 to 1440"),
        (["--minutes", "1441"], "minutes must be"),
        (["--users", "0"], "users must be a whole number from 1 to 5000"),
        (["--deliver-to", "ftp://example.test"], "--deliver-to must be an http"),
        (["--deliver-to", "http://"], "--deliver-to must be an http"),
        (["--loss-rate", "2"], "loss_rate must be a share from 0 to 1"),
        (["--duplicate-rate", "-0.1"], "duplicate_rate must be a share"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(project, args, message):
    with pytest.raises(CommandError, match=message):
        simulate(project, *args)
    assert not SandboxSession.objects.exists()


def test_an_unknown_archived_or_disabled_project_is_refused(acme, settings):
    with pytest.raises(CommandError, match="No such project"):
        call_command("simulate_traffic", "--project", "nope", stdout=StringIO())
    project = acme.projects[0]
    project.enabled = False
    project.save()
    with pytest.raises(CommandError, match="archived or disabled"):
        simulate(project)
    settings.USAGE_SANDBOX = False
    with pytest.raises(CommandError, match="The sandbox is off"):
        simulate(acme.projects[1])


def test_seed_demo_leaves_every_demo_project_with_live_channels_and_ended_calls(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    demo = NotificationSettings.objects.filter(project__organization__slug="acme", enabled=True)
    assert demo.count() == 3
    for receiving in demo:
        project = receiving.project
        calls = SandboxCall.objects.filter(project=project)
        assert calls.filter(ended_at__isnull=False).exists() and calls.filter(ended_at__isnull=True).exists()
        assert console_view(project) == sandbox_truth(project) != set()
    live_classes = ChannelUser.objects.filter(project__name="Acme Live Classes", online=True)
    assert {ncs.HOST, ncs.AUDIENCE} <= set(live_classes.values_list("role", flat=True))
    sessions = SandboxSession.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert SandboxSession.objects.count() == sessions  # recent traffic is kept as it is
