from allauth.account.forms import SignupForm
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.forms import ActivateTOTPForm
from allauth.mfa.totp.internal.auth import TOTP
from allauth.mfa.webauthn.forms import AddWebAuthnForm, EditWebAuthnForm
from django import forms
from django.contrib.auth import password_validation
from django.db import transaction

from console.forms import Form, ModelForm, TextRules

from . import services
from .models import Organization, Role, SingleSignOn, User
from .permissions import MODULES
from .services import can_grant


class PasswordPairMixin:
    """Two password fields checked against each other and Django's password validators."""

    def clean_password2(self):
        first, second = self.cleaned_data.get("password1"), self.cleaned_data.get("password2")
        if first and second and first != second:
            raise forms.ValidationError("The two passwords do not match.")
        password_validation.validate_password(second, self.password_user())
        return second

    def password_user(self):
        return None


def password_fields():
    return (
        forms.CharField(
            label="Password",
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=password_validation.password_validators_help_text_html(),
        ),
        forms.CharField(label="Confirm password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})),
    )


class AddPasskeyForm(TextRules, AddWebAuthnForm):
    """allauth's form for a passkey or security key, ticked for signing in without a password by default
    (what people adding a "passkey" expect)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "passwordless" in self.fields:
            self.fields["passwordless"].initial = True
            self.fields["passwordless"].label = "Also sign in with this key alone (passkey)"


class RenamePasskeyForm(TextRules, EditWebAuthnForm):
    """allauth's form for renaming a key, with the console's text rules."""


class ActivateAuthenticatorAppForm(TextRules, ActivateTOTPForm):
    """allauth's form for an authenticator app, which spends the code that confirmed the app: otherwise it
    would also sign in once within its 30 seconds."""

    def clean_code(self) -> str:
        code = super().clean_code()
        # allauth's own record of spent codes (a private method; see accounts/tests/test_two_factor.py).
        TOTP(Authenticator(user_id=self.user.pk, type=Authenticator.Type.TOTP))._mark_code_used(code)
        return code


class SignUpForm(TextRules, SignupForm):
    """allauth's sign-up (email, password twice) with the person's name and their first organization."""

    name = forms.CharField(max_length=150, label="Your name")
    organization = forms.CharField(max_length=100, label="Organization name", help_text="Your company or team.")
    field_order = ["name", "email", "organization", "password1", "password2"]

    def save(self, request):
        # The account, its address and its organization are made together or not at all.
        with transaction.atomic():
            return super().save(request)

    def custom_signup(self, request, user) -> None:
        user.name = self.cleaned_data["name"]
        user.save(update_fields=["name"])
        services.create_organization(user, self.cleaned_data["organization"], request=request)


class AcceptInvitationForm(PasswordPairMixin, Form):
    name = forms.CharField(max_length=150, label="Your name")
    password1, password2 = password_fields()

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def password_user(self):
        return User(email=self.email, name=self.cleaned_data.get("name", ""))


class ProfileForm(ModelForm):
    class Meta:
        model = User
        fields = ["name"]
        labels = {"name": "Your name"}
        help_texts = {"name": "Shown to the other members of your organizations."}


class OrganizationForm(ModelForm):
    class Meta:
        model = Organization
        fields = ["name"]
        labels = {"name": "Organization name"}


class LeaveOrganizationForm(Form):
    organization = forms.IntegerField(widget=forms.HiddenInput)


class OrganizationSettingsForm(ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "require_two_factor"]
        labels = {"name": "Organization name"}


class SingleSignOnEntryForm(Form):
    email = forms.EmailField(
        label="Work email", help_text="We send you to your organization's identity provider to sign in."
    )


class GrantableRoleField(forms.ModelChoiceField):
    def label_from_instance(self, role):
        return role.name


def grantable_roles(actor):
    """The organization's roles that `actor` may hand out."""
    roles = Role.objects.filter(organization=actor.organization).prefetch_related("projects")
    return Role.objects.filter(pk__in=[role.pk for role in roles if can_grant(actor, role)])


class InviteForm(Form):
    email = forms.EmailField(help_text="The invitation link is valid for 7 days and works once.")
    role = GrantableRoleField(queryset=Role.objects.none(), empty_label=None)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = grantable_roles(actor)


class MemberRoleForm(Form):
    role = GrantableRoleField(queryset=Role.objects.none(), empty_label=None)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = grantable_roles(actor)


class RoleForm(Form):
    """A custom role: one radio group per module and a data scope, like the "Add Team" dialog."""

    name = forms.CharField(max_length=60)
    all_projects = forms.TypedChoiceField(
        label="Data scope",
        choices=[("1", "All projects"), ("0", "Selected projects")],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        initial="1",
    )
    projects = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text='Only used with the data scope "Selected projects".',
    )

    def __init__(self, *args, organization, role=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization, self.role = organization, role
        for module in MODULES:
            self.fields[f"level_{module.key}"] = forms.ChoiceField(
                label=module.label,
                choices=[(level, level.capitalize()) for level in module.levels],
                widget=forms.RadioSelect,
                initial="none",
                help_text=module.help,
            )
        # Reverse relation from projects.Project.roles: accounts does not import projects.
        self.fields["projects"].queryset = organization.projects.order_by("name")
        if role is not None:
            self.initial.update(name=role.name, all_projects="1" if role.all_projects else "0")
            self.initial["projects"] = list(role.projects.all())
            for module in MODULES:
                self.initial[f"level_{module.key}"] = role.level(module.key)

    def level_fields(self):
        return [self[f"level_{module.key}"] for module in MODULES]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = Role.objects.filter(organization=self.organization, name__iexact=name)
        if self.role is not None:
            clash = clash.exclude(pk=self.role.pk)
        if clash.exists():
            raise forms.ValidationError("A role with this name exists already.")
        return name

    def clean(self):
        data = super().clean()
        if data.get("all_projects") is False and not data.get("projects"):
            self.add_error("projects", 'Select at least one project, or choose "All projects".')
        return data

    def levels(self) -> dict[str, str]:
        return {module.key: self.cleaned_data[f"level_{module.key}"] for module in MODULES}


class SingleSignOnForm(Form):
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")
    issuer = forms.URLField(
        assume_scheme="https",
        label="Issuer URL",
        max_length=300,
        help_text="The identity provider's issuer, e.g. https://login.example.com/realms/acme. Its discovery "
        "document (/.well-known/openid-configuration) is read when you save.",
    )
    client_id = forms.CharField(label="Client ID", max_length=255)
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored secret.",
    )
    allowed_domains = forms.CharField(
        label="Allowed email domains",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, e.g. example.com. Only addresses the provider says it verified are accepted.",
    )
    joining = forms.ChoiceField(label="New people", choices=SingleSignOn.Joining.choices, widget=forms.RadioSelect)
    default_role = GrantableRoleField(
        queryset=Role.objects.none(),
        required=False,
        label="Default role",
        empty_label="None (new people need an invitation)",
        help_text="The role people from an allowed domain get when they first sign in without an invitation.",
    )
    required = forms.BooleanField(
        required=False,
        label="Require single sign-on",
        help_text="Members must sign in with this provider to open the organization. Admins keep a break-glass "
        "sign-in with their password and a second factor.",
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_role"].queryset = grantable_roles(actor)
