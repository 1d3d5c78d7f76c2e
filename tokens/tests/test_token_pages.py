"""The temp token page and the token inspector page, as a member uses them."""

import base64
import html as html_lib
import json
import re
import struct
import time
import zlib
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Membership, Role, User
from conftest import PASSWORD
from projects import services as project_services
from projects.models import Certificate
from tokens import accesstoken2 as at2

DAY = 86_400
MAX_U32 = 2**32 - 1
NO_ACCESS_ROLES = ("finance", "product_operation", "cs_maintenance")


# Helpers ---------------------------------------------------------------------------------------------------


def html(response) -> str:
    return response.content.decode()


def temp_url(project, tab=None) -> str:
    url = reverse("tokens:temp_token", args=[project.project_id])
    return f"{url}?tab={tab}" if tab else url


INSPECT_URL = "/tokens/inspect/"


def primary_value(project) -> str:
    return Certificate.objects.get(project=project, slot="primary").value


class FormDefaults(HTMLParser):
    """The values a browser would submit for the page's POST form, untouched."""

    def __init__(self):
        super().__init__()
        self.in_form = False
        self.values: dict[str, str] = {}
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method", "").lower() == "post":
            self.in_form = True
        if not self.in_form:
            return
        if tag == "input" and attrs.get("name") and attrs.get("name") != "csrfmiddlewaretoken":
            kind = attrs.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in attrs:
                    self.values[attrs["name"]] = attrs.get("value", "on")
            elif kind != "submit":
                self.values[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            self.values[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self.in_form = False


def form_defaults(response) -> dict[str, str]:
    parser = FormDefaults()
    parser.feed(html(response))
    return parser.values


def shown_token(response) -> str | None:
    found = re.search(r'<textarea class="token-output"[^>]*>([^<]*)</textarea>', html(response))
    return html_lib.unescape(found.group(1)).strip() if found else None


def has_form(response) -> bool:
    return '<form method="post" action="?tab=' in html(response)


def field_errors(response) -> dict:
    return response.context["form"].errors


def only_service(token: str) -> at2.Service:
    parsed = at2.parse(token)
    assert len(parsed.services) == 1
    return parsed.services[0]


def stored_text() -> str:
    """Every row of every table (sessions decoded), as one text: to prove a token was not stored."""
    chunks = []
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            chunks.append(repr(row))
    for session in Session.objects.all():
        chunks.append(json.dumps(session.get_decoded(), default=str))
    return "\n".join(chunks)


@pytest.fixture
def project(acme):
    return acme.projects[0]


@pytest.fixture
def web(acme, client_for):
    return client_for(acme.users["engineer"])


def generate(web, project, tab="rtc", **changes):
    """Submit the tab's form as rendered, with `changes` typed in."""
    page = web.get(temp_url(project, tab))
    data = {**form_defaults(page), **{key: str(value) for key, value in changes.items()}}
    return web.post(temp_url(project, tab), data)


# The temp token form -------------------------------------------------------------------------------------


def test_the_rtc_form_shows_its_defaults(web, project):
    response = web.get(temp_url(project))
    assert response.status_code == 200
    assert has_form(response)
    defaults = form_defaults(response)
    assert defaults == {
        "channel": "",
        "uid": "0",
        "account": "",
        "role": "publisher",
        "expire": str(DAY),
        "privilege_expire": "0",
    }
    assert shown_token(response) is None
    for label in ("RTC", "RTM", "Chat"):
        assert f">{label}</a>" in html(response)


def test_an_unknown_tab_falls_back_to_rtc(web, project):
    response = web.get(temp_url(project, "nonsense"))
    assert response.status_code == 200
    assert set(form_defaults(response)) == {"channel", "uid", "account", "role", "expire", "privilege_expire"}


def test_an_rtc_token_with_the_defaults_grants_any_uid_publishing_for_a_day(acme, web, project):
    before = int(time.time())
    response = generate(web, project, channel="demo room")
    assert response.status_code == 200
    token = shown_token(response)
    assert token and token.startswith("007")
    parsed = at2.parse(token)
    assert parsed.app_id == project.app_id
    assert parsed.verify(primary_value(project))
    assert before <= parsed.issue_ts <= int(time.time())
    assert parsed.expire == DAY
    service = only_service(token)
    assert service.type == at2.RTC
    assert service.fields == {"channel_name": "demo room", "uid": ""}
    assert service.privileges == {1: 0, 2: 0, 3: 0, 4: 0}  # Agora's default: the token's expiry governs
    assert response["Cache-Control"] == "no-store"
    assert "Publish video" in html(response) and "publish_video_stream" not in html(response)  # in words
    assert token in html(response).split('data-copy="')[1]  # the copy button carries it


def test_an_rtc_subscriber_token_for_a_uid_grants_join_only(web, project):
    response = generate(web, project, channel="c1", uid=MAX_U32, role="subscriber", expire=600)
    token = shown_token(response)
    parsed = at2.parse(token)
    assert parsed.expire == 600 and parsed.verify(primary_value(project))
    assert only_service(token).fields == {"channel_name": "c1", "uid": str(MAX_U32)}
    assert only_service(token).privileges == {1: 0}


def test_an_rtc_token_for_a_user_account(web, project):
    token = shown_token(generate(web, project, channel="c1", account="alice@home", expire=60))
    assert only_service(token).fields == {"channel_name": "c1", "uid": "alice@home"}
    assert at2.parse(token).expire == 60


def test_the_longest_channel_and_expiry_are_accepted(web, project):
    token = shown_token(generate(web, project, channel="a" * 63, expire=DAY))
    assert only_service(token).fields["channel_name"] == "a" * 63
    assert at2.parse(token).expire == DAY


def test_after_a_swap_tokens_are_signed_with_the_new_primary(acme, web, project):
    engineer = acme.membership("engineer")
    old_primary = primary_value(project)
    project_services.enable_secondary(engineer, project)
    project_services.swap_certificates(engineer, project)
    token = shown_token(generate(web, project, channel="demo"))
    parsed = at2.parse(token)
    assert parsed.verify(primary_value(project))
    assert not parsed.verify(old_primary)


def test_an_rtm_token(web, project):
    response = web.get(temp_url(project, "rtm"))
    assert form_defaults(response) == {"user_id": "", "expire": str(DAY)}
    token = shown_token(generate(web, project, "rtm", user_id="user-1", expire=3600))
    parsed = at2.parse(token)
    assert parsed.verify(primary_value(project)) and parsed.expire == 3600
    service = only_service(token)
    assert (service.type, service.fields, service.privileges) == (at2.RTM, {"user_id": "user-1"}, {1: 3600})


def test_a_chat_user_token(web, project):
    defaults = form_defaults(web.get(temp_url(project, "chat")))
    assert defaults == {"kind": "chat_user", "user_id": "", "expire": str(DAY)}
    token = shown_token(generate(web, project, "chat", user_id="bob"))
    parsed = at2.parse(token)
    assert parsed.verify(primary_value(project)) and parsed.expire == DAY
    service = only_service(token)
    assert (service.type, service.fields, service.privileges) == (at2.CHAT, {"user_id": "bob"}, {1: DAY})


def test_a_chat_app_token(web, project):
    token = shown_token(generate(web, project, "chat", kind="chat_app", expire=120))
    parsed = at2.parse(token)
    assert parsed.verify(primary_value(project)) and parsed.expire == 120
    service = only_service(token)
    assert (service.type, service.fields, service.privileges) == (at2.CHAT, {"user_id": ""}, {2: 120})


def test_an_admin_may_generate_too(acme, client_for, project):
    admin = client_for(acme.users["admin"])
    assert at2.parse(shown_token(generate(admin, project, channel="x"))).verify(primary_value(project))


# Bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tab", "changes", "field"),
    [
        ("rtc", {"channel": ""}, "channel"),
        ("rtc", {"channel": "bad/channel"}, "channel"),
        ("rtc", {"channel": "caf\u00e9"}, "channel"),
        ("rtc", {"channel": "a" * 64}, "channel"),
        ("rtc", {"channel": "\u00e9" * 32}, "channel"),  # 32 characters, 64 bytes
        ("rtc", {"channel": "ok", "uid": MAX_U32 + 1}, "uid"),
        ("rtc", {"channel": "ok", "uid": -1}, "uid"),
        ("rtc", {"channel": "ok", "uid": "abc"}, "uid"),
        ("rtc", {"channel": "ok", "uid": "9" * 400}, "uid"),
        ("rtc", {"channel": "ok", "account": "x" * 256}, "account"),
        ("rtc", {"channel": "ok", "role": "admin"}, "role"),
        ("rtc", {"channel": "ok", "expire": 0}, "expire"),
        ("rtc", {"channel": "ok", "expire": DAY + 1}, "expire"),
        ("rtc", {"channel": "ok", "expire": -5}, "expire"),
        ("rtc", {"channel": "ok", "expire": "1e3"}, "expire"),
        ("rtc", {"channel": "ok", "expire": "9" * 400}, "expire"),
        ("rtm", {"user_id": ""}, "user_id"),
        ("rtm", {"user_id": "caf\u00e9"}, "user_id"),
        ("rtm", {"user_id": "u" * 65}, "user_id"),
        ("rtm", {"user_id": "ok", "expire": DAY + 1}, "expire"),
        ("chat", {"kind": "chat_user", "user_id": ""}, "user_id"),
        ("chat", {"kind": "chat_user", "user_id": "u" * 65}, "user_id"),
        ("chat", {"kind": "chat_app", "expire": 0}, "expire"),
        ("chat", {"kind": "chat_room"}, "kind"),
    ],
)
def test_bad_input_shows_field_errors_and_no_token(web, project, tab, changes, field):
    response = generate(web, project, tab, **changes)
    assert response.status_code == 200
    assert field in field_errors(response), field_errors(response)
    assert f'id="id_{field}_error"' in html(response) or field == "role" or field == "kind"
    assert shown_token(response) is None
    assert has_form(response)
    assert not AuditEntry.objects.filter(action="token.generated").exists()


def test_a_post_with_nothing_never_fails_with_500(web, project):
    for tab in ("rtc", "rtm", "chat"):
        for data in ({}, {"expire": ""}, {"channel": "x", "uid": "", "role": "publisher", "expire": ""}):
            response = web.post(temp_url(project, tab), data)
            assert response.status_code == 200
            assert shown_token(response) is None
    assert not AuditEntry.objects.filter(action="token.generated").exists()


def test_an_empty_uid_means_any_uid_and_user_ids_are_trimmed(web, project):
    token = shown_token(generate(web, project, channel="demo", uid=""))
    assert only_service(token).fields["uid"] == ""
    token = shown_token(generate(web, project, "rtm", user_id="  padded  "))
    assert only_service(token).fields["user_id"] == "padded"


# Projects that may not have tokens ------------------------------------------------------------------------


def disable(acme, project):
    project_services.set_enabled(acme.membership("admin"), project, False)


def archive(acme, project):
    project_services.set_archived(acme.membership("admin"), project, True)


def suspend(acme, project):
    acme.organization.suspended_at = timezone.now()
    acme.organization.save(update_fields=["suspended_at"])


@pytest.mark.parametrize(
    ("block", "message"),
    [(disable, "project is disabled"), (archive, "project is archived"), (suspend, "organization is suspended")],
)
def test_blocked_projects_show_why_and_no_form_or_token(acme, web, project, block, message):
    block(acme, project)
    page = web.get(temp_url(project))
    assert page.status_code == 200
    assert message in html(page)
    assert not has_form(page)
    response = web.post(temp_url(project), {"channel": "demo", "uid": "0", "role": "publisher", "expire": "600"})
    assert response.status_code == 200
    assert message in html(response)
    assert shown_token(response) is None and not has_form(response)
    assert not AuditEntry.objects.filter(action="token.generated").exists()


def test_a_project_without_an_enabled_primary_gets_no_token(acme, web):
    open_project = project_services.create_project(
        acme.membership("admin"), name="Open", mechanism="app_id"
    )  # App ID only: no certificate at all
    response = web.post(temp_url(open_project), {"channel": "demo", "uid": "0", "role": "publisher", "expire": "60"})
    assert response.status_code == 200
    assert "no enabled primary certificate" in html(response)
    assert shown_token(response) is None


# Audit ----------------------------------------------------------------------------------------------------


def test_generation_is_audited_without_the_token(acme, web, project):
    response = generate(web, project, channel="room-7", uid=42, expire=900, HTTP_USER_AGENT="ignored")
    token = shown_token(response)
    entry = AuditEntry.objects.get(action="token.generated")
    assert entry.actor == acme.users["engineer"]
    assert entry.actor_email == "engineer@acme.test"
    assert entry.organization == acme.organization
    assert entry.target == project.name
    details = entry.details
    assert details["kind"] == "rtc"
    assert details["channel"] == "room-7" and details["uid"] == 42 and details["role"] == "publisher"
    parsed = at2.parse(token)
    assert details["expires_at"].startswith(datetime.fromtimestamp(parsed.expires_at, tz=UTC).isoformat()[:19])
    assert token not in json.dumps(details)
    assert token[3:40] not in stored_text()  # nowhere in the database, sessions included


def test_rtm_and_chat_generation_is_audited_with_the_user(acme, web, project):
    generate(web, project, "rtm", user_id="rtm-user")
    generate(web, project, "chat", kind="chat_user", user_id="chat-user")
    generate(web, project, "chat", kind="chat_app")
    entries = AuditEntry.objects.filter(action="token.generated").order_by("pk")
    assert [(e.details["kind"], e.details.get("user_id")) for e in entries] == [
        ("rtm", "rtm-user"),
        ("chat_user", "chat-user"),
        ("chat_app", None),
    ]


# Who may --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", NO_ACCESS_ROLES)
def test_roles_without_tokens_generate_get_403(acme, client_for, project, role):
    web = client_for(acme.users[role])
    assert web.get(temp_url(project)).status_code == 403
    response = web.post(temp_url(project), {"channel": "demo", "uid": "0", "role": "publisher", "expire": "600"})
    assert response.status_code == 403
    assert project.app_id not in html(response)
    assert not AuditEntry.objects.filter(action="token.generated").exists()


def test_anonymous_is_sent_to_sign_in(client, project):
    response = client.get(temp_url(project))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_another_organizations_project_is_404(acme, globex, web):
    other = globex.projects[0]
    assert web.get(temp_url(other)).status_code == 404
    response = web.post(temp_url(other), {"channel": "demo", "uid": "0", "role": "publisher", "expire": "600"})
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action="token.generated").exists()


