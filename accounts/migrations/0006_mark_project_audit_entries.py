"""Mark the audit entries written before 0005 that are about a project (security finding 8 of issue 11).

A migration of its own: PostgreSQL refuses to create 0005's index and foreign key in a transaction that has
already written rows of the table.
"""

from collections import defaultdict

from django.db import migrations
from django.db.models import Q

# What was written about a project before this migration, as accounts.audit.record tells it now (a copy: a
# migration must not change when the code does).
PROJECT_ACTION_PREFIXES = ("project.", "certificate.", "token.")
PROJECT_ACTIONS = ["usage.mapping_changed", "role.scope_widened"]


def mark_project_entries(apps, schema_editor):
    """Mark the older entries about a project, and link the project when the entry holds its project ID.

    Entries that name their project only by name (a certificate reveal, a rename) stay unlinked: names change
    and come back, so a name cannot prove which project was meant. Such an entry is shown to members who see
    every project only; a member limited to selected projects must not read it on a guess.
    """
    AuditEntry = apps.get_model("accounts", "AuditEntry")
    Project = apps.get_model("projects", "Project")
    # _base_manager: the model's own manager refuses updates (the log is append-only). Filling in the columns
    # this migration adds changes no recorded fact.
    entries = AuditEntry._base_manager.all()
    about_a_project = (
        Q(action__in=PROJECT_ACTIONS)
        | Q(details__has_key="project_id")
        | (Q(action="usage.backfill_started") & ~Q(target="All enabled projects"))
    )
    for prefix in PROJECT_ACTION_PREFIXES:
        about_a_project |= Q(action__startswith=prefix)
    entries.filter(about_a_project, about_project=False).update(about_project=True)

    with_id = entries.filter(project__isnull=True, details__has_key="project_id")
    rows = list(with_id.values_list("pk", "organization_id", "details"))
    known = Project.objects.filter(project_id__in={str(details["project_id"]) for _, _, details in rows})
    projects = {(p.organization_id, p.project_id): p.pk for p in known.only("pk", "organization_id", "project_id")}
    entries_of = defaultdict(list)
    for pk, organization_id, details in rows:
        project = projects.get((organization_id, str(details["project_id"])))
        if project is not None:
            entries_of[project].append(pk)
    for project, pks in entries_of.items():
        entries.filter(pk__in=pks).update(project=project)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_auditentry_project"),
        ("projects", "0002_project_recording_server"),
    ]

    operations = [migrations.RunPython(mark_project_entries, migrations.RunPython.noop)]
