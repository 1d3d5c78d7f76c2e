def test_the_admin_never_shows_the_customer_secret(acme, client):
    superuser = acme.users["admin"]
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    client.force_login(superuser)
    upstream = acme.organization.upstream  # the sandbox upstream every new organization gets in tests
    for url in ("/admin/usage/upstream/", f"/admin/usage/upstream/{upstream.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200
        assert upstream.customer_secret not in response.content.decode()
    assert client.get("/admin/usage/dailyusage/").status_code == 200
    assert client.get("/admin/usage/pullrun/").status_code == 200
