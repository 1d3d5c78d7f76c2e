"""The token API (POST /api/v1/projects/<id>/tokens), the community token service paths, schema and docs."""

import json
import re
import time
from datetime import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry, Membership, Role, User
from conftest import PASSWORD
from projects import services as project_services
from projects.models import Certificate
from tokens import accesstoken2 as at2

DAY = 86_400
MAX_U32 = 2**32 - 1


def tokens_url(project_id) -> str:
    return f"/api/v1/projects/{project_id}/tokens"


def rtc_url(project_id, channel, role, id_type, user, expiry=None) -> str:
    url = f"/api/v1/projects/{project_id}/rtc/{channel}/{role}/{id_type}/{user}/"
    return url if expiry is None else f"{url}?expiry={expiry}"


def rtm_url(project_id, user_id, expiry=None) -> str:
    url = f"/api/v1/projects/{project_id}/rtm/{user_id}/"
    return url if expiry is None else f"{url}?expiry={expiry}"


def primary_value(project) -> str:
    return Certificate.objects.get(project=project, slot="primary").value


@pytest.fixture
def project(acme):
    return acme.projects[0]


@pytest.fixture
def api(acme, client):
    client.force_login(acme.users["engineer"])
    return client


def post(client, project_id, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        tokens_url(project_id), data, content_type=extra.pop("content_type", "application/json"), **extra
    )


def message_of(response) -> str:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"message"}, body
    assert isinstance(body["message"], str) and body["message"]
    return body["message"]


def issued(response, project, expire):
    """The token of a 200 answer, checked against `expires_at` and the project's primary certificate."""
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    parsed = at2.parse(body["token"])
    assert parsed.app_id == project.app_id
    assert parsed.verify(primary_value(project))
    assert parsed.expire == expire
    assert abs(parsed.issue_ts - time.time()) < 5
    assert datetime.fromisoformat(body["expires_at"]).timestamp() == parsed.expires_at
    return parsed


# Each token type ------------------------------------------------------------------------------------------


def test_rtc_by_uid(api, project):
    parsed = issued(
        post(
            api, project.project_id, {"type": "rtc", "channel": "demo", "uid": 42, "role": "publisher", "expire": 600}
        ),
        project,
        600,
    )
    [rtc] = parsed.services
    assert (rtc.type, rtc.fields) == (at2.RTC, {"channel_name": "demo", "uid": "42"})
    assert rtc.privileges == {1: 0, 2: 0, 3: 0, 4: 0}  # Agora's default: no separate limit


def test_rtc_defaults_are_uid_0_publisher_and_a_day(api, project):
    parsed = issued(post(api, project.project_id, {"type": "rtc", "channel": "demo"}), project, DAY)
    [rtc] = parsed.services
    assert rtc.fields == {"channel_name": "demo", "uid": ""}
    assert rtc.privileges == {1: 0, 2: 0, 3: 0, 4: 0}


def test_rtc_by_account_as_subscriber_with_a_privilege_expiry(api, project):
    body = {
        "type": "rtc",
        "channel": "demo",
        "account": "alice",
        "role": "subscriber",
        "expire": 3600,
        "privilege_expire": 600,
    }
    parsed = issued(post(api, project.project_id, body), project, 3600)
    [rtc] = parsed.services
    assert rtc.fields == {"channel_name": "demo", "uid": "alice"}
    assert rtc.privileges == {1: 600}


def test_rtc_rtm(api, project):
    body = {"type": "rtc_rtm", "channel": "demo", "account": "alice", "role": "publisher", "expire": 900}
    parsed = issued(post(api, project.project_id, body), project, 900)
    assert [service.type for service in parsed.services] == [at2.RTC, at2.RTM]
    rtc, rtm = parsed.services
    assert rtc.fields == {"channel_name": "demo", "uid": "alice"}
    assert rtc.privileges == {1: 0, 2: 0, 3: 0, 4: 0}
    assert (rtm.fields, rtm.privileges) == ({"user_id": "alice"}, {1: 900})


