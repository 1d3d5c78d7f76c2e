"""The form of a project's Notifications tab: the event types subscribed and how long notifications are kept."""

from django import forms

from console.forms import Form

from . import ncs
from .services import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS

HIGH_VOLUME = (ncs.AUDIENCE_JOINED, ncs.AUDIENCE_LEFT)


def event_choices() -> list[tuple[int, str]]:
    labels = {code: f"{code} {name}" for code, name in ncs.EVENT_NAMES.items()}
    for code in HIGH_VOLUME:
        labels[code] += " (high volume)"
    return sorted(labels.items())


class NotificationSettingsForm(Form):
    event_types = forms.TypedMultipleChoiceField(
        label="Event types",
        choices=event_choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick the same types in Agora's console: Agora sends only those, and Check tests these. Audience "
        "joins and leaves (105, 106) come once per viewer: in a large live broadcast they are most of the traffic.",
        error_messages={
            "required": "Choose at least one event type.",
            "invalid_choice": "Choose among the event types listed.",  # never echoes what was sent
            "invalid_list": "Choose among the event types listed.",
        },
    )
    retention_days = forms.IntegerField(
        label="Keep received notifications for (days)",
        min_value=MIN_RETENTION_DAYS,
        max_value=MAX_RETENTION_DAYS,
        help_text=f"{MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days from the last delivery; then they are deleted.",
    )