def test_an_unknown_project_is_404(web):
    assert web.get("/projects/nosuchone/temp-token/").status_code == 404


@pytest.fixture
def scoped(acme, client_for):
    role = Role.objects.create(
        organization=acme.organization,
        name="Project 1 tokens",
        levels={"projects": "view", "tokens": "generate"},
        all_projects=False,
    )
    role.projects.set([acme.projects[0]])
    user = User.objects.create_user("scoped@acme.test", PASSWORD, name="Scoped")
    Membership.objects.create(user=user, organization=acme.organization, role=role)
    return client_for(user)


def test_a_scoped_member_gets_tokens_only_in_scope(acme, scoped):
    inside, outside = acme.projects
    token = shown_token(generate(scoped, inside, channel="demo"))
    assert at2.parse(token).verify(primary_value(inside))
    assert scoped.get(temp_url(outside)).status_code == 404
    response = scoped.post(temp_url(outside), {"channel": "demo", "uid": "0", "role": "publisher", "expire": "600"})
    assert response.status_code == 404


# The inspector --------------------------------------------------------------------------------------------


def inspect(web, token):
    return web.post(INSPECT_URL, {"token": token})


def rtc_token(project, certificate=None, **when) -> str:
    return at2.build_rtc(project.app_id, certificate or primary_value(project), "demo", 42, 1, 600, **when)


