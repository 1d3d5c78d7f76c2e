"""The refusal every layer raises when a rule of the console says no; its message is for the person who
tried. It is turned into what the person sees in one place per door: a form error on the named field (or
the whole form), a page message, or an API 4xx {"message": ...} (console.api.exception_handler); commands
print it and exit 1.
"""


class RuleViolation(Exception):
    """An action that the console's rules refuse; the message explains why. `field`: the form field the
    refusal is about, when a form asked (None: the form as a whole)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class Immutable(RuleViolation):
    """A record that can no longer be changed or deleted: append-only records (audit entries, statements,
    ledger entries) and a price book an issued statement uses. Corrections are new records."""