@pytest.mark.parametrize("zero", [0, "0"])
def test_privilege_expiry_0_is_accepted(api, project, zero):
    body = {"type": "rtc", "channel": "demo", "uid": 7, "expire": 600, "privilege_expire": zero}
    assert issued(post(api, project.project_id, body), project, 600).services[0].privileges == {1: 0, 2: 0, 3: 0, 4: 0}


def test_rtc_rtm_with_an_expiry_per_privilege_and_for_rtm(api, project):
    body = {
        "type": "rtc_rtm",
        "channel": "demo",
        "account": "alice",
        "rtm_user_id": "alice-rtm",
        "expire": 3600,
        "join_expire": 3000,
        "publish_audio_expire": 1200,
        "publish_video_expire": 600,
        "publish_data_expire": 0,
        "rtm_expire": 1800,
    }
    parsed = issued(post(api, project.project_id, body), project, 3600)
    rtc, rtm = parsed.services
    assert rtc.privileges == {1: 3000, 2: 1200, 3: 600, 4: 0}
    assert (rtm.fields, rtm.privileges) == ({"user_id": "alice-rtm"}, {1: 1800})
    # Byte for byte what Agora's build_token_with_rtm2 makes of the same inputs.
    assert (
        parsed.signing_info
        == at2.parse(
            at2.build_rtc_rtm_with_privileges(
                project.app_id,
                primary_value(project),
                "demo",
                "alice",
                1,
                3600,
                3000,
                1200,
                600,
                0,
                "alice-rtm",
                1800,
                issue_ts=parsed.issue_ts,
                salt=parsed.salt,
            )
        ).signing_info
    )


def test_rtc_rtm_subscriber_gets_join_only_with_its_expiry(api, project):
    body = {"type": "rtc_rtm", "channel": "demo", "account": "bob", "role": "subscriber", "join_expire": 60}
    rtc, rtm = issued(post(api, project.project_id, body), project, DAY).services
    assert rtc.privileges == {1: 60} and rtm.privileges == {1: DAY}


def test_rtm2_with_permissions(api, project):
    permissions = {"message_channels": {"read": ["lobby", "news"], "write": ["lobby"]}, "users": {"read": ["*"]}}
    body = {"type": "rtm2", "user_id": "test_user", "permissions": permissions, "expire": 600}
    [service] = issued(post(api, project.project_id, body), project, 600).services
    assert service.as_dict()["permissions"] == permissions
    assert (service.type, service.privileges) == (at2.RTM2, {1: 600})


@pytest.mark.parametrize(
    "permissions, message",
    [
        (None, "map resource types"),
        ({}, "at least one"),
        ({"channels": {"read": ["a"]}}, "Unknown RTM2 resource type"),
        ({"users": {"delete": ["a"]}}, "Unknown RTM2 permission"),
        ({"users": {"read": "lobby"}}, "as a list"),
        ({"users": {"read": ["two words"]}}, "no spaces"),
        ({"users": {"read": ["x" * 65]}}, "1 to 64"),
        ({"users": {"read": [7]}}, "are text"),
    ],
)
def test_rtm2_bad_permissions_are_400(api, project, permissions, message):
    response = post(api, project.project_id, {"type": "rtm2", "user_id": "u", "permissions": permissions})
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_rtc_rtm_with_a_separate_rtm_user_id(api, project):
    body = {"type": "rtc_rtm", "channel": "demo", "account": "alice", "rtm_user_id": "alice-rtm", "expire": 60}
    rtc, rtm = issued(post(api, project.project_id, body), project, 60).services
    assert rtc.fields["uid"] == "alice"
    assert rtm.fields == {"user_id": "alice-rtm"}


def test_numbers_may_be_json_strings(api, project):
    body = {"type": "rtc", "channel": "demo", "uid": "42", "role": "2", "expire": "60"}
    [rtc] = issued(post(api, project.project_id, body), project, 60).services
    assert rtc.fields["uid"] == "42" and rtc.privileges == {1: 0}


