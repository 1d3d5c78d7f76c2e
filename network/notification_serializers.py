"""Shapes of the native API for a project's notification settings (network.notification_api)."""

from collections.abc import Mapping

from rest_framework import serializers

from console.api import Serializer

from . import ncs
from .services import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS

EVENT_TYPES = sorted(ncs.EVENT_NAMES)
EVENT_TYPES_LIST = ", ".join(str(code) for code in EVENT_TYPES)
EVENT_TYPES_HELP = "Agora's RTC channel event types: " + ", ".join(
    f"{c} {n}" for c, n in sorted(ncs.EVENT_NAMES.items())
)


class NotificationSettingsSerializer(Serializer):
    """What GET and PATCH answer. A project that never enabled notifications answers enabled false, the event
    types and retention it would start with, updated_at and secret null."""

    receiving_url = serializers.CharField(
        read_only=True, help_text="The URL to enter in Agora's console (Project > Notifications > RTC channel events)."
    )
    enabled = serializers.BooleanField(read_only=True)
    event_types = serializers.ListField(child=serializers.IntegerField(), read_only=True, help_text=EVENT_TYPES_HELP)
    retention_days = serializers.IntegerField(read_only=True, help_text="How long received notifications are kept.")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The secret Agora signs notifications with. Always present; null unless the caller's role may "
        "view App Certificates (certificates: view) and notifications were enabled once. Each answer that carries "
        "it is recorded in the audit log.",
    )


class NotificationSettingsUpdateSerializer(Serializer):
    """Only the fields given change. Unknown fields are refused."""

    enabled = serializers.BooleanField(
        required=False,
        help_text="true: receive notifications (the first time: a new secret is made); false: answer them 404.",
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(
            choices=EVENT_TYPES,
            error_messages={"invalid_choice": f"Not one of the RTC channel event types ({EVENT_TYPES_LIST})."},
        ),
        required=False,
        allow_empty=False,
        max_length=len(EVENT_TYPES) * 2,
        help_text=EVENT_TYPES_HELP,
    )
    retention_days = serializers.IntegerField(
        required=False, min_value=MIN_RETENTION_DAYS, max_value=MAX_RETENTION_DAYS
    )
    rotate_secret = serializers.BooleanField(
        required=False,
        help_text="true: a new secret at once; notifications signed with the old one are answered 401 from now on.",
    )

    def validate(self, data):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, Mapping) else []
        if unknown:
            known = ", ".join(self.fields)
            raise serializers.ValidationError(
                {str(name)[:40]: f"Unknown field (known: {known})." for name in unknown[:5]}
            )
        return data
