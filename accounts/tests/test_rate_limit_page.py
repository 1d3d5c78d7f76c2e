"""allauth's own rate limits (mails, codes) answer with the console's 429 page, never a bare one or a 500."""

import pytest
from django.core import mail


@pytest.mark.django_db
def test_too_many_reset_mails_for_one_address_answer_the_consoles_429_page(client, acme):
    address = acme.users["engineer"].email
    statuses = [client.post("/accounts/password/reset/", {"email": address}).status_code for _ in range(8)]

    assert statuses[0] == 302
    assert 429 in statuses, statuses
    refused = client.post("/accounts/password/reset/", {"email": address})
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "<h1>Too many attempts</h1>" in page and "console.css" in page
    assert len(mail.outbox) == statuses.count(302)  # a refused request sends nothing
