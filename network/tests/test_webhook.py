"""The webhook receiver: signed notifications out of order, duplicated, with bad signatures."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import run_together
from network import live, ncs, presence
from network.models import Call, ChannelUser, NotificationSettings, ReceivedNotice

SEQ = 1_700_000_000_000


@pytest.fixture
def receiving(acme):
    return NotificationSettings.objects.create(project=acme.projects[0])


def url(project) -> str:
    return f"/webhooks/agora/{project.project_id}/"


def notice(notice_id: str, event_type: int, *, uid: int = 1001, seq: int | None = None, **payload) -> bytes:
    body = {"channelName": "room-42", "uid": uid, "platform": 7, "ts": 1_700_000_000, **payload}
    if seq is not None:
        body["clientSeq"] = seq
    message = {"noticeId": notice_id, "productId": 1, "eventType": event_type, "notifyMs": SEQ, "payload": body}
    return json.dumps(message, separators=(",", ":")).encode()


def deliver(client, receiving, body: bytes, *, secret: str | None = None, header: str = "Agora-Signature-V2"):
    sha1, sha256 = ncs.signatures(secret or receiving.secret, body)
    signature = sha256 if header == "Agora-Signature-V2" else sha1
    return client.post(url(receiving.project), body, content_type="application/json", headers={header: signature})


def user(receiving, uid: int = 1001) -> ChannelUser:
    return ChannelUser.objects.get(project=receiving.project, channel_name="room-42", uid=uid)


def test_a_signed_join_is_answered_200_json_and_puts_the_user_online(client, receiving):
    response = deliver(client, receiving, notice("n1", ncs.BROADCASTER_JOINED, seq=SEQ))
    assert response.status_code == 200
    assert response.json() == {"noticeId": "n1", "outcome": "applied"}
    joined = user(receiving)
    assert joined.online and joined.role == ncs.HOST and joined.platform == 7


def test_the_sha1_header_alone_is_accepted(client, receiving):
    response = deliver(client, receiving, notice("n1", ncs.AUDIENCE_JOINED, seq=SEQ), header="Agora-Signature")
    assert response.status_code == 200
    assert user(receiving).role == ncs.AUDIENCE


@pytest.mark.parametrize("secret", ["wrong-secret", ""])
def test_a_bad_signature_is_401_and_nothing_is_stored(client, receiving, secret):
    response = deliver(client, receiving, notice("n1", ncs.BROADCASTER_JOINED, seq=SEQ), secret=secret or "x")
    assert response.status_code == 401
    assert "signature" in response.json()["message"]
    assert not ReceivedNotice.objects.exists() and not ChannelUser.objects.exists()


def test_a_missing_signature_is_401(client, receiving):
    response = client.post(url(receiving.project), notice("n1", 103, seq=SEQ), content_type="application/json")
    assert response.status_code == 401
    assert not ReceivedNotice.objects.exists()


def test_a_body_altered_after_signing_is_refused(client, receiving):
    body = notice("n1", ncs.BROADCASTER_JOINED, seq=SEQ)
    _, sha256 = ncs.signatures(receiving.secret, body)
    altered = body.replace(b"1001", b"1002")
    response = client.post(
        url(receiving.project), altered, content_type="application/json", headers={"Agora-Signature-V2": sha256}
    )
    assert response.status_code == 401
    assert not ChannelUser.objects.exists()


def test_a_redelivery_counts_once_and_changes_nothing(client, receiving):
    body = notice("n1", ncs.BROADCASTER_JOINED, seq=SEQ)
    assert deliver(client, receiving, body).json()["outcome"] == "applied"
    second = deliver(client, receiving, body)
    assert second.status_code == 200 and second.json()["outcome"] == "duplicate"
    stored = ReceivedNotice.objects.get()
    assert stored.deliveries == 2 and stored.outcome == "applied"


def test_a_late_join_after_the_leave_does_not_bring_the_user_back(client, receiving):
    deliver(client, receiving, notice("leave", ncs.BROADCASTER_LEFT, seq=SEQ + 2, reason=1, duration=30))
    late = deliver(client, receiving, notice("join", ncs.BROADCASTER_JOINED, seq=SEQ + 1))
    assert late.json()["outcome"] == "stale"
    gone = user(receiving)
    assert not gone.online and gone.leave_reason == 1 and gone.last_client_seq == SEQ + 2
    assert ReceivedNotice.objects.get(notice_id="join").outcome == "stale"


def test_events_in_any_order_end_in_the_state_of_the_newest(client, receiving):
    events = [
        notice("a", ncs.AUDIENCE_JOINED, seq=SEQ),
        notice("b", ncs.BECAME_BROADCASTER, seq=SEQ + 1),
        notice("c", ncs.BECAME_AUDIENCE, seq=SEQ + 2),
        notice("d", ncs.BECAME_BROADCASTER, seq=SEQ + 3),
    ]
    for body in reversed(events):
        deliver(client, receiving, body)
    final = user(receiving)
    assert final.online and final.role == ncs.HOST and final.last_client_seq == SEQ + 3
    assert sorted(ReceivedNotice.objects.values_list("outcome", flat=True)) == ["applied", "stale", "stale", "stale"]


def test_both_event_families_are_handled(client, receiving):
    deliver(client, receiving, notice("x1", ncs.COMMUNICATION_JOINED, uid=7, seq=SEQ))
    deliver(client, receiving, notice("x2", ncs.BROADCASTER_JOINED, uid=8, seq=SEQ))
    assert {u.uid: u.role for u in live.channel_members(receiving.project, "room-42")} == {
        7: ncs.COMMUNICATION,
        8: ncs.HOST,
    }
    deliver(client, receiving, notice("x3", ncs.COMMUNICATION_LEFT, uid=7, seq=SEQ + 1, reason=2))
    assert [u.uid for u in live.channel_members(receiving.project, "room-42")] == [8]


def test_channel_created_and_destroyed_open_and_close_a_call(client, receiving):
    deliver(client, receiving, notice("c1", ncs.CHANNEL_CREATED))
    deliver(client, receiving, notice("c1-again", ncs.CHANNEL_CREATED))  # a second create: still one call
    call = Call.objects.get()
    assert call.channel_name == "room-42" and call.ended_at is None
    deliver(client, receiving, notice("c2", ncs.CHANNEL_DESTROYED, lastUid=1001))
    call.refresh_from_db()
    assert call.ended_at is not None and call.last_uid == 1001


def test_other_products_are_recorded_not_applied(client, receiving):
    body = json.dumps({"noticeId": "rec-1", "productId": 3, "eventType": 40, "payload": {"sid": "s"}}).encode()
    assert deliver(client, receiving, body).json()["outcome"] == "recorded"
    assert not ChannelUser.objects.exists()


def test_a_malformed_notice_with_a_good_signature_is_400_and_not_stored(client, receiving):
    response = deliver(client, receiving, b'{"noticeId": "n", "productId": 1, "eventType": 103, "payload": {}}')
    assert response.status_code == 400 and "uid" in response.json()["message"]
    assert not ReceivedNotice.objects.exists()


def test_projects_without_notifications_or_disabled_answer_404(client, acme, receiving):
    other = acme.projects[1]
    assert client.post(url(other), b"{}", content_type="application/json").status_code == 404
    receiving.enabled = False
    receiving.save()
    response = deliver(client, receiving, notice("n1", 103, seq=SEQ))
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_an_oversized_body_is_413_before_it_is_read(client, receiving):
    body = notice("n1", 103, seq=SEQ, padding="x" * ncs.MAX_BODY)
    assert deliver(client, receiving, body).status_code == 413


def test_only_post_is_accepted(client, receiving):
    assert client.get(url(receiving.project)).status_code == 405


def test_another_projects_secret_does_not_sign_for_this_one(client, acme, globex, receiving):
    theirs = NotificationSettings.objects.create(project=globex.projects[0])
    response = deliver(client, receiving, notice("n1", 103, seq=SEQ), secret=theirs.secret)
    assert response.status_code == 401


def test_the_secret_is_encrypted_in_the_database(receiving):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM network_notificationsettings WHERE id = %s", [receiving.pk])
        stored = cursor.fetchone()[0]
    assert receiving.secret not in stored and len(receiving.secret) == 32


def test_users_who_left_are_kept_a_minute_then_forgotten(client, receiving):
    deliver(client, receiving, notice("j", ncs.BROADCASTER_JOINED, uid=1, seq=SEQ))
    deliver(client, receiving, notice("l", ncs.BROADCASTER_LEFT, uid=1, seq=SEQ + 1))
    deliver(client, receiving, notice("k", ncs.BROADCASTER_JOINED, uid=2, seq=SEQ))
    assert presence.forget_old()[0] == 0  # left just now: kept
    assert presence.forget_old(timezone.now() + timedelta(seconds=61))[0] == 1
    assert list(ChannelUser.objects.values_list("uid", flat=True)) == [2]


def test_notices_are_kept_for_the_projects_retention(client, receiving):
    deliver(client, receiving, notice("old", ncs.CHANNEL_CREATED))
    assert presence.forget_old(timezone.now() + timedelta(days=6))[1] == 0
    assert presence.forget_old(timezone.now() + timedelta(days=8))[1] == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_deliveries_apply_once_and_the_newest_event_wins(postgres, acme):
    receiving = NotificationSettings.objects.create(project=acme.projects[0])
    project = receiving.project
    same = ncs.parse(notice("same", ncs.BROADCASTER_JOINED, uid=5, seq=SEQ))
    outcomes = []
    run_together(*[lambda: outcomes.append(presence.receive(project.pk, same))] * 4)
    assert sorted(outcomes) == ["applied", "duplicate", "duplicate", "duplicate"]
    assert ReceivedNotice.objects.get(notice_id="same").deliveries == 4

    events = [
        ncs.parse(notice(f"e{i}", ncs.AUDIENCE_JOINED if i % 2 else ncs.BECAME_BROADCASTER, uid=6, seq=SEQ + i))
        for i in range(6)
    ]
    run_together(*[lambda event=event: presence.receive(project.pk, event) for event in events])
    newest = ChannelUser.objects.get(project=project, uid=6)
    assert newest.last_client_seq == SEQ + 5 and newest.role == ncs.AUDIENCE