def test_rtm(api, project):
    parsed = issued(post(api, project.project_id, {"type": "rtm", "user_id": "u-1", "expire": 60}), project, 60)
    [rtm] = parsed.services
    assert (rtm.type, rtm.fields, rtm.privileges) == (at2.RTM, {"user_id": "u-1"}, {1: 60})


def test_chat_app(api, project):
    parsed = issued(post(api, project.project_id, {"type": "chat_app", "expire": 60}), project, 60)
    [chat] = parsed.services
    assert (chat.type, chat.fields, chat.privileges) == (at2.CHAT, {"user_id": ""}, {2: 60})


def test_chat_user(api, project):
    parsed = issued(post(api, project.project_id, {"type": "chat_user", "user_id": "bob", "expire": 60}), project, 60)
    [chat] = parsed.services
    assert (chat.type, chat.fields, chat.privileges) == (at2.CHAT, {"user_id": "bob"}, {1: 60})


def test_api_tokens_are_not_audited_or_stored(api, project):
    token = post(api, project.project_id, {"type": "rtc", "channel": "demo"}).json()["token"]
    assert not AuditEntry.objects.filter(action="token.generated").exists()
    assert not any(token in json.dumps(entry.details) for entry in AuditEntry.objects.all())


def test_two_tokens_differ_by_their_salt(api, project):
    first = post(api, project.project_id, {"type": "rtc", "channel": "demo"}).json()["token"]
    second = post(api, project.project_id, {"type": "rtc", "channel": "demo"}).json()["token"]
    assert first != second
    assert at2.parse(first).salt != at2.parse(second).salt


# Bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "voice"},
        {"type": None},
        {"type": "rtc"},
        {"type": "rtc", "channel": ""},
        {"type": "rtc", "channel": "bad/channel"},
        {"type": "rtc", "channel": "a" * 64},
        {"type": "rtc", "channel": 5},
        {"type": "rtc", "channel": ["demo"]},
        {"type": "rtc", "channel": "demo", "uid": MAX_U32 + 1},
        {"type": "rtc", "channel": "demo", "uid": -1},
        {"type": "rtc", "channel": "demo", "uid": 1.5},
        {"type": "rtc", "channel": "demo", "uid": True},
        {"type": "rtc", "channel": "demo", "uid": "forty-two"},
        {"type": "rtc", "channel": "demo", "uid": [1]},
        {"type": "rtc", "channel": "demo", "account": "x" * 256},
        {"type": "rtc", "channel": "demo", "role": "admin"},
        {"type": "rtc", "channel": "demo", "role": ["publisher"]},  # was a 500 (unhashable) before 2553e28
        {"type": "rtc_rtm", "channel": "demo", "account": "a", "role": {"x": 1}},
        {"type": "rtc", "channel": "demo", "role": 3},
        {"type": "rtc", "channel": "demo", "role": None},
        {"type": "rtc", "channel": "demo", "expire": 0},
        {"type": "rtc", "channel": "demo", "expire": DAY + 1},
        {"type": "rtc", "channel": "demo", "expire": "soon"},
        {"type": "rtc", "channel": "demo", "expire": 60.5},
        {"type": "rtc", "channel": "demo", "expire": None},
        {"type": "rtc", "channel": "demo", "expire": {"s": 1}},
        {"type": "rtc", "channel": "demo", "privilege_expire": DAY + 1},
        {"type": "rtc", "channel": "demo", "privilege_expire": -1},
        {"type": "rtc_rtm", "channel": "demo", "account": "é"},
        {"type": "rtc_rtm", "channel": "demo", "uid": 42},
        {"type": "rtc_rtm", "channel": "demo"},
        {"type": "rtc_rtm", "channel": "demo", "account": "a", "rtm_user_id": "u" * 65},
        {"type": "rtc", "channel": "demo", "uid": "\u00b2"},
        {"type": "rtc", "channel": "demo", "uid": "\u0663"},
        {"type": "rtc", "channel": "demo", "expire": "\u00b2"},
        {"type": "rtm"},
        {"type": "rtm", "user_id": ""},
        {"type": "rtm", "user_id": "u" * 65},
        {"type": "rtm", "user_id": 12},
        {"type": "chat_user"},
        {"type": "chat_user", "user_id": " padded"},
        {"type": "chat_app", "expire": 10**20},
    ],
)
def test_bad_input_is_400_with_a_message(api, project, body):
    response = post(api, project.project_id, body)
    assert response.status_code == 400, (body, response.content)
    message_of(response)


