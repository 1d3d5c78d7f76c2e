"""The guided rotation keeps people on its page and warns before cutting off recent tokens."""

from conftest import PASSWORD
from projects import services


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
    assert "The swap was only 0.0 hours ago" in page


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
