"""Agora's project endpoints (/dev/v1/...), called over real HTTP with `requests` and a Customer ID / Secret,
as an outside script would: exact keys and status codes, permissions, and the services' rules and audit."""

import base64
import re
import time

import pytest
import requests

from accounts.api_credentials import create_credential
from accounts.models import AuditEntry, Membership, User
from accounts.services import create_role
from conftest import PASSWORD
from projects import services as project_services
from projects.models import Project

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_KEYS = ["id", "name", "vendor_key", "sign_key", "recording_server", "status", "created"]
HEX32 = re.compile(r"[0-9a-f]{32}")
NOT_FOUND = {"message": "project not exist"}


class Agora:
    """A caller of the API with one member's Customer ID / Secret."""

    def __init__(self, base: str, membership: Membership):
        new = create_credential(membership, "test script")
        self.base = f"{base}/dev"
        self.auth = (new.credential.customer_id, new.secret)

    def request(self, method: str, path: str, **options) -> requests.Response:
        options.setdefault("auth", self.auth)
        return requests.request(method, f"{self.base}{path}", timeout=10, **options)

    def get(self, path, **params):
        return self.request("GET", path, params=params)

    def post(self, path, body):
        return self.request("POST", path, json=body)

    def delete(self, path, body):
        return self.request("DELETE", path, json=body)


@pytest.fixture
def agora(live_server, acme):
    """`agora("engineer")`: a caller acting as that Acme member (or as any Membership given)."""

    def make(who="admin") -> Agora:
        return Agora(live_server.url, who if isinstance(who, Membership) else acme.membership(who))

    return make


def message(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["message"] and isinstance(body["message"], str) and body["message"], body
    return body["message"]


def project_of(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["project"]
    assert list(body["project"]) == PROJECT_KEYS
    return body["project"]


def expected(project: Project, *, sign_key: bool = True) -> dict:
    project = Project.objects.prefetch_related("certificates").get(pk=project.pk)
    primary = project.primary
    return {
        "id": project.project_id,
        "name": project.name,
        "vendor_key": project.app_id,
        "sign_key": primary.value if sign_key and primary and primary.enabled else "",
        "recording_server": project.recording_server,
        "status": 1 if project.enabled else 0,
        "created": int(project.created_at.timestamp()),
    }


def audited(action: str, organization) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, organization=organization))


# Authentication and the common rules ---------------------------------------------------------------


def test_a_caller_without_valid_credentials_is_401(agora, acme):
    caller = agora("admin")
    customer_id, secret = caller.auth
    for auth in (None, (customer_id, "wrong"), ("nobody", secret)):
        response = caller.request("GET", "/v1/projects", auth=auth)
        message(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    for header in ("Basic %%%", "Basic " + base64.b64encode(customer_id.encode()).decode()):
        message(caller.request("GET", "/v1/projects", auth=None, headers={"Authorization": header}), 401)


def test_the_scheme_word_is_case_insensitive(agora):
    caller = agora("admin")
    token = base64.b64encode(":".join(caller.auth).encode()).decode()
    for scheme in ("Basic", "basic", "BASIC", "bAsIc"):
        response = caller.request("GET", "/v1/projects", auth=None, headers={"Authorization": f"{scheme} {token}"})
        assert response.status_code == 200, scheme


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/project"),
        ("POST", "/v1/project_status"),
        ("POST", "/v1/recording_config"),
        ("POST", "/v1/signkey"),
        ("POST", "/v1/reset_signkey"),
        ("DELETE", "/v1/project"),
    ],
)
def test_a_body_that_is_neither_json_nor_a_form_is_415_and_bad_json_is_400(agora, acme, method, path):
    caller = agora("admin")
    project_id = acme.projects[0].project_id
    multipart = caller.request(method, path, files={"id": (None, project_id)})
    assert "application/json" in message(multipart, 415) and "x-www-form-urlencoded" in message(multipart, 415)
    plain = caller.request(method, path, data=f'{{"id": "{project_id}"}}', headers={"Content-Type": "text/plain"})
    message(plain, 415)
    broken = caller.request(method, path, data='{"id": ', headers={"Content-Type": "application/json"})
    assert "JSON" in message(broken, 400)
    for not_an_object in ("[]", '"text"', "3", "null"):
        message(caller.request(method, path, data=not_an_object, headers={"Content-Type": "application/json"}), 400)
    message(caller.request(method, path), 415)  # no body at all: no Content-Type either
    assert "Unknown field: surprise" in message(caller.request(method, path, json={"surprise": 1}), 400)
    assert Project.objects.filter(organization=acme.organization).active().count() == 2


