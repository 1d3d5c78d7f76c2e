"""The test side of the identity provider: start its process, wait until it answers, add people and
client applications, sign in at it, stop it. Imports no Django: it runs inside the console's test process.

    provider = start_identity_provider(tmp_dir)
    client_id, client_secret = provider.add_client("http://127.0.0.1:8000/accounts/oidc/idp/login/callback/")
    provider.add_user("ada@example.test", "pass", name="Ada Lovelace")
    session = provider.sign_in_session("ada@example.test", "pass")
    callback_url = provider.authorization_redirect(session, authorize_url_from_the_console)
    provider.stop()
"""

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT = 30.0  # seconds; a start takes about a second
POLL_INTERVAL = 0.05
HTTP_TIMEOUT = 10.0


class IdentityProviderError(RuntimeError):
    """The provider did not start, or refused what the harness asked of it; the message has its log."""


@dataclass
class IdentityProvider:
    issuer: str  # e.g. http://127.0.0.1:40123/o, exactly the discovery document's "issuer"
    base_url: str  # e.g. http://127.0.0.1:40123
    state_dir: Path
    _setup_token: str = field(repr=False)
    _process: subprocess.Popen = field(repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/login/"

    def discovery(self) -> dict:
        response = requests.get(self.discovery_url, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def add_user(self, email: str, password: str, *, name: str = "", email_verified: bool = True) -> str:
        """Create a person who can sign in with `email` as the username; returns their `sub`."""
        body = {"email": email, "password": password, "name": name, "email_verified": email_verified}
        return self._setup("users", body)["sub"]

    def add_client(self, redirect_uri: str, *, name: str = "console under test") -> tuple[str, str]:
        """Register a confidential authorization-code client with RS256 ID tokens and no consent screen;
        returns (client_id, client_secret), the secret in clear (the provider keeps only its hash)."""
        answer = self._setup("clients", {"redirect_uri": redirect_uri, "name": name})
        return answer["client_id"], answer["client_secret"]

    def sign_in_session(self, email: str, password: str) -> requests.Session:
        """A requests.Session signed in at the provider through its login form: a GET of the authorize
        endpoint with it answers with a redirect to the client carrying a code."""
        session = requests.Session()
        session.get(self.login_url, timeout=HTTP_TIMEOUT).raise_for_status()
        form = {"username": email, "password": password, "csrfmiddlewaretoken": session.cookies["idp_csrftoken"]}
        response = session.post(self.login_url, data=form, allow_redirects=False, timeout=HTTP_TIMEOUT)
        if response.status_code != 302:
            raise IdentityProviderError(f"the identity provider refused {email}'s sign-in ({response.status_code})")
        return session

    def authorization_redirect(self, session: requests.Session, authorize_url: str) -> str:
        """GET `authorize_url` with a signed-in session and return where the provider sends the browser
        back (the client's redirect URI with `code` or `error`), without following it."""
        response = session.get(authorize_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
        location = response.headers.get("Location", "")
        if response.status_code != 302 or location.startswith(self.login_url) or location.startswith("/login/"):
            raise IdentityProviderError(
                f"authorize answered {response.status_code} (Location {location!r}), not a redirect to the client:"
                f"\n{response.text[:2000]}"
            )
        return location

    def server_log(self) -> str:
        """What the provider wrote to stderr: warnings for 4xx answers, tracebacks for 5xx."""
        return (self.state_dir / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self._process)

    def _setup(self, kind: str, body: dict) -> dict:
        response = requests.post(
            f"{self.base_url}/setup/{kind}/",
            json=body,
            headers={"Authorization": f"Bearer {self._setup_token}"},
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code != 201:
            raise IdentityProviderError(
                f"adding {kind} answered {response.status_code}: {response.text[:500]}\n{self.server_log()}"
            )
        return response.json()


def start_identity_provider(state_dir: Path, timeout: float = START_TIMEOUT) -> IdentityProvider:
    """Start the provider in its own process with its state (database, key, log) in `state_dir`, and
    return once its discovery document answers. Raises IdentityProviderError with its log otherwise."""
    write_signing_key(state_dir / "oidc-rsa.pem")
    setup_token = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "accounts.tests.idp.settings",
        "IDP_STATE_DIR": str(state_dir),
        "IDP_SECRET_KEY": secrets.token_urlsafe(50),
        "IDP_SETUP_TOKEN": setup_token,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    with open(state_dir / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "accounts.tests.idp.serve"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        port = wait_for_port(process, state_dir / "port", timeout)
        base_url = f"http://127.0.0.1:{port}"
        provider = IdentityProvider(f"{base_url}/o", base_url, state_dir, setup_token, process)
        wait_for_discovery(process, provider.discovery_url, timeout)
    except IdentityProviderError as error:
        stop_process(process)
        log_text = (state_dir / "server.log").read_text(errors="replace")
        raise IdentityProviderError(f"{error}\n--- identity provider log ---\n{log_text}") from None
    return provider


def write_signing_key(path: Path) -> None:
    """A fresh 2048-bit RSA key for the RS256 ID tokens, PEM (PKCS#8), readable by the owner only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)


def wait_for_port(process: subprocess.Popen, port_file: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if process.poll() is not None:
            raise IdentityProviderError(f"the identity provider exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise IdentityProviderError(f"the identity provider did not bind a port within {timeout:.0f} s")
        time.sleep(POLL_INTERVAL)
    return int(port_file.read_text())


def wait_for_discovery(process: subprocess.Popen, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_problem = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise IdentityProviderError(f"the identity provider exited with status {process.returncode}")
        try:
            response = requests.get(url, timeout=1)
        except requests.ConnectionError as error:
            last_problem = str(error)
        else:
            if response.status_code == 200:
                return
            last_problem = f"{response.status_code} {response.text[:500]}"
        time.sleep(POLL_INTERVAL)
    raise IdentityProviderError(f"{url} did not answer 200 within {timeout:.0f} s: {last_problem}")


def stop_process(process: subprocess.Popen) -> None:
    """Terminate, then kill if it has not gone within five seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
