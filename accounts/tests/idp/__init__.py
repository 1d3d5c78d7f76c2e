"""A real OpenID Connect identity provider for the console's single sign-on tests.

A small Django project of its own (settings, database, SECRET_KEY, signing key) built on
django-oauth-toolkit: tests start it as a separate process through `launch.start_identity_provider`
(the `oidc_provider` fixture) and point the console's relying party at its issuer. It never imports the
console's settings, and the console never imports it: the two talk over HTTP only, as in production.

- settings.py, urls.py: the project; serve.py: the process's entry point (`python -m accounts.tests.idp.serve`).
- models.py: what the provider knows of a person beyond Django's user (display name, verified address).
- validators.py: the claims (`email`, `email_verified`, `name`) in the ID token and at userinfo.
- setup_views.py: token-protected endpoints through which the test adds people and client applications.
- launch.py: the test side (no Django import): start, wait, add people and clients, sign in, stop.
"""