def test_a_method_agora_does_not_have_is_405(agora):
    caller = agora("admin")
    message(caller.request("GET", "/v1/signkey"), 405)
    message(caller.request("PUT", "/v1/project", json={}), 405)
    message(caller.request("OPTIONS", "/v1/projects"), 405)


# GET /dev/v1/projects ------------------------------------------------------------------------------


def test_projects_lists_the_organizations_active_projects_in_agoras_shape(agora, acme, globex):
    admin = acme.membership("admin")
    open_project = project_services.create_project(admin, name="Open", mechanism=Project.Mechanism.APP_ID)
    project_services.set_enabled(admin, acme.projects[1], False)
    gone = project_services.create_project(admin, name="Gone")
    project_services.set_archived(admin, gone, True)

    response = agora("admin").get("/v1/projects")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["projects"]
    assert [item["id"] for item in body["projects"]] == [p.project_id for p in [*acme.projects, open_project]]
    for item, project in zip(body["projects"], [*acme.projects, open_project], strict=True):
        assert list(item) == PROJECT_KEYS
        assert item == expected(project)
        assert type(item["status"]) is int and type(item["created"]) is int
    first, disabled, without_certificate = body["projects"]
    assert HEX32.fullmatch(first["sign_key"]) and first["recording_server"] is None
    assert disabled["status"] == 0 and first["status"] == 1
    assert without_certificate["sign_key"] == ""


def test_sign_key_is_empty_for_roles_that_may_not_see_certificates(agora, acme):
    body = agora("cs_maintenance").get("/v1/projects").json()  # projects view, certificates none
    assert [item["sign_key"] for item in body["projects"]] == ["", ""]
    assert body["projects"][0] == expected(acme.projects[0], sign_key=False)
    assert HEX32.fullmatch(agora("engineer").get("/v1/projects").json()["projects"][0]["sign_key"])


def test_a_member_limited_to_some_projects_sees_only_those(agora, acme):
    admin = acme.membership("admin")
    role = create_role(
        admin, name="One project", levels={"projects": "edit"}, all_projects=False, projects=[acme.projects[1]]
    )
    user = User.objects.create_user("scoped@acme.test", PASSWORD)
    caller = agora(Membership.objects.create(user=user, organization=acme.organization, role=role))
    listed = caller.get("/v1/projects").json()["projects"]
    assert [item["id"] for item in listed] == [acme.projects[1].project_id]
    assert listed[0]["sign_key"] == ""
    assert caller.get("/v1/project", id=acme.projects[0].project_id).json() == NOT_FOUND
    assert caller.post("/v1/project_status", {"id": acme.projects[0].project_id, "status": 0}).json() == NOT_FOUND


def test_roles_without_projects_view_are_403(agora):
    assert "projects: view" in message(agora("finance").get("/v1/projects"), 403)
    message(agora("finance").get("/v1/project", id="whatever"), 403)
    assert agora("finance").request("HEAD", "/v1/projects").status_code == 403  # HEAD is checked as GET
    assert agora("cs_maintenance").request("HEAD", "/v1/projects").status_code == 200


# GET /dev/v1/project -------------------------------------------------------------------------------


def test_one_project_by_id_by_name_or_both(agora, acme):
    caller = agora("engineer")
    project = acme.projects[1]
    both = {"id": project.project_id, "name": project.name}
    for params in ({"id": project.project_id}, {"name": project.name}, both):
        response = caller.get("/v1/project", **params)
        assert response.status_code == 200, params
        body = response.json()
        assert list(body) == ["projects"] and len(body["projects"]) == 1
        assert list(body["projects"][0]) == PROJECT_KEYS
        assert body["projects"][0] == expected(project)


def test_one_project_needs_an_id_or_a_name_and_both_must_match(agora, acme, globex):
    caller = agora("engineer")
    first, second = acme.projects
    assert "id or name" in message(caller.get("/v1/project"), 400)
    message(caller.get("/v1/project", id="", name=""), 400)
    for params in (
        {"id": first.project_id, "name": second.name},  # both given, different projects
        {"id": "NoSuchOne"},
        {"name": first.name.upper()},  # names are case-sensitive here
        {"id": globex.projects[0].project_id},
        {"name": globex.projects[0].name},
        {"id": "not an id!"},
    ):
        response = caller.get("/v1/project", **params)
        assert response.status_code == 404, params
        assert response.json() == NOT_FOUND
    project_services.set_archived(acme.membership("admin"), first, True)
    assert caller.get("/v1/project", id=first.project_id).json() == NOT_FOUND


