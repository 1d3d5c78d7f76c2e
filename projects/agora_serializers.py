"""Agora's Project object (reference section 3), defined once: the sandbox upstream's `/dev/v1/projects`
and the console's own Agora-compatible API (projects/agora_api.py) both answer with this serializer.

    {"id": str, "name": str, "vendor_key": str (App ID), "sign_key": str (primary certificate, "" when none),
     "recording_server": str | null, "status": 1 enabled | 0 disabled, "created": unix seconds}

`sign_key` is the enabled primary certificate's value only when the context says `show_sign_key`;
otherwise "" (the caller may not see certificates). Serialize projects with their certificates prefetched.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.api import Serializer

from .models import Project


class AgoraProjectSerializer(Serializer):
    id = serializers.CharField(source="project_id", max_length=16, help_text="The project ID the RESTful API takes.")
    name = serializers.CharField(max_length=255)
    vendor_key = serializers.CharField(source="app_id", max_length=32, help_text="The App ID.")
    sign_key = serializers.SerializerMethodField(
        help_text='The primary App Certificate; "" when it is off, or when the caller may not see certificates.'
    )
    recording_server = serializers.CharField(
        allow_null=True, max_length=64, help_text='"ip:port", or null when not set.'
    )
    status = serializers.SerializerMethodField(help_text="1 enabled, 0 disabled.")
    created = serializers.SerializerMethodField(help_text="When the project was created, in Unix seconds.")

    @extend_schema_field(serializers.CharField())
    def get_sign_key(self, project: Project) -> str:
        if not self.context.get("show_sign_key"):
            return ""
        primary = project.primary
        return primary.value if primary is not None and primary.enabled else ""

    @extend_schema_field(serializers.IntegerField(min_value=0, max_value=1))
    def get_status(self, project: Project) -> int:
        return 1 if project.enabled else 0

    @extend_schema_field(serializers.IntegerField())
    def get_created(self, project: Project) -> int:
        return int(project.created_at.timestamp())


def agora_project(project: Project, *, show_sign_key: bool) -> dict:
    return AgoraProjectSerializer(project, context={"show_sign_key": show_sign_key}).data


def agora_projects(projects, *, show_sign_key: bool) -> list[dict]:
    return AgoraProjectSerializer(projects, many=True, context={"show_sign_key": show_sign_key}).data
