def test_profile_changes_the_name_only(acme, client_for):
    user = acme.users["engineer"]
    client = client_for(user)
    response = client.post("/accounts/profile/", {"name": "Erin E.", "email": "hijack@evil.test"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.name, user.email) == ("Erin E.", "engineer@acme.test")


def test_profile_name_too_long_is_a_field_error(acme, client_for):
    response = client_for(acme.users["engineer"]).post("/accounts/profile/", {"name": "x" * 151})
    assert response.status_code == 200
    assert "at most 150 characters" in response.content.decode()


def test_a_password_changed_elsewhere_signs_out_other_sessions_at_once(acme, client):
    user = acme.users["engineer"]
    client.force_login(user)
    assert client.get("/overview/").status_code == 200  # the user is now cached
    user.set_password("another-long-password")
    user.save()
    response = client.get("/overview/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