# POST /dev/v1/project ------------------------------------------------------------------------------


def test_create_a_project_app_id_only_by_default_or_secured(agora, acme):
    caller = agora("engineer")
    plain = project_of(caller.post("/v1/project", {"name": "Plain"}), 201)
    secured = project_of(caller.post("/v1/project", {"name": "  Secured  ", "enable_sign_key": True}), 201)

    made = Project.objects.get(project_id=plain["id"])
    assert plain == expected(made) and plain["sign_key"] == "" and plain["status"] == 1
    assert made.mechanism == Project.Mechanism.APP_ID and made.primary is None
    assert HEX32.fullmatch(plain["vendor_key"]) and plain["recording_server"] is None
    made = Project.objects.get(project_id=secured["id"])
    assert secured["name"] == "Secured" and made.mechanism == Project.Mechanism.SECURED
    assert secured["sign_key"] == made.primary.value and HEX32.fullmatch(secured["sign_key"])
    entries = audited("project.created", acme.organization)
    assert {e.target for e in entries} >= {"Plain", "Secured"}
    assert all(e.actor == acme.users["engineer"] for e in entries if e.target in ("Plain", "Secured"))


def test_create_keeps_the_consoles_rules(agora, acme, settings):
    caller = agora("engineer")
    taken = acme.projects[0].name
    assert "exists already" in message(caller.post("/v1/project", {"name": taken.upper()}), 400)
    for body in (
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 256},
        {"name": 12},
        {"name": None},
        {"name": "Fine", "enable_sign_key": "true"},
        {"name": "Fine", "enable_sign_key": 1},
        {"name": "Fine", "enable_sign_key": None},
    ):
        message(caller.post("/v1/project", body), 400)
    assert project_of(caller.post("/v1/project", {"name": "x" * 255}), 201)["name"] == "x" * 255
    settings.PROJECT_LIMIT = 3
    assert "limit of 3" in message(caller.post("/v1/project", {"name": "One too many"}), 400)
    assert Project.objects.filter(organization=acme.organization).count() == 3


def test_create_needs_projects_edit(agora, acme):
    for role in ("product_operation", "cs_maintenance", "finance"):
        message(agora(role).post("/v1/project", {"name": f"By {role}"}), 403)
    assert Project.objects.filter(organization=acme.organization).count() == 2


# POST /dev/v1/project_status -----------------------------------------------------------------------


def test_project_status_disables_and_enables(agora, acme):
    caller = agora("engineer")
    project = acme.projects[0]
    disabled = project_of(caller.post("/v1/project_status", {"id": project.project_id, "status": 0}))
    assert disabled["status"] == 0 and disabled == expected(project)
    assert Project.objects.get(pk=project.pk).enabled is False
    assert project_of(caller.post("/v1/project_status", {"id": project.project_id, "status": 1}))["status"] == 1
    assert [e.action for e in AuditEntry.objects.filter(target=project.name, action__startswith="project.")][:2] == [
        "project.enabled",
        "project.disabled",
    ]


def test_project_status_checks_its_input(agora, acme, globex):
    caller = agora("engineer")
    project_id = acme.projects[0].project_id
    for status in (2, -1, "0", True, False, 1.0, None):
        message(caller.post("/v1/project_status", {"id": project_id, "status": status}), 400)
    message(caller.post("/v1/project_status", {"id": project_id}), 400)
    message(caller.post("/v1/project_status", {"status": 0}), 400)
    message(caller.post("/v1/project_status", {"id": 5, "status": 0}), 400)
    for other in ("NoSuchOne", globex.projects[0].project_id):
        response = caller.post("/v1/project_status", {"id": other, "status": 0})
        assert response.status_code == 404 and response.json() == NOT_FOUND
    assert Project.objects.get(pk=globex.projects[0].pk).enabled
    message(agora("cs_maintenance").post("/v1/project_status", {"id": project_id, "status": 0}), 403)
    assert Project.objects.get(project_id=project_id).enabled


# POST /dev/v1/recording_config ---------------------------------------------------------------------


