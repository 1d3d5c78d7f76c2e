from django import forms

from console.forms import Form, ModelForm

from .models import Project


class ProjectForm(ModelForm):
    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a project name.")
        return name


class ProjectCreateForm(ProjectForm):
    class Meta:
        model = Project
        fields = ["name", "use_case", "region", "mechanism"]
        widgets = {"mechanism": forms.RadioSelect}
        labels = {"mechanism": "Authentication mechanism", "region": "Data center"}
        help_texts = {
            "name": "1 to 255 characters, unique in your organization.",
            "mechanism": "Recommended: Secured. Clients then need a token signed with the App Certificate to join. "
            "App ID only lets anyone who knows the App ID join: use it for quick tests only.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mechanism"].choices = [
            (Project.Mechanism.SECURED, "Secured: App ID + Token (recommended)"),
            (Project.Mechanism.APP_ID, "App ID only (testing)"),
        ]
        self.initial.setdefault("mechanism", Project.Mechanism.SECURED)


class ProjectEditForm(ProjectForm):
    class Meta:
        model = Project
        fields = ["name", "use_case", "region", "stage"]
        labels = {"region": "Data center"}
        help_texts = {"stage": "Testing or Live, for your own overview; it changes nothing for clients."}


class CertificateActionForm(Form):
    """Carries the certificates version the page showed (the password, when asked, is the confirmation's)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
