def test_django_admin_never_shows_a_certificate_value(acme, client):
    superuser = acme.users["admin"]
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    client.force_login(superuser)
    project = acme.projects[0]
    response = client.get(f"/admin/projects/project/{project.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert project.primary.fingerprint in page
    assert project.primary.value not in page
