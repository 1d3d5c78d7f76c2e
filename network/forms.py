"""Forms of the live channels page: a ban or mute (a kicking rule), and a new duration for one."""

from decimal import Decimal

from django import forms

from console.forms import Form

from . import agora_shapes, ncs
from .alerts import WINDOWS
from .models import QualityAlert

SCOPES = [
    ("user_in_channel", "This UID in this channel"),
    ("user", "This UID in every channel"),
    ("channel", "Everyone in this channel"),
    ("ip", "This IP address, in every channel"),
]
ACTIONS = {
    "ban": ("Ban: may not join (anyone in it is removed)", ["join_channel"]),
    "mute_audio": ("Mute audio: may not publish audio", ["publish_audio"]),
    "mute_video": ("Mute video: may not publish video", ["publish_video"]),
    "mute": ("Mute: may not publish audio or video", ["publish_audio", "publish_video"]),
}
MINUTES_HELP = "1 to 1,440 minutes (24 h). 0 removes who is there now once, without a ban: they may rejoin at once."


class RuleForm(Form):
    scope = forms.ChoiceField(label="Applies to", choices=SCOPES)
    channel_name = forms.CharField(label="Channel name", required=False, max_length=ncs.MAX_CHANNEL_NAME)
    uid = forms.IntegerField(label="UID", required=False, min_value=1, max_value=agora_shapes.MAX_UID)
    ip = forms.GenericIPAddressField(label="IP address", required=False, help_text="IPv4 or IPv6.")
    action = forms.ChoiceField(label="Action", choices=[(key, label) for key, (label, _) in ACTIONS.items()])
    minutes = forms.IntegerField(label="For (minutes)", min_value=0, max_value=1440, initial=60, help_text=MINUTES_HELP)

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope in ("user_in_channel", "channel") and not data.get("channel_name"):
            self.add_error("channel_name", "Name the channel.")
        if scope in ("user_in_channel", "user") and not data.get("uid"):
            self.add_error("uid", "Give the UID (not 0).")
        if scope == "ip" and not data.get("ip"):
            self.add_error("ip", "Give the IP address.")
        return data

    def rule(self) -> dict:
        """The keyword arguments of network.kicking.create_rule for the cleaned form."""
        data, scope = self.cleaned_data, self.cleaned_data["scope"]
        return {
            "channel_name": data["channel_name"] if scope in ("user_in_channel", "channel") else "",
            "uid": data["uid"] if scope in ("user_in_channel", "user") else None,
            "ip": data["ip"] if scope == "ip" else "",
            "privileges": ACTIONS[data["action"]][1],
            "seconds": data["minutes"] * 60,
        }


class ExtendForm(Form):
    minutes = forms.IntegerField(
        label="In force for another (minutes)",
        min_value=1,
        max_value=1440,
        initial=60,
        help_text="Counted from now: 1 to 1,440 minutes.",
    )


class QualityAlertForm(Form):
    metric = forms.ChoiceField(label="When the", choices=QualityAlert.Metric.choices)
    threshold_percent = forms.DecimalField(
        label="Is above (%)",
        min_value=Decimal("0.01"),
        max_value=Decimal("99.99"),
        decimal_places=2,
        initial=Decimal("5"),
        help_text="Agora marks video above 5% and audio above 3% as freezing.",
    )
    window_minutes = forms.TypedChoiceField(
        label="Over the last",
        choices=[(minutes, f"{minutes} minutes") for minutes in WINDOWS],
        coerce=int,
        initial=10,
    )
