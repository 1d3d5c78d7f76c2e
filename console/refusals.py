"""The refusal every layer raises when a rule of the console says no; its message is for the person who
tried. Pages show it as a form error or a message, the APIs answer 4xx {"message": ...} (console.api)."""


class RuleViolation(Exception):
    """An action that the console's rules refuse; the message explains why."""