@pytest.mark.parametrize("raw", ["{not json", "", "null", "42", '"rtc"', '["rtc"]', "[]", "\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused_with_a_message(api, project, raw):
    response = post(api, project.project_id, raw)
    assert response.status_code in (400, 415), (raw, response.status_code)
    message_of(response)


def test_other_content_types_are_refused_with_a_message(api, project):
    response = post(api, project.project_id, "type=rtc&channel=demo", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    message_of(response)
    response = post(api, project.project_id, json.dumps({"type": "rtm", "user_id": "u"}), content_type="text/plain")
    assert response.status_code == 415
    message_of(response)


def test_other_methods_are_405_with_a_message(api, project):
    response = api.get(tokens_url(project.project_id))
    assert response.status_code == 405
    message_of(response)


# Projects that may not have tokens, and who may ask -------------------------------------------------------


def test_a_disabled_project_is_403(acme, api, project):
    project_services.set_enabled(acme.membership("admin"), project, False)
    response = post(api, project.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 403
    assert "disabled" in message_of(response)


def test_an_archived_project_is_403(acme, api, project):
    project_services.set_archived(acme.membership("admin"), project, True)
    response = post(api, project.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 403
    assert "archived" in message_of(response)


def test_a_suspended_organization_is_403(acme, api, project):
    acme.organization.suspended_at = timezone.now()
    acme.organization.save(update_fields=["suspended_at"])
    response = post(api, project.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 403
    assert "suspended" in message_of(response)
    response = api.get(rtc_url(project.project_id, "demo", "publisher", "uid", 1))
    assert response.status_code == 403
    assert "suspended" in message_of(response)


def test_an_unknown_project_is_404(api):
    response = post(api, "nosuchone", {"type": "rtc", "channel": "demo"})
    assert response.status_code == 404
    message_of(response)


def test_another_organizations_project_is_404(api, globex):
    other = globex.projects[0]
    response = post(api, other.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 404
    assert other.name not in message_of(response)
    for url in (rtc_url(other.project_id, "demo", "publisher", "uid", 1), rtm_url(other.project_id, "u")):
        response = api.get(url)
        assert response.status_code == 404
        message_of(response)


def test_anonymous_is_401_with_a_message_and_the_scheme_to_use(client, project):
    response = post(client, project.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic ")
    message_of(response)
    response = client.get(rtc_url(project.project_id, "demo", "publisher", "uid", 1))
    assert response.status_code == 401
    message_of(response)


@pytest.mark.parametrize("role", ["finance", "product_operation", "cs_maintenance"])
def test_roles_without_tokens_generate_are_403(acme, client, project, role):
    client.force_login(acme.users[role])
    response = post(client, project.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 403
    assert "tokens: generate" in message_of(response)
    response = client.get(rtm_url(project.project_id, "u"))
    assert response.status_code == 403
    message_of(response)


def test_an_admin_may(acme, client, project):
    client.force_login(acme.users["admin"])
    issued(post(client, project.project_id, {"type": "rtm", "user_id": "u", "expire": 30}), project, 30)


def test_a_scoped_member_gets_tokens_only_in_scope(acme, client):
    inside, outside = acme.projects
    role = Role.objects.create(
        organization=acme.organization, name="P1 tokens", levels={"tokens": "generate"}, all_projects=False
    )
    role.projects.set([inside])
    user = User.objects.create_user("scoped@acme.test", PASSWORD)
    Membership.objects.create(user=user, organization=acme.organization, role=role)
    client.force_login(user)
    issued(post(client, inside.project_id, {"type": "rtm", "user_id": "u", "expire": 30}), inside, 30)
    response = post(client, outside.project_id, {"type": "rtm", "user_id": "u", "expire": 30})
    assert response.status_code == 404
    message_of(response)


def test_a_session_post_needs_the_csrf_token(acme, project):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(acme.users["engineer"])
    response = post(browser, project.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 403
    assert "CSRF" in message_of(response)
    browser.get("/tokens/inspect/")  # any page sets the csrftoken cookie
    csrf = browser.cookies["csrftoken"].value
    response = post(browser, project.project_id, {"type": "rtc", "channel": "demo"}, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200, response.content


# The longest token the API may issue ---------------------------------------------------------------------


def test_the_expiry_is_capped_by_the_setting(api, project, settings):
    settings.TOKEN_API_MAX_EXPIRE = DAY
    response = post(api, project.project_id, {"type": "rtc", "channel": "demo", "expire": DAY + 1})
    assert response.status_code == 400
    assert "86,400" in message_of(response)

    settings.TOKEN_API_MAX_EXPIRE = 7 * DAY
    issued(post(api, project.project_id, {"type": "rtc", "channel": "demo", "expire": 7 * DAY}), project, 7 * DAY)
    body = {"type": "rtc", "channel": "demo", "expire": 7 * DAY, "privilege_expire": 7 * DAY}
    issued(post(api, project.project_id, body), project, 7 * DAY)
    response = post(api, project.project_id, {"type": "rtc", "channel": "demo", "expire": 7 * DAY + 1})
    assert response.status_code == 400
    assert "604,800" in message_of(response)
    response = api.get(rtc_url(project.project_id, "demo", "publisher", "uid", 1, 7 * DAY))
    assert at2.parse(response.json()["rtcToken"]).expire == 7 * DAY


def test_raising_the_api_cap_does_not_lengthen_console_temp_tokens(acme, client_for, project, settings):
    settings.TOKEN_API_MAX_EXPIRE = 7 * DAY
    web = client_for(acme.users["engineer"])
    url = f"/projects/{project.project_id}/temp-token/"
    data = {"channel": "demo", "uid": "0", "role": "publisher", "expire": str(DAY + 1)}
    response = web.post(url, data)
    assert response.status_code == 200
    assert "expire" in response.context["form"].errors


def test_a_lower_cap_still_serves_requests_without_an_expiry(api, project, settings):
    settings.TOKEN_API_MAX_EXPIRE = 3600
    response = post(api, project.project_id, {"type": "rtc", "channel": "demo"})
    assert response.status_code == 200, response.content
    assert at2.parse(response.json()["token"]).expire == 3600


# Community token service paths ----------------------------------------------------------------------------


def community_token(response, key):
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {key}
    return body[key]


def test_community_rtc_by_uid(api, project):
    token = community_token(api.get(rtc_url(project.project_id, "demo", "publisher", "uid", 42, 600)), "rtcToken")
    parsed = at2.parse(token)
    assert parsed.verify(primary_value(project)) and parsed.expire == 600
    [rtc] = parsed.services
    assert rtc.fields == {"channel_name": "demo", "uid": "42"}
    assert rtc.privileges == {1: 600, 2: 600, 3: 600, 4: 600}


def test_community_rtc_by_user_account_as_subscriber(api, project):
    url = rtc_url(project.project_id, "demo", "subscriber", "userAccount", "alice", 120)
    parsed = at2.parse(community_token(api.get(url), "rtcToken"))
    assert parsed.verify(primary_value(project)) and parsed.expire == 120
    [rtc] = parsed.services
    assert rtc.fields == {"channel_name": "demo", "uid": "alice"}
    assert rtc.privileges == {1: 120}


def test_community_rtc_uid_0_is_any_uid_and_account_0_stays_0(api, project):
    by_uid = at2.parse(community_token(api.get(rtc_url(project.project_id, "c", "publisher", "uid", 0)), "rtcToken"))
    assert by_uid.services[0].fields["uid"] == ""
    url = rtc_url(project.project_id, "c", "publisher", "userAccount", 0)
    by_account = at2.parse(community_token(api.get(url), "rtcToken"))
    assert by_account.services[0].fields["uid"] == "0"


def test_community_expiry_defaults_to_an_hour(api, project):
    rtc = at2.parse(community_token(api.get(rtc_url(project.project_id, "demo", "publisher", "uid", 7)), "rtcToken"))
    assert rtc.expire == 3600 and rtc.services[0].privileges[1] == 3600
    rtm = at2.parse(community_token(api.get(rtm_url(project.project_id, "u-7")), "rtmToken"))
    assert rtm.expire == 3600


def test_community_rtm(api, project):
    parsed = at2.parse(community_token(api.get(rtm_url(project.project_id, "user-9", 300)), "rtmToken"))
    assert parsed.verify(primary_value(project)) and parsed.expire == 300
    [rtm] = parsed.services
    assert (rtm.type, rtm.fields, rtm.privileges) == (at2.RTM, {"user_id": "user-9"}, {1: 300})


@pytest.mark.parametrize(
    "url",
    [
        "rtc/demo/admin/uid/1/",
        "rtc/demo/publisher/account/1/",
        "rtc/demo/publisher/uid/alice/",
        "rtc/demo/publisher/uid/4294967296/",
        "rtc/demo/publisher/uid/-1/",
        "rtc/demo/publisher/uid/1/?expiry=0",
        "rtc/demo/publisher/uid/1/?expiry=86401",
        "rtc/demo/publisher/uid/1/?expiry=soon",
        "rtc/demo/publisher/uid/1/?expiry=",
        "rtc/demo/publisher/uid/%C2%B2/",
        "rtc/demo/publisher/uid/1/?expiry=%C2%B2",
        "rtc/%C3%A9t%C3%A9/publisher/uid/1/",
        "rtm/u/?expiry=0",
        "rtm/u/?expiry=-3",
        "rtm/%20u/",
    ],
)
def test_community_bad_input_is_400(api, project, url):
    response = api.get(f"/api/v1/projects/{project.project_id}/{url}")
    assert response.status_code == 400, (url, response.content)
    message_of(response)


def test_community_paths_refuse_post(api, project):
    response = api.post(rtm_url(project.project_id, "u"), "{}", content_type="application/json")
    assert response.status_code == 405
    message_of(response)


# Schema and docs ------------------------------------------------------------------------------------------


def test_the_schema_lists_the_token_paths(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/projects/{project_id}/tokens" in paths
    assert "post" in paths["/api/v1/projects/{project_id}/tokens"]
    assert "/api/v1/projects/{project_id}/rtc/{channel}/{role}/{id_type}/{user}/" in paths
    assert "/api/v1/projects/{project_id}/rtm/{user_id}/" in paths
    request = schema["components"]["schemas"]["TokenRequest"]
    assert set(request["properties"]) >= {"type", "channel", "uid", "account", "role", "expire", "user_id"}
    type_schema = request["properties"]["type"]
    if "$ref" in type_schema:
        type_schema = schema["components"]["schemas"][type_schema["$ref"].rsplit("/", 1)[1]]
    assert set(type_schema["enum"]) == {"rtc", "rtm", "rtm2", "rtc_rtm", "chat_app", "chat_user"}
    responses = paths["/api/v1/projects/{project_id}/tokens"]["post"]["responses"]
    assert "200" in responses


def test_the_default_schema_is_yaml_with_the_paths(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert "/api/v1/projects/{project_id}/tokens:" in response.content.decode()


def docs_page(client) -> str:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_the_docs_page_scripts_come_from_this_server(client):
    page = docs_page(client)
    assert "<html" in page.lower()
    assert "cdn" not in page.lower()
    scripts = re.findall(r"""<script[^>]+src=["']([^"']+)""", page, re.IGNORECASE)
    assert scripts == ["/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"]
    assert "/api/schema/" in page


def test_the_docs_page_loads_nothing_from_another_host(client):
    page = docs_page(client)
    external = re.findall(r"""(?:src|href)=["']((?:https?:)?//[^"']+)""", page, re.IGNORECASE)
    assert external == []