def test_the_inspector_page_shows_its_form(web):
    response = web.get(INSPECT_URL)
    assert response.status_code == 200
    assert 'name="token"' in html(response)
    assert response["Cache-Control"] == "no-store"


def test_a_primary_signed_token_names_the_project_and_the_primary(web, project):
    response = inspect(web, rtc_token(project))
    page = html(response)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "Signed with the primary certificate" in page
    assert f'href="{reverse("projects:detail", args=[project.project_id])}"' in page
    assert "Valid until" in page and "Expired" not in page
    assert "Version <strong>007</strong>" in page
    assert "Publish audio" in page and "demo" in page


def test_after_a_swap_and_a_disable_the_inspector_says_secondary_then_disabled(acme, web, project):
    engineer = acme.membership("engineer")
    old = rtc_token(project)
    project_services.enable_secondary(engineer, project)
    project_services.swap_certificates(engineer, project)
    page = html(inspect(web, old))
    assert "Signed with the secondary certificate" in page and "which is disabled" not in page
    project_services.disable_secondary(engineer, project)
    page = html(inspect(web, old))
    assert "Signed with the secondary certificate, which is disabled" in page


def test_a_token_signed_with_another_certificate_is_signed_with_none(web, project):
    page = html(inspect(web, rtc_token(project, "0123456789abcdef0123456789abcdef")))
    assert "Signed with none of the project" in page