def test_recording_config_sets_a_canonical_address_or_clears_it(agora, acme):
    caller = agora("engineer")
    project = acme.projects[0]
    for given, stored in (
        ("203.0.113.7:8080", "203.0.113.7:8080"),
        ("[2001:DB8:0:0::7]:443", "[2001:db8::7]:443"),
        ("10.0.0.1:1", "10.0.0.1:1"),
        ("10.0.0.1:65535", "10.0.0.1:65535"),
    ):
        answer = project_of(caller.post("/v1/recording_config", {"id": project.project_id, "recording_server": given}))
        assert answer["recording_server"] == stored and answer == expected(project)
    cleared = project_of(caller.post("/v1/recording_config", {"id": project.project_id, "recording_server": None}))
    assert cleared["recording_server"] is None
    changes = [(e.details["old"], e.details["new"]) for e in audited("project.recording_server", acme.organization)]
    assert changes[0] == ("10.0.0.1:65535", None) and len(changes) == 5


@pytest.mark.parametrize(
    "address",
    [
        "",
        "203.0.113.7",
        "203.0.113.7:",
        "203.0.113.7:0",
        "203.0.113.7:65536",
        "203.0.113.7:80a",
        "203.0.113.7:-1",
        "256.0.0.1:80",
        "example.com:80",
        "2001:db8::7:443",
        "[203.0.113.7]:80",
        "[fe80::1%eth0]:80",
        "http://203.0.113.7:80",
        12,
    ],
)
def test_recording_config_refuses_what_is_not_ip_and_port(agora, acme, address):
    project = acme.projects[0]
    response = agora("engineer").post("/v1/recording_config", {"id": project.project_id, "recording_server": address})
    message(response, 400)
    assert Project.objects.get(pk=project.pk).recording_server is None


# POST /dev/v1/signkey and /dev/v1/reset_signkey -------------------------------------------------------


def test_signkey_enables_the_primary_certificate_once(agora, acme):
    caller = agora("engineer")
    project = project_services.create_project(acme.membership("admin"), name="Open", mechanism="app_id")
    enabled = project_of(caller.post("/v1/signkey", {"id": project.project_id, "enable": True}))
    assert HEX32.fullmatch(enabled["sign_key"]) and enabled == expected(project)
    again = project_of(caller.post("/v1/signkey", {"id": project.project_id, "enable": True}))
    assert again == enabled  # already on: nothing changes
    assert len(audited("certificate.primary_enabled", acme.organization)) == 1


def test_signkey_never_turns_a_primary_certificate_off(agora, acme):
    caller = agora("engineer")
    secured = acme.projects[0]
    assert "reset_signkey" in message(caller.post("/v1/signkey", {"id": secured.project_id, "enable": False}), 400)
    assert Project.objects.get(pk=secured.pk).primary.enabled
    open_project = project_services.create_project(acme.membership("admin"), name="Open", mechanism="app_id")
    off = project_of(caller.post("/v1/signkey", {"id": open_project.project_id, "enable": False}))
    assert off["sign_key"] == ""  # nothing to turn off: a no-op


def test_signkey_checks_its_input_and_permission(agora, acme):
    project_id = acme.projects[0].project_id
    for enable in ("true", 1, 0, None):
        message(agora("engineer").post("/v1/signkey", {"id": project_id, "enable": enable}), 400)
    message(agora("engineer").post("/v1/signkey", {"id": project_id}), 400)
    assert agora("engineer").post("/v1/signkey", {"id": "NoSuchOne", "enable": True}).json() == NOT_FOUND
    for role in ("product_operation", "cs_maintenance"):
        refused = agora(role).post("/v1/signkey", {"id": project_id, "enable": True})
        assert "certificates: manage" in message(refused, 403)


def test_reset_signkey_replaces_the_primary_at_once(agora, acme, mailoutbox):
    caller = agora("engineer")
    project = acme.projects[0]
    old = project.primary.value
    answer = project_of(caller.post("/v1/reset_signkey", {"id": project.project_id}))
    assert HEX32.fullmatch(answer["sign_key"]) and answer["sign_key"] != old
    assert answer == expected(project)
    [entry] = audited("certificate.primary_reset", acme.organization)
    assert entry.actor == acme.users["engineer"]
    assert entry.details["old_fingerprint"] != entry.details["new_fingerprint"]
    assert any("Primary certificate reset" in mail.subject for mail in mailoutbox)  # the Admins are told

    open_project = project_services.create_project(acme.membership("admin"), name="Open", mechanism="app_id")
    created = project_of(caller.post("/v1/reset_signkey", {"id": open_project.project_id}))
    assert HEX32.fullmatch(created["sign_key"])  # "enables it if it was off"
    message(agora("cs_maintenance").post("/v1/reset_signkey", {"id": project.project_id}), 403)
    message(caller.post("/v1/reset_signkey", {}), 400)


