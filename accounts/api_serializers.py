"""Shapes of the native API for members, roles and the audit log (read only). Nothing secret is in them: no
password hashes, no invitation or session tokens, no API credential hashes."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.api import ModelSerializer, Serializer

from . import audit
from .models import AuditEntry, Membership, Role
from .permissions import MODULES, full_levels

# One level per module, named by the module's key (built from the module list, so it never drifts).
LevelsSerializer = type(
    "RoleLevels",
    (Serializer,),
    {module.key: serializers.ChoiceField(choices=module.levels, help_text=module.help) for module in MODULES}
    | {"__module__": __name__},
)


class RoleRefSerializer(ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "name"]
        read_only_fields = fields


class MemberSerializer(ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)
    role = RoleRefSerializer(read_only=True)
    is_owner = serializers.BooleanField(read_only=True, help_text="The organization's owner.")
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "is_owner", "joined_at"]
        read_only_fields = fields


class RoleSerializer(ModelSerializer):
    builtin = serializers.BooleanField(source="is_builtin", read_only=True, help_text="Built-in roles never change.")
    levels = serializers.SerializerMethodField(help_text="Every module with this role's level in it.")
    projects = serializers.SlugRelatedField(
        slug_field="project_id",
        many=True,
        read_only=True,
        help_text="The project IDs members with this role see, when all_projects is false.",
    )

    class Meta:
        model = Role
        fields = ["id", "name", "description", "builtin", "builtin_key", "levels", "all_projects", "projects"]
        fields += ["created_at"]
        read_only_fields = fields

    @extend_schema_field(LevelsSerializer)
    def get_levels(self, role: Role) -> dict[str, str]:
        return full_levels(role.levels)


class AuditEntrySerializer(ModelSerializer):
    action_label = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "actor_email", "action", "action_label", "target", "ip_address"]
        fields += ["user_agent", "details"]
        read_only_fields = fields

    def get_action_label(self, entry: AuditEntry) -> str:
        return audit.ACTIONS.get(entry.action, entry.action)
