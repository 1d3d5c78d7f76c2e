"""Forms of the usage settings and data sync pages: the upstream, a project's mapping, a backfill."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator
from django.utils.html import escape

from console.dates import utc_today
from console.forms import Form
from projects.models import Project

from . import egress
from .models import ProjectMapping, Upstream

MAX_BACKFILL_DAYS = 731  # two years, a leap day included
UPSTREAM_ID_RULE = RegexValidator(r"^[A-Za-z0-9_-]{1,64}$", "Use 1 to 64 characters: letters, digits, _ and - only.")
AGORA_BASE_URL = "https://api.agora.io"
BASE_URL_HELP = (
    f"The root of Agora’s RESTful API, <code>{AGORA_BASE_URL}</code>, or of another server on the public internet "
    "that answers the same <code>/dev/v1/projects</code> and <code>/dev/v3/usage</code>."
)


def describe_empty_base_url() -> str:
    """What an empty base URL stands for on this console, or "" when it stands for nothing (no sandbox and
    no default upstream: every organization names its own)."""
    if settings.USAGE_SANDBOX:
        return "the built-in sandbox (synthetic usage of your own projects, for a trial)"
    if settings.USAGE_UPSTREAM_URL:
        return f"this console’s default upstream, <code>{escape(settings.USAGE_UPSTREAM_URL)}</code>"
    return ""


class UpstreamForm(Form):
    """Base URL, Customer ID and Customer Secret. The secret is never shown back: empty keeps the stored one,
    except when the base URL changes, so that a stored secret only ever goes to the server it was entered for."""

    base_url = forms.URLField(
        label="Base URL",
        required=False,
        max_length=200,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": AGORA_BASE_URL}),
        help_text=BASE_URL_HELP,
    )
    customer_id = forms.CharField(
        label="Customer ID",
        max_length=100,
        required=False,
        help_text="From “RESTful API” in the upstream’s console. Not an App ID.",
    )
    customer_secret = forms.CharField(
        label="Customer Secret",
        max_length=500,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, upstream: Upstream | None = None, **kwargs):
        self.upstream = upstream
        self.has_secret = bool(upstream and upstream.pk and upstream.customer_secret)
        if upstream is not None and upstream.pk:
            kwargs.setdefault("initial", {"base_url": upstream.base_url, "customer_id": upstream.customer_id})
        super().__init__(*args, **kwargs)
        self._explain_empty_base_url()
        secret = self.fields["customer_secret"]
        if self.has_secret:
            secret.help_text = (
                "•••• set. Leave empty to keep the stored secret; type a new one to replace it. "
                "It is stored encrypted and never shown again."
            )
        else:
            secret.help_text = "Stored encrypted; it is never shown again after saving."

    def _explain_empty_base_url(self) -> None:
        field, empty = self.fields["base_url"], describe_empty_base_url()
        if empty:
            field.help_text = f"{BASE_URL_HELP} Leave empty to use {empty}."
            field.widget.attrs["placeholder"] = "Empty: " + (
                "the built-in sandbox" if settings.USAGE_SANDBOX else "the default"
            )
        else:
            field.required = True
            field.error_messages["required"] = f"Enter the base URL of your upstream, for Agora {AGORA_BASE_URL}."

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip().rstrip("/")
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// address.")
        if url:
            # The server calls this address: never one of its own networks (the client checks again on connect).
            try:
                egress.check_url(url)
            except egress.EgressRefused as error:
                raise forms.ValidationError(str(error)) from None
        return url

    def clean_customer_id(self):
        customer_id = self.cleaned_data["customer_id"].strip()
        if customer_id and any(ch in customer_id for ch in ":\r\n"):
            raise forms.ValidationError("A Customer ID cannot contain “:” or line breaks.")
        return customer_id

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        base_url, customer_id, secret = data["base_url"], data["customer_id"], data["customer_secret"]
        if not customer_id:
            self.add_error("customer_id", "Enter the Customer ID.")
        if not secret:
            if not self.has_secret:
                self.add_error("customer_secret", "Enter the Customer Secret.")
            elif base_url != self.upstream.base_url:
                self.add_error(
                    "customer_secret",
                    "The base URL changed: enter the Customer Secret again. "
                    "A stored secret is only sent to the server it was entered for.",
                )
        if not base_url and customer_id and self._sandbox_id_taken(customer_id):
            self.add_error("customer_id", "Another organization uses this Customer ID with the built-in upstream.")
        return data

    def _sandbox_id_taken(self, customer_id: str) -> bool:
        # The built-in sandbox finds the caller by Customer ID, so it must be unique among sandbox upstreams.
        others = Upstream.objects.filter(base_url="", customer_id=customer_id)
        if self.upstream is not None and self.upstream.pk:
            others = others.exclude(pk=self.upstream.pk)
        return others.exists()


class MappingForm(Form):
    """Set a console project's upstream project id by hand, or remove its mapping."""

    project = forms.ModelChoiceField(queryset=Project.objects.none(), to_field_name="project_id", empty_label=None)
    upstream_project_id = forms.CharField(
        label="Upstream project ID",
        max_length=64,
        required=False,
        validators=[UPSTREAM_ID_RULE],
        help_text="The <code>id</code> of the project in the upstream’s <code>GET /dev/v1/projects</code> answer "
        "(not the App ID). 1 to 64 characters: letters, digits, _ and -.",
    )

    def __init__(self, *args, projects, remove: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.remove = remove
        self.fields["project"].queryset = projects
        self.fields["project"].label_from_instance = lambda project: f"{project.name} ({project.project_id})"
        if not remove:
            self.fields["upstream_project_id"].required = True
            self.fields["upstream_project_id"].error_messages["required"] = "Enter the upstream project ID."

    def clean_upstream_project_id(self):
        return self.cleaned_data["upstream_project_id"].strip()

    def clean(self):
        data = super().clean()
        project, upstream_id = data.get("project"), data.get("upstream_project_id")
        if self.remove or not project or not upstream_id:
            return data
        # Two projects keyed by one upstream id would count the same usage twice. The check spans the whole
        # organization (the upstream is the organization's), but names only a project the member may see.
        clash = (
            ProjectMapping.objects.filter(project__organization_id=project.organization_id)
            .filter(upstream_project_id=upstream_id)
            .exclude(project=project)
            .select_related("project")
            .first()
        )
        if clash is not None:
            visible = self.fields["project"].queryset.filter(pk=clash.project_id).exists()
            who = clash.project.name if visible else "Another project of your organization"
            self.add_error(
                "upstream_project_id", f"{who} already uses this upstream project ID; usage would be counted twice."
            )
        return data


class BackfillForm(Form):
    """Pull a window again, for every pullable project or one of them."""

    project = forms.ChoiceField(label="Project")
    date_from = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC days.")

    def __init__(self, *args, projects, allow_all: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.projects = {project.project_id: project for project in projects}
        choices = [(pid, project.name) for pid, project in self.projects.items()]
        if allow_all:
            choices.insert(0, ("", "All enabled projects"))
        else:
            choices.insert(0, ("", "Choose a project"))
        self.allow_all = allow_all
        self.fields["project"].choices = choices
        self.fields["project"].required = False
        today = utc_today()
        self.fields["date_to"].widget.attrs["max"] = today.isoformat()
        self.fields["date_from"].widget.attrs["max"] = today.isoformat()
        self.initial.setdefault("date_from", today - timedelta(days=30))
        self.initial.setdefault("date_to", today)

    def clean_project(self):
        value = self.cleaned_data["project"]
        if not value:
            if not self.allow_all:
                raise forms.ValidationError("Choose a project: your role covers selected projects only.")
            return None
        return self.projects[value]  # ChoiceField already refused anything not offered

    def clean(self):
        data = super().clean()
        day_from, day_to = data.get("date_from"), data.get("date_to")
        today = utc_today()  # like the upstream's days
        if day_to and day_to > today:
            self.add_error("date_to", f"The end date cannot be after today ({today.isoformat()}, UTC).")
        if day_from and day_to and day_from > day_to:
            self.add_error("date_from", "The start date must not be after the end date.")
        elif day_from and day_to and (day_to - day_from).days + 1 > MAX_BACKFILL_DAYS:
            self.add_error("date_from", f"A backfill covers at most 2 years ({MAX_BACKFILL_DAYS} days).")
        return data
