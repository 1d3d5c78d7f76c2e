"""The guided rotation keeps people on its page and warns before cutting off recent tokens."""

from conftest import PASSWORD
from projects import services
from tokens.services import issue_temp_token


def test_reveal_from_the_rotation_page_stays_on_it(acme, client_for):
    project = acme.projects[0]
    services.enable_secondary(acme.membership("engineer"), project)
    client = client_for(acme.users["engineer"])
    response = client.post(f"/projects/{project.project_id}/certificates/secondary/reveal/", {"next": "rotation"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Rotate the App Certificate" in page
    assert project.secondary.value in page


def test_confirmations_from_the_rotation_page_return_to_it(acme, client_for):
    project = acme.projects[0]
    client = client_for(acme.users["engineer"])
    url = f"/projects/{project.project_id}/certificates/enable_secondary/"
    page = client.get(url + "?next=rotation").content.decode()
    assert f'href="/projects/{project.project_id}/rotation/"' in page  # Cancel
    response = client.post(url, {"version": project.certificates_version, "next": "rotation"})
    assert response["Location"] == f"/projects/{project.project_id}/rotation/"


def test_disabling_the_old_certificate_soon_after_the_swap_warns(acme, client_for):
    engineer = acme.membership("engineer")
    project = acme.projects[0]
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    old = project.secondary
    page = (
        client_for(acme.users["engineer"])
        .get(f"/projects/{project.project_id}/certificates/disable_secondary/")
        .content.decode()
    )
    assert f"fingerprint {old.fingerprint}, the old primary" in page
    assert "may have tokens valid for up to 23 h 59 min more" in page


def test_deleting_the_old_certificate_says_the_rotation_is_complete(acme, client_for):
    engineer = acme.membership("engineer")
    project = acme.projects[0]
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    services.disable_secondary(engineer, project)
    project.refresh_from_db()
    client = client_for(acme.users["engineer"])
    response = client.post(
        f"/projects/{project.project_id}/certificates/delete_secondary/",
        {"version": project.certificates_version, "password": PASSWORD},
        follow=True,
    )
    assert "Rotation complete" in response.content.decode()
    assert project.certificates.count() == 1


def test_the_deploy_step_offers_the_token_inspector_to_check_each_server(acme, client_for):
    project = acme.projects[0]
    services.enable_secondary(acme.membership("engineer"), project)
    page = client_for(acme.users["engineer"]).get(f"/projects/{project.project_id}/rotation/").content.decode()
    assert 'href="/tokens/inspect/">token inspector</a>' in page
    assert "opens on the project page" not in page


def test_the_rotation_page_counts_the_old_certificates_console_tokens(acme, client_for):
    engineer = acme.membership("engineer")
    project = acme.projects[0]
    issue_temp_token(engineer, project, "rtm", {"user_id": "ann", "expire": 600})
    issue_temp_token(engineer, project, "rtm", {"user_id": "bob", "expire": 300})
    services.enable_secondary(engineer, project)
    services.swap_certificates(engineer, project)
    page = client_for(acme.users["engineer"]).get(f"/projects/{project.project_id}/rotation/").content.decode()
    assert "(in 9 min); disabling it now would cut off up to 2 tokens issued in the last 24 h." in page
    assert "Tokens made by your own token servers are invisible to the console" in page
