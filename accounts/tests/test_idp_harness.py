"""The test identity provider (accounts/tests/idp, the `oidc_provider` fixture) is a real OpenID Connect
provider: discovery, the authorization-code flow with PKCE, RS256 ID tokens that verify against its JWKS,
userinfo, and the refusals a relying party relies on. No console code takes part."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests

from accounts.tests.idp.launch import IdentityProviderError, start_identity_provider

REDIRECT_URI = "http://127.0.0.1:9/sso/callback/"  # nothing listens there: the flow stops at the redirect
IDP_PASSWORD = "idp-password-4821"
ALL_SCOPES = "openid email profile"


# Helpers ----------------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), computed here rather than by a library under test."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(provider, client_id: str, scope: str = ALL_SCOPES, **extra: str) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": scope}
    return f"{provider.discovery()['authorization_endpoint']}?{urlencode({**query, **extra})}"


def redirect_query(location: str) -> dict[str, str]:
    """The query of a redirect to REDIRECT_URI, one value per name."""
    assert location.startswith(REDIRECT_URI), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def exchange(provider, client: tuple[str, str], code: str, verifier: str) -> requests.Response:
    """POST the token endpoint as a confidential client (HTTP Basic, as many relying parties do)."""
    return requests.post(
        provider.discovery()["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=client,
        timeout=10,
    )


def verified_id_token(provider, token: str, client_id: str) -> dict:
    """Decode an ID token the way a relying party must: signature by a key of the JWKS, RS256 only, our
    audience, the provider's issuer, not expired."""
    signing_key = jwt.PyJWKClient(provider.discovery()["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=client_id, issuer=provider.issuer)


def code_for(provider, session, client_id: str, challenge: str, scope: str = ALL_SCOPES, **extra: str) -> str:
    location = provider.authorization_redirect(
        session,
        authorize_url(provider, client_id, scope, code_challenge=challenge, code_challenge_method="S256", **extra),
    )
    return redirect_query(location)["code"]


@pytest.fixture
def client_app(oidc_provider) -> tuple[str, str]:
    return oidc_provider.add_client(REDIRECT_URI)


def add_person(provider, name: str = "Ada Lovelace", email_verified: bool = True) -> str:
    """A person with an address of their own (the provider lives for the whole session); returns it."""
    email = f"person-{secrets.token_hex(4)}@idp.test"
    provider.add_user(email, IDP_PASSWORD, name=name, email_verified=email_verified)
    return email


# Discovery --------------------------------------------------------------------------------------


def test_discovery_document_names_the_issuer_and_its_endpoints(oidc_provider):
    document = oidc_provider.discovery()

    assert document["issuer"] == oidc_provider.issuer
    assert oidc_provider.issuer.startswith("http://127.0.0.1:") and oidc_provider.issuer.endswith("/o")
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert document[endpoint].startswith(f"{oidc_provider.issuer}/"), endpoint
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert {"openid", "email", "profile"} <= set(document["scopes_supported"])
    assert {"sub", "email", "email_verified", "name"} <= set(document["claims_supported"])


def test_jwks_publishes_one_rsa_signing_key(oidc_provider):
    keys = requests.get(oidc_provider.discovery()["jwks_uri"], timeout=10).json()["keys"]

    assert [(key["kty"], key["alg"], key["use"]) for key in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0]  # the public half only


# The authorization-code flow with PKCE ----------------------------------------------------------


def test_code_flow_with_pkce_gives_an_id_token_that_verifies_against_the_jwks(oidc_provider, client_app):
    client_id, _ = client_app
    email = add_person(oidc_provider, name="Ada Lovelace")
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)

    location = oidc_provider.authorization_redirect(
        session,
        authorize_url(
            oidc_provider, client_id, code_challenge=challenge, code_challenge_method="S256", state=state, nonce=nonce
        ),
    )
    answer = redirect_query(location)
    assert answer["state"] == state
    assert answer["iss"] == oidc_provider.issuer  # RFC 9207

    response = exchange(oidc_provider, client_app, answer["code"], verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert jwt.get_unverified_header(tokens["id_token"])["alg"] == "RS256"

    claims = verified_id_token(oidc_provider, tokens["id_token"], client_id)
    assert claims["email"] == email
    assert claims["email_verified"] is True
    assert claims["name"] == "Ada Lovelace"
    assert claims["nonce"] == nonce
    assert claims["sub"]


def test_userinfo_answers_the_same_claims_for_the_access_token(oidc_provider, client_app):
    email = add_person(oidc_provider, name="Grace Hopper")
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)
    verifier, challenge = pkce_pair()
    tokens = exchange(oidc_provider, client_app, code_for(oidc_provider, session, client_app[0], challenge), verifier)
    id_token = verified_id_token(oidc_provider, tokens.json()["id_token"], client_app[0])

    userinfo = requests.get(
        oidc_provider.discovery()["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        timeout=10,
    )

    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json() == {"sub": id_token["sub"], "email": email, "email_verified": True, "name": "Grace Hopper"}


def test_an_unverified_address_is_reported_unverified(oidc_provider, client_app):
    email = add_person(oidc_provider, email_verified=False)
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)
    verifier, challenge = pkce_pair()

    tokens = exchange(oidc_provider, client_app, code_for(oidc_provider, session, client_app[0], challenge), verifier)

    claims = verified_id_token(oidc_provider, tokens.json()["id_token"], client_app[0])
    assert claims["email"] == email
    assert claims["email_verified"] is False


def test_claims_follow_the_scopes_granted(oidc_provider, client_app):
    email = add_person(oidc_provider)
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)
    verifier, challenge = pkce_pair()

    code = code_for(oidc_provider, session, client_app[0], challenge, scope="openid")
    tokens = exchange(oidc_provider, client_app, code, verifier)

    claims = verified_id_token(oidc_provider, tokens.json()["id_token"], client_app[0])
    assert "sub" in claims
    assert not {"email", "email_verified", "name"} & set(claims)


