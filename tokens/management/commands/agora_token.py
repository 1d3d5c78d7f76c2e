"""`manage.py agora_token`: build and inspect AccessToken2 tokens from the command line.

    agora_token build rtc|rtm|rtm2|chat-app|chat-user|rtc-rtm ...   prints the token alone on one line
    agora_token inspect TOKEN [--app-certificate C | --project ID]   prints the parsed token as JSON

Credentials come either from `--app-id` and `--app-certificate` (offline, nothing stored is touched) or
from `--project ID`, a stored project's short id: its App ID and primary certificate, after the same check
as the console and the API (projects.services.check_can_issue_tokens); like theirs, the token is counted
against the certificate that signed it (projects.certificate_use), for the rotation page.

Expiries are seconds after the issue time, from 1 to 4,294,967,295 (the largest the token format holds):
unlike the console's temp tokens (at most 24 hours), this is a tool for operators and offline use.
`--issue-ts` and `--salt` fix the issue time and the salt, which makes the output reproducible.

Exit status: 0 on success. Bad input, an unknown project or a project that may not issue tokens: a message
on stderr and status 1 (CommandError), nothing on stdout. `inspect`: status 1, with the message on stderr,
for a token that cannot be parsed (nothing on stdout) or, when a certificate is known, that it does not
verify (the JSON is still printed on stdout). An expired token whose signature verifies exits 0: see
"expired" in the JSON.
"""

import argparse
import json
import sys
import textwrap

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from console.refusals import RuleViolation
from projects.models import Certificate, Project
from tokens import accesstoken2 as at2
from tokens import services

MAX_EXPIRE = at2.MAX_U32

BUILD_KINDS = ("rtc", "rtm", "rtm2", "chat-app", "chat-user", "rtc-rtm")
RTC_RTM_EXPIRES = {
    "join_expire": "join the channel",
    "publish_audio_expire": "publish audio",
    "publish_video_expire": "publish video",
    "publish_data_expire": "publish data streams",
}

COMMAND_EXAMPLES = """\
examples:
  manage.py agora_token build rtc --project 7sdnf3xRH --channel demo --uid 42 --role publisher --expire 3600
  manage.py agora_token build rtm --app-id APP_ID --app-certificate CERT --user-id alice --expire 3600
  manage.py agora_token inspect 007eJxTY... --project 7sdnf3xRH

Run "manage.py agora_token build --help", "... build rtc --help" or "... inspect --help" for details.
"""

BUILD_DESCRIPTION = """\
Build a token and print it alone on one line.

Every kind takes the credentials as --app-id and --app-certificate (32 hex characters each), or as
--project ID (a stored project: its App ID and primary certificate). The token is printed alone on one
line, so it can be captured: TOKEN=$(manage.py agora_token build ...).
"""

BUILD_EXAMPLES = """\
examples:
  manage.py agora_token build rtc --project 7sdnf3xRH --channel demo --uid 42 --role publisher --expire 3600
  manage.py agora_token build rtm --project 7sdnf3xRH --user-id alice --expire 3600
  manage.py agora_token build chat-app --project 7sdnf3xRH --expire 600
"""

CREDENTIALS_AND_WHEN = """\
Credentials: --app-id and --app-certificate, or --project ID (a stored project's App ID and primary
certificate; refused when the project is disabled or archived, its organization is suspended or it has no
enabled primary certificate).

Expiries are seconds after the issue time, 1 to 4,294,967,295 (privilege expiries also 0: no separate
limit). --issue-ts (Unix seconds, default now) and
--salt (default random 1..99,999,999) make the output reproducible.
"""

