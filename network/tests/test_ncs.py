"""Signatures and notification fields, against the vectors computed from Agora's documented algorithm."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.refusals import RuleViolation
from network import ncs

SECRET = "demo-ncs-secret"
BODY = (
    b'{"noticeId":"demo-0001","productId":1,"eventType":103,"notifyMs":1700000000123,'
    b'"payload":{"channelName":"room-42","uid":1001,"platform":7,"clientSeq":1700000000001,"ts":1700000000}}'
)
SHA1 = "2da49ba691c9d9c7075b5ff9949e91278c35c82f"
SHA256 = "02d8b11d2466ea0dd2326f471d79e8f47e6531e370c44fb71b2ada8ab11deca2"


def test_the_reference_vector_signs_as_documented():
    assert ncs.signatures(SECRET, BODY) == (SHA1, SHA256)


def test_the_raw_bytes_are_signed_not_the_json():
    spaced = BODY.replace(b",", b", ")
    assert json.loads(spaced) == json.loads(BODY)
    assert ncs.signatures(SECRET, spaced)[0].startswith("9470ae3b")
    assert not ncs.verify(SECRET, spaced, sha1=SHA1, sha256=SHA256)


def test_either_header_verifies_and_v2_wins_when_both_are_sent():
    assert ncs.verify(SECRET, BODY, sha1=None, sha256=SHA256)
    assert ncs.verify(SECRET, BODY, sha1=SHA1, sha256=None)
    assert ncs.verify(SECRET, BODY, sha1=SHA1.upper(), sha256=None)  # hex in either case
    assert not ncs.verify(SECRET, BODY, sha1=SHA1, sha256="0" * 64)  # a wrong V2 is not saved by a right V1
    assert not ncs.verify(SECRET, BODY, sha1=None, sha256=None)
    assert not ncs.verify("another-secret", BODY, sha1=SHA1, sha256=SHA256)


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40))
def test_a_signature_verifies_its_own_body_only(body, secret):
    sha1, sha256 = ncs.signatures(secret, body)
    assert ncs.verify(secret, body, sha1=sha1, sha256=sha256)
    assert not ncs.verify(secret, body + b" ", sha1=sha1, sha256=sha256)


def test_the_reference_notice_parses():
    notice = ncs.parse(BODY)
    assert (notice.notice_id, notice.product_id, notice.event_type) == ("demo-0001", 1, 103)
    assert (notice.channel_name, notice.uid, notice.client_seq, notice.ts) == (
        "room-42",
        1001,
        1700000000001,
        1700000000,
    )
    assert notice.is_presence and notice.sequence == 1700000000001


def test_without_client_seq_the_event_time_orders_a_users_events():
    notice = ncs.parse(
        json.dumps(
            {
                "noticeId": "n",
                "productId": 1,
                "eventType": 107,
                "payload": {"channelName": "c", "uid": 1, "ts": 1700000000},
            }
        ).encode()
    )
    assert notice.sequence == 1700000000000


@pytest.mark.parametrize(
    "body, message",
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"productId": 1, "eventType": 103, "payload": {}}', "noticeId"),
        (b'{"noticeId": "", "productId": 1, "eventType": 103, "payload": {}}', "noticeId"),
        (b'{"noticeId": "a\\u0000b", "productId": 1, "eventType": 101, "payload": {}}', "noticeId"),
        (b'{"noticeId": "n", "productId": 1, "eventType": 101, "payload": []}', "payload"),
        (b'{"noticeId": "n", "productId": "1", "eventType": 101, "payload": {}}', "productId"),
        (b'{"noticeId": "n", "productId": 1, "eventType": true, "payload": {}}', "eventType"),
        (b'{"noticeId": "n", "productId": 1, "eventType": 103, "payload": {"channelName": "c"}}', "uid"),
        (b'{"noticeId": "n", "productId": 1, "eventType": 103, "payload": {"channelName": "c", "uid": -1}}', "uid"),
        (
            b'{"noticeId": "n", "productId": 1, "eventType": 103, "payload": {"channelName": "c", "uid": 4294967296}}',
            "uid",
        ),
        (
            b'{"noticeId": "n", "productId": 1, "eventType": 103, "payload": {"channelName": "'
            + b"x" * 65
            + b'", "uid": 1}}',
            "64 bytes",
        ),
    ],
)
def test_bad_notices_are_refused_with_the_reason(body, message):
    with pytest.raises(RuleViolation, match=message):
        ncs.parse(body)


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_refused_never_crash(body):
    try:
        ncs.parse(body)
    except RuleViolation:
        pass
