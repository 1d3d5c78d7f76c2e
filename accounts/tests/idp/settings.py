"""Settings of the test identity provider: its own database, SECRET_KEY and signing key, all under
IDP_STATE_DIR (a temporary directory the test side makes). Nothing here reads the console's settings.

Environment (set by launch.py; IDP_ISSUER by serve.py once it has bound its port):
IDP_STATE_DIR (database and oidc-rsa.pem), IDP_SECRET_KEY, IDP_SETUP_TOKEN (guards setup_views), IDP_ISSUER.
"""

import os
from pathlib import Path

STATE_DIR = Path(os.environ["IDP_STATE_DIR"])
SECRET_KEY = os.environ["IDP_SECRET_KEY"]
SETUP_TOKEN = os.environ["IDP_SETUP_TOKEN"]
ISSUER = os.environ["IDP_ISSUER"]

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "accounts.tests.idp.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "accounts.tests.idp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": STATE_DIR / "idp.sqlite3",
        "OPTIONS": {
            # The server is threaded: take the write lock at BEGIN so concurrent writers wait, not fail.
            "transaction_mode": "IMMEDIATE",
            # A throwaway database: no fsync per commit, so requests do not wait on a disk the test run shares.
            "init_command": "PRAGMA synchronous=OFF",
        },
    }
}
# A fresh database per run: tables straight from the models (`migrate --run-syncdb`) take a fraction of
# the time of replaying every migration, and this project has no data to carry between versions.
MIGRATION_MODULES = {app.rsplit(".", 1)[-1]: None for app in INSTALLED_APPS}
# Test-only speed: every token request checks the hashed client secret, every sign-in a password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
# The console under test runs on the same host (127.0.0.1 or localhost) on another port, and browsers
# share cookies between ports: with Django's default names each site would overwrite the other's session.
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ISSUER,
    "OIDC_RSA_PRIVATE_KEY": (STATE_DIR / "oidc-rsa.pem").read_text(),
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_VALIDATOR_CLASS": "accounts.tests.idp.validators.ClaimsValidator",
    "SCOPES": {
        "openid": "Sign you in",
        "email": "Your email address",
        "profile": "Your name",
    },
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    # Behave like a strict, current provider (RFC 9700): S256 only, no implicit or password grant,
    # `iss` in the authorization response, access tokens only in the Authorization header, tokens hashed.
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    # One line per request would bury what matters; 4xx/5xx responses and tracebacks still reach stderr,
    # which the test side keeps in IDP_STATE_DIR/server.log.
    "loggers": {
        "django.server": {"handlers": ["stderr"], "level": "WARNING"},
        "django": {"handlers": ["stderr"], "level": "WARNING"},
    },
}
