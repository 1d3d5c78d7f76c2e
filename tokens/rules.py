"""Input rules for tokens (Agora's documented limits), checked once before building. Pure Python.

Each check returns the cleaned value or raises TokenError with a message meant for the person who typed it.
"""

import string

from .accesstoken2 import MAX_U32, TokenError
from .accesstoken2 import rtm2_permissions as rtm2_cleaned

# Agora's allowed characters for channel names and user accounts.
NAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + " !#$%&()+-:;<=.>?@[]^_{}|~,")
MAX_CHANNEL_BYTES = 63  # "fewer than 64 bytes"
MAX_ACCOUNT_BYTES = 255
MAX_USER_ID_BYTES = 64
DAY = 86_400


def _is_ascii_number(text: str) -> bool:
    # str.isdigit() also accepts "²" and other scripts' digits, which int() rejects or reads differently.
    text = text.strip()
    return text.isascii() and text.isdigit()


def _check_characters(value: str, what: str) -> None:
    bad = sorted({char for char in value if char not in NAME_CHARACTERS})
    if bad:
        shown = " ".join(repr(char) for char in bad[:5])
        raise TokenError(f"{what} contains characters that are not allowed: {shown}.")


def channel_name(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TokenError("Enter a channel name.")
    if len(value.encode()) > MAX_CHANNEL_BYTES:
        raise TokenError(f"The channel name must be shorter than 64 bytes (it has {len(value.encode())}).")
    _check_characters(value, "The channel name")
    return value


def uid(value: object) -> int:
    if isinstance(value, bool):
        raise TokenError("The uid must be a whole number.")
    if isinstance(value, str):
        if not _is_ascii_number(value):
            raise TokenError("The uid must be a whole number between 0 and 4294967295.")
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_U32:
        raise TokenError(f"The uid must be between 0 and {MAX_U32} (0 lets any uid use the token).")
    return value


def account(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TokenError("Enter a user account.")
    if len(value.encode()) > MAX_ACCOUNT_BYTES:
        raise TokenError(f"The user account must be at most {MAX_ACCOUNT_BYTES} bytes.")
    _check_characters(value, "The user account")
    return value


def user_id(value: object) -> str:
    """RTM and Chat user ids: 1 to 64 bytes of printable ASCII, no surrounding spaces."""
    if not isinstance(value, str) or not value.strip():
        raise TokenError("Enter a user id.")
    if value != value.strip():
        raise TokenError("The user id cannot start or end with a space.")
    if len(value.encode()) > MAX_USER_ID_BYTES:
        raise TokenError(f"The user id must be at most {MAX_USER_ID_BYTES} bytes.")
    if not all(char.isascii() and char.isprintable() for char in value):
        raise TokenError("The user id may contain printable ASCII characters only.")
    return value


def expire(value: object, maximum: int = DAY, what: str = "The expiry") -> int:
    if isinstance(value, bool):
        raise TokenError(f"{what} must be a number of seconds.")
    if isinstance(value, str):
        if not _is_ascii_number(value):
            raise TokenError(f"{what} must be a number of seconds.")
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= maximum:
        raise TokenError(f"{what} must be between 1 and {maximum:,} seconds.")
    return value


def privilege_expire(value: object, maximum: int = DAY, what: str = "The privilege expiry") -> int:
    """Seconds after the issue time, or 0 (Agora's default): no separate limit, the token's expiry governs."""
    if value in (None, "", 0, "0") and not isinstance(value, bool):
        return 0
    return expire(value, maximum, what)


def rtm2_permissions(value: object) -> dict[int, dict[int, tuple[str, ...]]]:
    """RTM2 permissions as JSON gives them, {"message_channels": {"read": ["lobby", "*"]}}, checked.

    Resource names are 1 to 64 bytes of printable ASCII without spaces; "*" stands for all.
    """
    cleaned = rtm2_cleaned(value)
    if not cleaned:
        raise TokenError("Grant at least one RTM2 permission, e.g. read on the message channel lobby.")
    for by_permission in cleaned.values():
        for names in by_permission.values():
            for name in names:
                if not 1 <= len(name.encode()) <= MAX_USER_ID_BYTES or not all(
                    char.isascii() and char.isprintable() and char != " " for char in name
                ):
                    raise TokenError(
                        f"The RTM2 resource name {name[:70]!r} must be 1 to 64 printable ASCII characters, no spaces."
                    )
    return cleaned


def role(value: object) -> int:
    roles = {"publisher": 1, "subscriber": 2, 1: 1, 2: 2, "1": 1, "2": 2}
    if isinstance(value, bool) or not isinstance(value, str | int) or value not in roles:
        raise TokenError('The role must be "publisher" or "subscriber".')
    return roles[value]
