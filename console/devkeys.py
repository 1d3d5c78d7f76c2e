"""Development secrets generated once and kept under var/ (git-ignored).

Production passes SECRET_KEY and CONSOLE_ENCRYPTION_KEYS in the environment instead; these files are
only a zero-configuration default so that a fresh checkout runs without any setup.
"""

import os
import secrets
import time
from base64 import urlsafe_b64encode
from pathlib import Path


def read_or_create(path: Path, make_value) -> str:
    """Return the value stored at `path`, creating it atomically on first use.

    Web, worker and beat may start at the same moment; O_EXCL makes exactly one of them write the file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(make_value())
    return path.read_text().strip()


def _read_when_written(path: Path) -> str:
    # Another process may have created the file but not yet written it.
    for _ in range(100):
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"{path} exists but is empty; delete it to generate a new value")


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    return urlsafe_b64encode(secrets.token_bytes(32)).decode()