def test_an_expired_token_says_expired(web, project):
    page = html(inspect(web, rtc_token(project, issue_ts=int(time.time()) - 7200)))
    assert "Expired" in page and "Valid until" not in page
    assert "Signed with the primary certificate" in page


def test_a_token_of_another_organization_finds_no_project(acme, globex, web):
    other = globex.projects[0]
    page = html(inspect(web, rtc_token(other)))
    assert "No project of yours" in page
    assert other.app_id in page
    assert other.name not in page
    assert "Signed with" not in page


@pytest.mark.parametrize("garbage", ["hello", "007AAAA", "007!!", "006" + "a" * 32 + "@@", "007" + "A" * 400])
def test_garbage_is_an_error_message_not_a_500(web, garbage):
    response = inspect(web, garbage)
    assert response.status_code == 200
    page = html(response)
    assert "This token cannot be read" in page
    assert "Verdict" not in page


@pytest.mark.parametrize("paste", ["", "   ", "\u0000", "x" * 10_001])
def test_an_empty_or_impossible_paste_is_a_field_error(web, paste):
    response = inspect(web, paste)
    assert response.status_code == 200
    assert "token" in response.context["form"].errors
    assert "Verdict" not in html(response)


def test_a_legacy_token_shows_version_006_and_its_app_id(web, project):
    expire_ts = int(time.time()) + 3600
    message = struct.pack("<IIH", 99, expire_ts, 1) + struct.pack("<HI", 1, expire_ts)
    content = (
        struct.pack("<H", 32)
        + b"\x01" * 32
        + struct.pack("<II", zlib.crc32(b"demo"), zlib.crc32(b"7"))
        + struct.pack("<H", len(message))
        + message
    )
    token = "006" + project.app_id + base64.b64encode(content).decode()
    page = html(inspect(web, token))
    assert "Version <strong>006</strong>" in page
    assert "legacy" in page
    assert project.app_id in page
    assert f'href="{reverse("projects:detail", args=[project.project_id])}"' in page
    assert "Valid until" in page


