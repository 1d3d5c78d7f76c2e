"""`manage.py create_api_credential --org SLUG`: add a Customer ID / Customer Secret pair and print it.

Prints exactly `<customer_id> <customer_secret>` on one line, so a script can capture both:
    read CUSTOMER_ID CUSTOMER_SECRET < <(python manage.py create_api_credential --org acme)
The secret is printed once and stored only as a keyed hash, like a pair added on the RESTful API page.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.api_credentials import MAX_ACTIVE, create_credential
from accounts.models import ApiCredential, Membership, Organization
from console.refusals import RuleViolation


class Command(BaseCommand):
    help = (
        "Add an API credential (Customer ID / Customer Secret) to an organization and print "
        "'<customer_id> <customer_secret>' on one line. The pair acts as a member, with that member's role "
        f"(default: the organization's owner). At most {MAX_ACTIVE} pairs per organization. The secret is "
        "shown only this once.\nExample: manage.py create_api_credential --org acme --name 'usage export'"
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, metavar="SLUG", help="The organization's slug.")
        parser.add_argument(
            "--member", metavar="EMAIL", help="The member the pair acts for (default: the organization's owner)."
        )
        parser.add_argument("--name", default="", help="What the pair is for, shown on the RESTful API page.")

    def handle(self, *args, org, member, name, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {org!r}.")
        membership = self._membership(organization, member)
        limit = ApiCredential._meta.get_field("name").max_length
        if len(name.strip()) > limit:
            raise CommandError(f"The name can have at most {limit} characters.")
        try:
            created = create_credential(membership, name)
        except RuleViolation as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{created.credential.customer_id} {created.secret}")

    def _membership(self, organization: Organization, email: str | None) -> Membership:
        memberships = Membership.objects.filter(organization=organization).select_related("user", "role")
        if email:
            found = memberships.filter(user__email__iexact=email.strip()).first()
            if found is None:
                raise CommandError(f"{email} is not a member of {organization.name} ({organization.slug}).")
        else:
            found = memberships.filter(user_id=organization.owner_id).first()
            if found is None:
                raise CommandError(f"The owner of {organization.slug} is not a member: pass --member EMAIL.")
        if not found.user.is_active:
            raise CommandError(f"{found.user.email}'s account is deactivated: its pairs would not work.")
        return found