KIND_HELP = {
    "rtc": (
        "RTC token for one channel and a uid or a user account.",
        "A publisher may join the channel and publish audio, video and data streams; a subscriber may only "
        "join. Each privilege lasts --privilege-expire seconds (default 0, as Agora's builders: no separate "
        "limit, the token's expiry governs); the token as a whole lasts --expire seconds. --uid 0 lets any uid "
        "use the token.",
        [
            "build rtc --app-id APP_ID --app-certificate CERT --channel demo --uid 42 --role publisher --expire 3600",
            "build rtc --project 7sdnf3xRH --channel demo --account alice --role subscriber --expire 600",
            "build rtc --app-id APP_ID --app-certificate CERT --channel demo --uid 42 --role subscriber "
            "--expire 600 --issue-ts 1111111 --salt 1",
        ],
    ),
    "rtm": (
        "RTM (Signaling) token for a user id.",
        "The user may log in to RTM for --expire seconds.",
        ["build rtm --project 7sdnf3xRH --user-id alice --expire 3600"],
    ),
    "rtm2": (
        "RTM token with permissions (service 8) for a user id.",
        "The user may log in for --expire seconds and read or write the resources named by --permission "
        "(repeatable): RESOURCE:PERMISSION:NAME[,NAME...], where RESOURCE is message_channels, "
        "stream_channels, group_channels, server_groups or users, PERMISSION is read or write, and * names "
        "every resource of that type.",
        [
            "build rtm2 --project 7sdnf3xRH --user-id alice --expire 3600 "
            "--permission message_channels:read:lobby,news --permission message_channels:write:lobby",
        ],
    ),
    "chat-app": (
        "Chat app token (for your app server's calls to the Chat REST API).",
        "Grants the Chat app privilege for --expire seconds.",
        ["build chat-app --project 7sdnf3xRH --expire 600"],
    ),
    "chat-user": (
        "Chat user token for a user id.",
        "Grants the Chat user privilege to --user-id for --expire seconds.",
        ["build chat-user --project 7sdnf3xRH --user-id alice --expire 3600"],
    ),
    "rtc-rtm": (
        "One token for RTC (channel, user account, role) and RTM login.",
        'The RTC part is as for "build rtc" with a user account; the RTM part lets --rtm-user-id (default: '
        "the account) log in for --rtm-expire seconds (default: --expire). --join-expire, "
        "--publish-audio-expire, --publish-video-expire and --publish-data-expire give each RTC privilege its "
        "own expiry (default: --privilege-expire), as Agora's build_token_with_rtm2.",
        [
            "build rtc-rtm --project 7sdnf3xRH --channel demo --account alice --role publisher --expire 3600",
            "build rtc-rtm --project 7sdnf3xRH --channel demo --account alice --role publisher --expire 3600 "
            "--rtm-user-id alice-rtm",
            "build rtc-rtm --project 7sdnf3xRH --channel demo --account alice --role publisher --expire 3600 "
            "--publish-video-expire 600 --rtm-expire 1800",
        ],
    ),
}

INSPECT_DESCRIPTION = """\
Print a token's contents as JSON: version, App ID, issue time, expiry, salt and services with their
privileges (for a legacy 006 token: App ID, salt, expiry time and privileges), plus "expired".

With --app-certificate, or --project (verified against the project's primary and secondary
certificates), the JSON also has "signature_valid"; with --project also "signed_by" ("primary",
"secondary" or null) and "signer_enabled".

Exit status: 0 when the token was read and, if a certificate is given, verifies with it (with --project:
with an enabled certificate). 1 when the token cannot be read (message on stderr, nothing on stdout) or
does not verify (JSON on stdout, message on stderr). Legacy 006 tokens cannot be verified (their signature
covers the channel and uid, which they do not carry): with a certificate they exit 1. An expired token
that verifies exits 0 with "expired": true. TOKEN "-" reads the token from stdin (keeps it out of the
shell history).

examples:
  manage.py agora_token inspect 007eJxTY...
  manage.py agora_token inspect 007eJxTY... --app-certificate 5CFd2fd1755d40ecb72977518be15d3b
  manage.py agora_token inspect - --project 7sdnf3xRH < token.txt
"""


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's formatter (its own options last), keeping the line breaks of descriptions and examples."""


def _number(value: str, what: str, low: int, high: int) -> int:
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise at2.TokenError(f"{what} must be a whole number from {low:,} to {high:,}.")
    return int(text)


def _permissions(given: list[str]) -> dict:
    """--permission RESOURCE:PERMISSION:NAME[,NAME...] options as the RTM2 permissions they add up to."""
    permissions: dict = {}
    for text in given:
        resource, _, rest = text.strip().partition(":")
        permission, _, names = rest.partition(":")
        if not (resource and permission and names):
            raise at2.TokenError(f"--permission {text!r}: write RESOURCE:read|write:NAME[,NAME...].")
        permissions.setdefault(resource, {}).setdefault(permission, []).extend(names.split(","))
    return permissions