# DELETE /dev/v1/project ----------------------------------------------------------------------------


def test_delete_archives_the_project(agora, acme, globex):
    caller = agora("engineer")
    project = acme.projects[0]
    response = caller.delete("/v1/project", {"id": project.project_id})
    assert response.status_code == 200 and response.json() == {"success": True}
    assert Project.objects.get(pk=project.pk).is_archived  # kept, with its usage and bills
    assert [item["id"] for item in caller.get("/v1/projects").json()["projects"]] == [acme.projects[1].project_id]
    assert caller.get("/v1/project", id=project.project_id).json() == NOT_FOUND
    again = caller.delete("/v1/project", {"id": project.project_id})
    assert again.status_code == 404 and again.json() == NOT_FOUND
    other = caller.delete("/v1/project", {"id": globex.projects[0].project_id})
    assert other.status_code == 404 and other.json() == NOT_FOUND
    assert not Project.objects.get(pk=globex.projects[0].pk).is_archived
    [entry] = audited("project.archived", acme.organization)
    assert entry.actor == acme.users["engineer"] and entry.target == project.name
    message(agora("product_operation").delete("/v1/project", {"id": acme.projects[1].project_id}), 403)
    message(caller.delete("/v1/project", {}), 400)


# Rate limit ----------------------------------------------------------------------------------------


def test_the_eleventh_request_within_a_second_is_429(agora, globex, live_server, settings):
    settings.API_RATE_LIMIT_PER_SECOND = 10
    caller, other_org = agora("engineer"), Agora(live_server.url, globex.membership("admin"))
    for _ in range(5):  # a burst must fit in one clock second; on a very slow machine, try again
        time.sleep(1 - time.time() % 1 + 0.01)  # the start of a fresh second
        second = int(time.time())
        statuses = [caller.get("/v1/projects").status_code for _ in range(10)]
        eleventh = caller.get("/v1/projects")
        other_endpoint = caller.get("/v1/project", id=globex.projects[0].project_id)
        other_organization = other_org.get("/v1/projects")
        if int(time.time()) == second:
            break
    else:
        pytest.fail("could not send 13 requests within one second")
    assert statuses == [200] * 10
    assert "Request was throttled" in message(eleventh, 429)
    assert eleventh.headers["Retry-After"] == "1"
    assert other_endpoint.status_code == 404  # counted apart: another endpoint
    assert other_organization.status_code == 200  # and another organization
    time.sleep(1 - time.time() % 1 + 0.01)
    assert caller.get("/v1/projects").status_code == 200  # the next second starts afresh


# Older and other clients: trailing slashes, form bodies, request ids --------------------------------------

AGORA_PATHS = [
    ("GET", "/v1/projects"),
    ("GET", "/v1/project"),
    ("POST", "/v1/project"),
    ("POST", "/v1/project_status"),
    ("POST", "/v1/recording_config"),
    ("POST", "/v1/signkey"),
    ("POST", "/v1/reset_signkey"),
    ("GET", "/v3/usage"),
]


@pytest.mark.parametrize(("method", "path"), AGORA_PATHS)
def test_every_path_answers_with_and_without_a_trailing_slash(agora, method, path):
    caller = agora("admin")
    bare, slashed = caller.request(method, path, json={}), caller.request(method, path + "/", json={})
    assert bare.status_code == slashed.status_code != 404 or path == "/v1/project" and method == "GET"
    assert bare.headers["Content-Type"].startswith("application/json")
    assert bare.json() == slashed.json()


def test_the_slashed_paths_older_scripts_call_work(agora, acme):
    caller = agora("admin")
    listed = caller.get("/v1/projects/").json()["projects"]
    assert {item["id"] for item in listed} == {project.project_id for project in acme.projects}
    project_id = acme.projects[0].project_id
    key = caller.request("POST", "/v1/signkey/", json={"id": project_id, "enable": True})
    assert project_of(key)["sign_key"] == expected(acme.projects[0])["sign_key"]
    reset = project_of(caller.request("POST", "/v1/reset_signkey/", json={"id": project_id}))
    assert reset["sign_key"] == Project.objects.get(project_id=project_id).primary.value


