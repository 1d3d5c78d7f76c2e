"""Audit entries say which project they are about, so a member who sees selected projects only reads the entries
about those (security finding 8 of issue 11). The older entries are marked by the next migration."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_bounded_text"),
        ("projects", "0002_project_recording_server"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="about_project",
            field=models.BooleanField(
                default=False,
                help_text="About a project (kept when the project is deleted); false for organization-level.",
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="project",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="audit_entries",
                to="projects.project",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("project__isnull", True), ("about_project", True), _connector="OR"),
                name="auditentry_project_is_about_project",
            ),
        ),
    ]