def test_the_inspector_never_stores_the_token(acme, web, project):
    before = AuditEntry.objects.count()
    token = rtc_token(project)
    inspect(web, token)
    inspect(web, "007garbage-" + token[3:30])
    assert AuditEntry.objects.count() == before
    assert token[3:40] not in stored_text()


def test_a_scoped_member_sees_no_project_outside_the_scope(acme, scoped):
    inside, outside = acme.projects
    assert "Signed with the primary certificate" in html(inspect(scoped, rtc_token(inside)))
    page = html(inspect(scoped, rtc_token(outside)))
    assert "No project of yours" in page and outside.name not in page


def test_the_inspector_needs_the_projects_module(acme, client_for, project):
    web = client_for(acme.users["finance"])
    assert web.get(INSPECT_URL).status_code == 403
    assert web.post(INSPECT_URL, {"token": rtc_token(project)}).status_code == 403


def test_a_token_issued_today_shows_its_time_left(web, project):
    page = html(inspect(web, rtc_token(project)))
    assert re.search(r"\((9|10)\xa0minutes left\)", page), page[page.find("Valid until") :][:200]


def test_the_temp_token_expiry_time_is_shown(web, project):
    response = generate(web, project, channel="demo", expire=3600)
    parsed = at2.parse(shown_token(response))
    expires = datetime.fromtimestamp(parsed.expires_at, tz=UTC)
    assert expires.strftime("%Y-%m-%d %H:%M:%S") in html(response)
    assert f'data-expires="{parsed.expires_at}"' in html(response)
    assert expires - timezone.now() <= timedelta(hours=1)


