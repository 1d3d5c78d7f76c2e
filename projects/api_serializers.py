"""Shapes of the native API for projects and their certificates. A certificate's value appears only in the
answer of an explicit reveal."""

from rest_framework import serializers

from console.api import ModelSerializer, Serializer

from .models import Certificate, Project

MAX_VERSION = 2**31 - 1


class ProjectSerializer(ModelSerializer):
    archived = serializers.BooleanField(source="is_archived", read_only=True)

    class Meta:
        model = Project
        fields = [
            "project_id",
            "name",
            "app_id",
            "use_case",
            "region",
            "stage",
            "mechanism",
            "enabled",
            "archived",
            "archived_at",
            "certificates_version",
            "last_rotation_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProjectCreateSerializer(Serializer):
    name = serializers.CharField(max_length=255, help_text="1 to 255 characters, unique in the organization.")
    use_case = serializers.ChoiceField(choices=Project.UseCase.choices, default=Project.UseCase.OTHER)
    region = serializers.ChoiceField(choices=Project.Region.choices, default=Project.Region.GLOBAL)
    mechanism = serializers.ChoiceField(
        choices=Project.Mechanism.choices,
        default=Project.Mechanism.SECURED,
        help_text="secured: clients need a token (the project gets a primary certificate); app_id: App ID only.",
    )
    stage = serializers.ChoiceField(choices=Project.Stage.choices, default=Project.Stage.NOT_SPECIFIED)


class ProjectUpdateSerializer(Serializer):
    """Only the fields given change."""

    name = serializers.CharField(max_length=255, required=False)
    use_case = serializers.ChoiceField(choices=Project.UseCase.choices, required=False)
    region = serializers.ChoiceField(choices=Project.Region.choices, required=False)
    stage = serializers.ChoiceField(choices=Project.Stage.choices, required=False)


class CertificateSerializer(ModelSerializer):
    created_at = serializers.DateTimeField(source="value_created_at", read_only=True)
    retired_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Set on the old primary after a swap, while it is retired."
    )

    class Meta:
        model = Certificate
        fields = ["slot", "enabled", "fingerprint", "created_at", "retired_at", "updated_at"]
        read_only_fields = fields


class CertificatesSerializer(ModelSerializer):
    """Both slots of a project; a slot without a certificate is null."""

    primary = CertificateSerializer(read_only=True, allow_null=True)
    secondary = CertificateSerializer(read_only=True, allow_null=True)
    certificates_version = serializers.IntegerField(
        read_only=True, help_text="Send it back as expected_version to have an operation refused (409) if it moved."
    )

    class Meta:
        model = Project
        fields = ["project_id", "mechanism", "certificates_version", "last_rotation_at", "primary", "secondary"]
        read_only_fields = fields


class RevealedCertificateSerializer(Serializer):
    slot = serializers.ChoiceField(choices=Certificate.Slot.choices)
    fingerprint = serializers.CharField(max_length=8)
    value = serializers.CharField(max_length=32, help_text="The App Certificate. Keep it on your token servers only.")


class CertificateOperationSerializer(Serializer):
    expected_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_VERSION,
        help_text="The certificates_version you last read. When the certificates changed since, nothing is done "
        "and the answer is 409. Omit it to act on the current state.",
    )