@pytest.mark.parametrize(
    "path", ["/v1/nothing", "/v1/projects/extra", "/v2/projects", "/", "/v1//projects", "/v1/project%0Aid"]
)
def test_an_unknown_path_under_dev_is_a_json_404(agora, path, settings):
    for debug in (False, True):  # Django's debug 404 page is HTML; the catch-all answers first
        settings.DEBUG = debug
        response = agora("admin").get(path)
        assert message(response, 404) == "No such API endpoint."


def test_create_delete_and_recording_config_take_form_bodies(agora, acme):
    caller = agora("engineer")
    form = {"name": "From PHP", "enable_sign_key": "true"}
    made = project_of(caller.request("POST", "/v1/project", data=form), 201)
    project = Project.objects.get(project_id=made["id"])
    assert project.mechanism == Project.Mechanism.SECURED and made == expected(project)

    config = {"id": made["id"], "recording_server": "203.0.113.7:8080"}
    assert project_of(caller.request("POST", "/v1/recording_config", data=config))["recording_server"] == (
        "203.0.113.7:8080"
    )
    cleared = caller.request("POST", "/v1/recording_config", data={"id": made["id"], "recording_server": ""})
    assert project_of(cleared)["recording_server"] is None

    status = caller.request("POST", "/v1/project_status", data={"id": made["id"], "status": "0"})
    assert project_of(status)["status"] == 0

    deleted = caller.request("DELETE", "/v1/project", data={"id": made["id"]})
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    assert Project.objects.get(pk=project.pk).is_archived
    [created] = [entry for entry in audited("project.created", acme.organization) if entry.target == "From PHP"]
    assert created.actor == acme.users["engineer"]


@pytest.mark.parametrize(("given", "secured"), [("true", True), ("1", True), ("FALSE", False), ("0", False)])
def test_form_booleans_are_true_false_1_or_0(agora, given, secured):
    made = project_of(
        agora("engineer").request("POST", "/v1/project", data={"name": f"B {given}", "enable_sign_key": given}), 201
    )
    assert (Project.objects.get(project_id=made["id"]).mechanism == Project.Mechanism.SECURED) is secured


@pytest.mark.parametrize(
    ("path", "form", "says"),
    [
        ("/v1/project", {"name": "x", "enable_sign_key": "yes"}, "true or false"),
        ("/v1/project", {"name": "x", "enable_sign_key": ""}, "true or false"),
        ("/v1/project", {"name": "x", "surprise": "1"}, "Unknown field: surprise"),
        ("/v1/project", {"name": ["a", "b"]}, "more than once"),
        ("/v1/project", {"enable_sign_key": "1"}, "required"),
        ("/v1/project_status", {"id": "PROJECT", "status": "2"}, "0 (disabled) or 1"),
        ("/v1/recording_config", {"id": "PROJECT", "recording_server": "203.0.113.7"}, "port"),
    ],
)
def test_form_bodies_are_checked_as_json_bodies_are(agora, acme, path, form, says):
    form = {key: acme.projects[0].project_id if value == "PROJECT" else value for key, value in form.items()}
    before = Project.objects.count()
    assert says in message(agora("engineer").request("POST", path, data=form), 400)
    assert Project.objects.count() == before


def test_a_form_body_larger_than_a_megabyte_is_413(agora):
    response = agora("engineer").request("POST", "/v1/project", data={"name": "x" * (1024 * 1024 + 1)})
    message(response, 413)


def test_answers_carry_a_request_id_and_the_resource_they_concern(agora, acme):
    caller = agora("admin")
    project_id = acme.projects[0].project_id
    one = caller.get("/v1/project", id=project_id)
    assert re.fullmatch(r"[0-9a-f]{32}", one.headers["X-Request-ID"])
    assert one.headers["X-Resource-ID"] == project_id
    listed = caller.get("/v1/projects")
    assert listed.headers["X-Resource-ID"] == "agora_projects"
    assert listed.headers["X-Request-ID"] != one.headers["X-Request-ID"]
    quoted = caller.request("GET", "/v1/projects", headers={"X-Request-ID": "script-run-42"})
    assert quoted.headers["X-Request-ID"] == "script-run-42"
    missing = caller.get("/v1/project", id="nope")
    assert missing.status_code == 404 and missing.headers["X-Resource-ID"] == "agora_project"
    assert caller.get("/v1/nothing").headers["X-Resource-ID"] == "none"