def test_signing_in_from_the_authorize_redirect_returns_to_the_client(oidc_provider, client_app):
    """What a browser does: authorize sends a stranger to the login page, whose form (the labels a
    browser test fills) leads back to authorize and from there to the client with a code."""
    email = add_person(oidc_provider)
    verifier, challenge = pkce_pair()
    browser = requests.Session()
    start = authorize_url(oidc_provider, client_app[0], code_challenge=challenge, code_challenge_method="S256")

    to_login = browser.get(start, allow_redirects=False, timeout=10)
    assert to_login.status_code == 302
    login_url = urljoin(start, to_login.headers["Location"])
    assert login_url.startswith(oidc_provider.login_url)
    page = browser.get(login_url, timeout=10)
    assert ">Username</label>" in page.text and ">Password</label>" in page.text
    assert '<button type="submit">Log in</button>' in page.text
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]

    form = {"username": email, "password": IDP_PASSWORD, "next": next_url}
    signed_in = browser.post(
        login_url, data={**form, "csrfmiddlewaretoken": browser.cookies["idp_csrftoken"]}, allow_redirects=False
    )
    assert signed_in.status_code == 302
    back_at_client = browser.get(urljoin(login_url, signed_in.headers["Location"]), allow_redirects=False)

    code = redirect_query(back_at_client.headers["Location"])["code"]
    assert exchange(oidc_provider, client_app, code, verifier).status_code == 200


# Refusals ---------------------------------------------------------------------------------------


def test_a_wrong_code_verifier_is_refused(oidc_provider, client_app):
    email = add_person(oidc_provider)
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()

    response = exchange(
        oidc_provider, client_app, code_for(oidc_provider, session, client_app[0], challenge), other_verifier
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "id_token" not in response.json()


@pytest.mark.parametrize(
    "pkce",
    [{}, {"code_challenge": "a-plain-challenge-of-at-least-forty-three-characters", "code_challenge_method": "plain"}],
    ids=["no challenge", "plain method"],
)
def test_authorization_without_s256_pkce_is_refused(oidc_provider, client_app, pkce):
    email = add_person(oidc_provider)
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)

    answer = redirect_query(
        oidc_provider.authorization_redirect(session, authorize_url(oidc_provider, client_app[0], **pkce))
    )

    assert answer["error"] == "invalid_request"
    assert "code" not in answer


def test_a_code_is_good_for_one_exchange(oidc_provider, client_app):
    email = add_person(oidc_provider)
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)
    verifier, challenge = pkce_pair()
    code = code_for(oidc_provider, session, client_app[0], challenge)

    assert exchange(oidc_provider, client_app, code, verifier).status_code == 200
    replay = exchange(oidc_provider, client_app, code, verifier)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_refused(oidc_provider, client_app):
    email = add_person(oidc_provider)
    session = oidc_provider.sign_in_session(email, IDP_PASSWORD)
    verifier, challenge = pkce_pair()
    code = code_for(oidc_provider, session, client_app[0], challenge)

    response = exchange(oidc_provider, (client_app[0], "not-the-secret"), code, verifier)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_wrong_password_is_refused_at_the_login_page(oidc_provider):
    email = add_person(oidc_provider)

    with pytest.raises(IdentityProviderError, match="refused"):
        oidc_provider.sign_in_session(email, "not-the-password")


@pytest.mark.parametrize("authorization", [None, "Bearer not-the-token"], ids=["none", "wrong token"])
def test_setup_endpoints_need_the_setup_token(oidc_provider, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    for kind, body in (
        ("users", {"email": "intruder@idp.test", "password": "x"}),
        ("clients", {"redirect_uri": "http://evil.test/"}),
    ):
        response = requests.post(f"{oidc_provider.base_url}/setup/{kind}/", json=body, headers=headers, timeout=10)
        assert response.status_code == 403, kind


# The harness itself -----------------------------------------------------------------------------


def test_a_provider_that_cannot_start_reports_its_log(oidc_provider, tmp_path):
    """Its database path is taken by a directory: the process dies in start-up, and the error says why."""
    (tmp_path / "idp.sqlite3").mkdir()

    with pytest.raises(IdentityProviderError) as failure:
        start_identity_provider(tmp_path)

    assert "exited with status" in str(failure.value)
    assert "unable to open database file" in str(failure.value)
