"""The rules for text that people type: one line means one line, and nothing is unbounded.

`refuse_control_characters` is the validator every single-line text field uses (forms through
console.forms, the APIs through console.api's serializers): line breaks, tabs, NUL, the other C0/C1
controls and the Unicode line and paragraph separators are refused with a message, never stored.
`one_line` makes stored text safe where one line is required (mail subjects), whatever it holds.
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

# Single-line text: at most this many characters where a field names no smaller limit.
LINE_MAX = 255
# Multi-line text (addresses, notes, reasons).
TEXT_MAX = 2000

_LINE_BREAKERS = {"\u2028", "\u2029", "\x85"}


def is_control(character: str) -> bool:
    """True for characters that have no place in a single line of text."""
    return unicodedata.category(character) == "Cc" or character in _LINE_BREAKERS


def has_control_characters(value: str) -> bool:
    return any(is_control(character) for character in value)


def refuse_control_characters(value: object) -> None:
    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError(
            "Remove the line breaks, tabs and other control characters: this field takes one line of text.",
            code="control_characters",
        )


_RUNS_OF_SPACE = re.compile(r"\s+")


def one_line(value: str, limit: int = 200) -> str:
    """`value` on one line: every control character becomes a space, runs of space shrink to one, and
    anything past `limit` characters is cut with an ellipsis. For mail subjects and other headers."""
    text = "".join(" " if is_control(character) else character for character in str(value))
    text = _RUNS_OF_SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def length_at_most(field: str, limit: int) -> models.CheckConstraint:
    """The database's own bound on a TextField (which, unlike a CharField, has none): put it in the model's
    Meta.constraints next to `max_length=limit` on the field, which bounds the forms."""
    return models.CheckConstraint(
        condition=LessThanOrEqual(Length(field), limit), name=f"%(app_label)s_%(class)s_{field}_max_length"
    )