def test_an_empty_temp_token_post_shows_what_is_missing(web, project):
    response = web.post(temp_url(project), {})
    assert response.context["form"].is_bound
    assert "channel" in response.context["form"].errors


def test_an_empty_inspector_post_shows_what_is_missing(web):
    response = web.post(INSPECT_URL, {})
    assert "token" in response.context["form"].errors


# Unknown services, RTM2, privilege 0 and the labels a person reads ---------------------------------------


def test_a_token_with_an_unknown_service_shows_the_known_ones_and_says_so(web, project):
    services = [at2.rtc_service("demo", 42, {1: 600}), at2.Service(999, {1: 600})]
    token = at2.build(project.app_id, primary_value(project), services, 600)
    page = html(inspect(web, token))
    assert "Signed with the primary certificate" in page  # the signature covers the whole token
    assert "a service type this console does not know (999)" in page
    assert "Join channel" in page and "<code>demo</code>" in page
    assert "This token cannot be read" not in page


def test_an_rtm2_token_shows_its_permissions(web, project):
    permissions = {"message_channels": {"read": ["lobby", "news"], "write": ["lobby"]}, "users": {"read": ["*"]}}
    token = at2.build_rtm_with_permissions(project.app_id, primary_value(project), "test_user", permissions, 600)
    page = html(inspect(web, token))
    assert "RTM with permissions" in page and "Signed with the primary certificate" in page
    assert "Message channels, read: <code>lobby</code>, <code>news</code>" in page
    assert "Users, read: <code>*</code> (all)" in page


def test_privilege_0_is_explained_and_times_are_dates_with_the_time_left(web, project):
    issue_ts = int(time.time())
    token = at2.build_rtc(project.app_id, primary_value(project), "demo", 42, 2, 3600, 0, issue_ts=issue_ts)
    page = html(inspect(web, token)).replace("\xa0", " ")  # Django's timesince keeps "1 hour" together
    assert "Join channel: no separate limit" in page and "(the token's expiry governs)" in page
    issued = datetime.fromtimestamp(issue_ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert f"<dt>Issued</dt><dd>{issued} UTC</dd>" in page
    assert "in 59 minutes" in page or "in 1 hour" in page
    assert "(Unix time)" not in page and "Channel_name" not in page and "Uid" not in page
    assert "<dt>Channel</dt>" in page and "<dt>UID</dt>" in page


def test_an_expired_token_says_how_long_ago(web, project):
    token = rtc_token(project, issue_ts=int(time.time()) - 7200)
    page = html(inspect(web, token)).replace("\xa0", " ")
    assert "expired 1 hour" in page and "Expired" in page


def test_the_temp_token_page_offers_the_inspector_with_the_token_filled_in(web, project):
    response = generate(web, project, channel="c1", uid=7)
    token = shown_token(response)
    form = re.search(r'<form method="post" action="/tokens/inspect/">(.*?)</form>', html(response), re.S)
    assert form and f'name="token" value="{token}"' in form.group(1)
    # Following it inspects that very token (a POST: the token stays out of URLs and access logs).
    page = html(web.post(INSPECT_URL, {"token": token}))
    assert "Signed with the primary certificate" in page and "<code>c1</code>" in page


@pytest.mark.parametrize("given, granted", [("0", 0), ("", 0), ("600", 600)])
def test_the_rtc_tab_takes_a_privilege_expiry_0_by_default(web, project, given, granted):
    token = shown_token(generate(web, project, channel="c1", uid=7, role="subscriber", privilege_expire=given))
    assert only_service(token).privileges == {1: granted}


@pytest.mark.parametrize("given", ["-1", "86401", "1.5"])
def test_a_bad_privilege_expiry_is_a_field_error(web, project, given):
    response = generate(web, project, channel="c1", uid=7, privilege_expire=given)
    assert response.status_code == 200 and shown_token(response) is None
    assert "privilege_expire" in response.context["form"].errors