class Command(BaseCommand):
    help = (
        "Build AccessToken2 (007) tokens for RTC, RTM, RTM with permissions, RTC + RTM and Chat, or inspect any\n"
        "token (007 or legacy 006) and verify it with an App Certificate or a stored project's certificates."
    )
    requires_system_checks = []  # also works offline, without touching the database (with --app-id)

    # Arguments --------------------------------------------------------------------------------------

    def add_arguments(self, parser):
        parser.formatter_class = HelpFormatter
        parser.epilog = COMMAND_EXAMPLES
        actions = parser.add_subparsers(dest="action", metavar="build|inspect", required=True)

        build = actions.add_parser(
            "build",
            help="Build a token and print it alone on one line.",
            description=BUILD_DESCRIPTION,
            epilog=BUILD_EXAMPLES,
            formatter_class=HelpFormatter,
        )
        kinds = build.add_subparsers(dest="kind", metavar="|".join(BUILD_KINDS), required=True)
        for kind in BUILD_KINDS:
            summary, details, examples = KIND_HELP[kind]
            shown = "\n".join(f"  manage.py agora_token {example}" for example in examples)
            sub = kinds.add_parser(
                kind,
                help=summary,
                description=f"{textwrap.fill(f'{summary} {details}', 105)}\n\n{CREDENTIALS_AND_WHEN}",
                epilog=f"examples:\n{shown}",
                formatter_class=HelpFormatter,
            )
            self._add_build_arguments(sub, kind)

        inspect = actions.add_parser(
            "inspect",
            help="Print a token's contents as JSON and verify it.",
            description=INSPECT_DESCRIPTION,
            formatter_class=HelpFormatter,
        )
        inspect.add_argument("token", metavar="TOKEN", help='The token (007 or 006), or "-" to read it from stdin.')
        source = inspect.add_mutually_exclusive_group()
        source.add_argument("--app-certificate", metavar="CERT", help="Verify with this App Certificate.")
        source.add_argument(
            "--project", metavar="ID", help="Verify with this stored project's primary and secondary certificates."
        )

    @staticmethod
    def _add_build_arguments(parser, kind: str) -> None:
        credentials = parser.add_argument_group("credentials (either --app-id and --app-certificate, or --project)")
        credentials.add_argument("--app-id", metavar="APP_ID", help="The App ID (32 hex characters).")
        credentials.add_argument("--app-certificate", metavar="CERT", help="The App Certificate (32 hex characters).")
        credentials.add_argument(
            "--project",
            metavar="ID",
            help="A stored project's short id: signs with its App ID and primary certificate.",
        )

        token = parser.add_argument_group("token")
        if kind in ("rtc", "rtc-rtm"):
            token.add_argument(
                "--channel", required=True, metavar="NAME", help="Channel name: under 64 bytes, Agora's character set."
            )
        if kind == "rtc":
            who = token.add_mutually_exclusive_group(required=True)
            who.add_argument("--uid", metavar="N", help="Integer uid, 0 to 4294967295 (0 = any uid).")
            who.add_argument("--account", metavar="ACCOUNT", help="User account (string uid), 1 to 255 bytes.")
        if kind == "rtc-rtm":
            token.add_argument("--account", required=True, metavar="ACCOUNT", help="User account, 1 to 255 bytes.")
        if kind in ("rtc", "rtc-rtm"):
            token.add_argument(
                "--role", required=True, metavar="publisher|subscriber", help="Publisher or subscriber (or 1 or 2)."
            )
        if kind in ("rtm", "rtm2", "chat-user"):
            token.add_argument(
                "--user-id", required=True, metavar="USER", help="User id: 1 to 64 printable ASCII bytes."
            )
        token.add_argument(
            "--expire",
            required=True,
            metavar="SECONDS",
            help=f"Seconds from the issue time until the token expires, 1 to {MAX_EXPIRE:,}.",
        )
        if kind in ("rtc", "rtc-rtm"):
            token.add_argument(
                "--privilege-expire",
                metavar="SECONDS",
                help="Seconds from the issue time until the RTC privileges expire; 0 (the default): no separate "
                "limit, the token's expiry governs.",
            )
        if kind == "rtc-rtm":
            token.add_argument(
                "--rtm-user-id", metavar="USER", help="RTM user id, if not the account (1 to 64 printable ASCII bytes)."
            )
            for name, privilege in RTC_RTM_EXPIRES.items():
                token.add_argument(
                    f"--{name.replace('_', '-')}",
                    metavar="SECONDS",
                    help=f"Seconds the privilege to {privilege} lasts (default: --privilege-expire; 0 = no limit).",
                )
            token.add_argument(
                "--rtm-expire", metavar="SECONDS", help="Seconds the RTM login lasts (default: --expire; 0 = no limit)."
            )
        if kind == "rtm2":
            token.add_argument(
                "--permission",
                action="append",
                required=True,
                metavar="RESOURCE:read|write:NAME[,NAME...]",
                help="A permission (repeatable), e.g. message_channels:read:lobby,news or users:read:*.",
            )

        when = parser.add_argument_group("reproducible output")
        when.add_argument("--issue-ts", metavar="UNIX", help="Issue time in Unix seconds (default: now).")
        when.add_argument("--salt", metavar="N", help=f"Salt, 0 to {at2.MAX_U32} (default: random 1 to 99,999,999).")

    # Running ----------------------------------------------------------------------------------------

    def handle(self, *args, action, **options):
        try:
            if action == "build":
                self.stdout.write(self.build(options))
            else:
                self.inspect(options)
        except (at2.TokenError, RuleViolation) as error:
            raise CommandError(str(error)) from error

    @staticmethod
    def _project(project_id: str) -> Project:
        try:
            return (
                Project.objects.select_related("organization")
                .prefetch_related("certificates")
                .get(project_id=project_id.strip())
            )
        except Project.DoesNotExist:
            raise CommandError(f"No project with the id {project_id!r}.") from None

    @staticmethod
    def _credentials(options) -> tuple[str, str]:
        app_id, certificate = options["app_id"], options["app_certificate"]
        if app_id is None or certificate is None:
            raise CommandError("Give --app-id and --app-certificate, or --project ID.")
        app_id = at2.check_hex32(app_id.strip(), "The App ID")
        return app_id, at2.check_hex32(certificate.strip(), "The App Certificate")

    def build(self, options) -> str:
        when = {}
        if options["issue_ts"] is not None:
            when["issue_ts"] = _number(options["issue_ts"], "The issue time", 0, at2.MAX_U32)
        if options["salt"] is not None:
            when["salt"] = _number(options["salt"], "The salt", 0, at2.MAX_U32)
        names = ("channel", "uid", "account", "role", "user_id", "expire", "privilege_expire", "rtm_user_id")
        params = {name: options.get(name) for name in names}
        params |= {name: options[name] for name in (*RTC_RTM_EXPIRES, "rtm_expire") if options.get(name) is not None}
        if options.get("permission"):
            params["permissions"] = _permissions(options["permission"])
        if params["role"] is not None:
            params["role"] = params["role"].strip().lower()
        kind = options["kind"].replace("-", "_")
        if options["project"] is None:
            app_id, certificate = self._credentials(options)
            return services.build_with_credentials(
                app_id, certificate, kind, params, max_expire=MAX_EXPIRE, **when
            ).token
        if options["app_id"] is not None or options["app_certificate"] is not None:
            raise CommandError("Give either --project, or --app-id and --app-certificate, not both.")
        # A stored project's token: checked and counted against its certificate like the console's own.
        project = self._project(options["project"])
        return services.build_token(project, kind, params, max_expire=MAX_EXPIRE, **when).token

    def inspect(self, options) -> None:
        text = sys.stdin.read() if options["token"] == "-" else options["token"]
        text = text.strip()
        parsed = at2.parse_legacy(text) if text.startswith(at2.LEGACY_VERSION) else at2.parse(text)
        legacy = isinstance(parsed, at2.LegacyToken)
        result = parsed.as_dict()
        result["expired"] = parsed.is_expired()
        problem = None

        if options["app_certificate"] is not None:
            certificate = at2.check_hex32(options["app_certificate"].strip(), "The App Certificate")
            if legacy:
                result["signature_valid"] = None
                problem = self._legacy_problem()
            else:
                result["signature_valid"] = parsed.verify(certificate)
                if not result["signature_valid"]:
                    problem = "The token does not verify with this App Certificate."
        elif options["project"] is not None:
            project = self._project(options["project"])
            signer = None
            if not legacy:
                slots = (Certificate.Slot.PRIMARY, Certificate.Slot.SECONDARY)
                signer = next((c for s in slots if (c := project.certificate(s)) and parsed.verify(c.value)), None)
            result["signature_valid"] = None if legacy else signer is not None
            result["signed_by"] = signer.slot if signer else None
            result["signer_enabled"] = signer.enabled if signer else None
            if legacy:
                problem = self._legacy_problem()
            elif signer is None:
                problem = f"The token does not verify with the certificates of project {project.project_id}."
                if parsed.app_id.lower() != project.app_id.lower():
                    problem += f" It is for App ID {parsed.app_id}, not this project's {project.app_id}."
            elif not signer.enabled:
                problem = (
                    f"The token is signed with the {signer.slot} certificate of project {project.project_id}, "
                    "which is disabled: Agora rejects it."
                )

        self.stdout.write(json.dumps(result, indent=2))
        if problem:
            raise CommandError(problem, returncode=1)

    @staticmethod
    def _legacy_problem() -> str:
        return (
            "A legacy 006 token cannot be verified here: its signature covers the channel name and uid, "
            "which the token does not carry."
        )
