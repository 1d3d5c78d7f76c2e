from django import forms

from console.forms import Form

from . import rules
from .accesstoken2 import TokenError

EXPIRE_HELP = "Seconds, 1 to 86,400 (24 hours, the most a temp token may live)."


def _rule(check, value, *args):
    try:
        return check(value, *args)
    except TokenError as error:
        raise forms.ValidationError(str(error)) from error


class TokenForm(Form):
    expire = forms.IntegerField(label="Expires after (seconds)", initial=rules.DAY, help_text=EXPIRE_HELP)

    def clean_expire(self):
        return _rule(rules.expire, self.cleaned_data["expire"])


class RtcTokenForm(TokenForm):
    field_order = ["channel", "uid", "account", "role", "expire", "privilege_expire"]
    channel = forms.CharField(
        label="Channel name",
        max_length=200,
        help_text="Fewer than 64 bytes: letters, digits, space and ! # $ % & ( ) + - : ; < = . > ? @ [ ] ^ _ { } | ~ ,",
    )
    uid = forms.IntegerField(
        label="UID", initial=0, required=False, help_text="0 to 4294967295; 0 lets any uid join with this token."
    )
    account = forms.CharField(
        label="or user account",
        required=False,
        max_length=300,
        help_text="A string uid instead of the number (1 to 255 bytes). Leave empty to use the UID.",
    )
    role = forms.ChoiceField(
        choices=[("publisher", "Publisher (join and publish)"), ("subscriber", "Subscriber (join only)")],
        initial="publisher",
        widget=forms.RadioSelect,
    )

    privilege_expire = forms.IntegerField(
        label="Privileges expire after (seconds)",
        initial=0,
        required=False,
        help_text="0 (as Agora's builders): no separate limit, the token's expiry governs. Or 1 to 86,400.",
    )

    def clean_channel(self):
        return _rule(rules.channel_name, self.cleaned_data["channel"])

    def clean_uid(self):
        value = self.cleaned_data.get("uid")
        return 0 if value is None else _rule(rules.uid, value)

    def clean_privilege_expire(self):
        return _rule(rules.privilege_expire, self.cleaned_data.get("privilege_expire"))

    def clean_account(self):
        value = self.cleaned_data.get("account", "")
        return _rule(rules.account, value) if value else ""

    def token_params(self) -> tuple[str, dict]:
        return "rtc", dict(self.cleaned_data)


class RtmTokenForm(TokenForm):
    field_order = ["user_id", "expire"]
    user_id = forms.CharField(label="User ID", max_length=100, help_text="The RTM user id, 1 to 64 bytes.")

    def clean_user_id(self):
        return _rule(rules.user_id, self.cleaned_data["user_id"])

    def token_params(self) -> tuple[str, dict]:
        return "rtm", dict(self.cleaned_data)


class ChatTokenForm(TokenForm):
    field_order = ["kind", "user_id", "expire"]
    kind = forms.ChoiceField(
        label="Token type",
        choices=[("chat_app", "App token (server use)"), ("chat_user", "User token")],
        initial="chat_user",
        widget=forms.RadioSelect,
    )
    user_id = forms.CharField(
        label="User ID", max_length=100, required=False, help_text="Needed for a user token, 1 to 64 bytes."
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == "chat_user":
            if not data.get("user_id"):
                self.add_error("user_id", "Enter the user id for a user token.")
            else:
                try:
                    data["user_id"] = rules.user_id(data["user_id"])
                except TokenError as error:
                    self.add_error("user_id", str(error))
        return data

    def token_params(self) -> tuple[str, dict]:
        data = dict(self.cleaned_data)
        return data.pop("kind"), data


TABS = {"rtc": ("RTC", RtcTokenForm), "rtm": ("RTM", RtmTokenForm), "chat": ("Chat", ChatTokenForm)}


class InspectForm(Form):
    token = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autofocus": True}),
        max_length=10_000,
        help_text="Paste an AccessToken2 (starts with 007) or a legacy 006 token.",
    )
