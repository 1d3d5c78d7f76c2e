"""Traffic for the sandbox network: a plan of who joins which channel when, played on a Network.

`simulate(project, start=..., end=..., users=N)` plays the minutes from `start` to `end` (usually ending now):
meetings (communication profile, 2-8 users), live channels (a host or two and an audience, now and then a
cloud recorder, audience members invited on stage) and one-to-one calls. Along the way, as on a real network:
- about 3% of first joins come with a bad token (wrong certificate, expired, another project's, another
  channel's) and are refused; most of those users come back a few seconds later with a good one;
- some users join with uid 0 or a user account and get a UID from the network;
- now and then a user opens the app on a second device with the same UID, pushing the first one out;
- some users drop out and rejoin (a new session);
- about a quarter of the channels have users on a poor network, so their freeze rates pass Agora's
  thresholds;
- about a third of the channels are still going at `end`, their users online;
- users still online from an earlier run leave during this one (the network moved on).
Channel names in use or used since `start` are not reused, so runs never mix in one channel.
"""

import heapq
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.refusals import RuleViolation
from projects.models import Project

from . import ncs, sandbox_quality
from .models import SandboxCall, SandboxSession
from .sandbox_network import (
    BAD_TOKENS,
    LEAVE_NORMAL,
    LEAVE_TIMEOUT,
    PUBLISHERS,
    Client,
    Courier,
    DeliveryReport,
    Network,
    bad_token,
    random_client,
)

BAD_TOKEN_SHARE = 0.03
LIVE_AT_END_SHARE = 0.25
TROUBLED_SHARE = 0.25
_NAMES = {
    "meeting": ("standup", "design-review", "sales-sync", "all-hands", "interview", "retro"),
    "live": ("math-class", "live-show", "product-launch", "concert", "webinar", "music-lesson"),
    "one_to_one": ("support", "consult", "call", "doctor-visit"),
}
# kind: (users (min, max), minutes (min, max))
_KINDS = {"meeting": ((2, 8), (4, 45)), "live": ((4, 16), (10, 60)), "one_to_one": ((2, 2), (2, 20))}
DEFAULT_MIX = {"meeting": 45, "live": 30, "one_to_one": 25}
# The kinds of channel a project's use case makes common (weights); others get DEFAULT_MIX.
MIX_BY_USE_CASE: dict[str, dict[str, int]] = {
    Project.UseCase.EDUCATION: {"live": 60, "meeting": 30, "one_to_one": 10},
    Project.UseCase.ENTERTAINMENT: {"live": 70, "meeting": 20, "one_to_one": 10},
    Project.UseCase.LIVE_SHOPPING: {"live": 80, "meeting": 10, "one_to_one": 10},
    Project.UseCase.HEALTHCARE: {"one_to_one": 70, "meeting": 30},
    Project.UseCase.ENTERPRISE: {"meeting": 70, "one_to_one": 20, "live": 10},
}


@dataclass
class Person:
    """A simulated user: who, where, with what; `session` while it is in the channel."""

    channel: str
    user: int | str  # a UID, 0 to be given one, or a user account
    role: int
    client: Client
    seed: int
    bad_token: str = ""  # the kind of bad token of its first join, if any
    leaves_at: datetime | None = None
    session: SandboxSession | None = None


@dataclass
class TrafficReport:
    calls: int = 0  # opened during the run
    calls_ended: int = 0  # of those, ended by the end
    sessions: int = 0
    refused: int = 0
    conflicts: int = 0  # users pushed out by the same UID joining again
    rejoins: int = 0
    role_changes: int = 0
    earlier_left: int = 0  # users still online from an earlier run who left during this one
    online_channels: int = 0  # at the end, in the whole project
    online_users: int = 0
    notifications: int = 0  # events the network notified (whether or not anyone receives them)
    channels: list[str] = field(default_factory=list)


class Simulation:
    def __init__(self, network: Network, start: datetime, end: datetime, users: int, mix: dict | None = None):
        self.network = network
        self.mix = mix or MIX_BY_USE_CASE.get(network.project.use_case, DEFAULT_MIX)
        self.draw = network.draw
        self.start, self.end, self.users = start, end, users
        self.report = TrafficReport()
        self._queue: list = []
        self._order = itertools.count()
        self._taken = channels_in_use(network.project, start)
        self._troubled = 0

    # The plan -------------------------------------------------------------------------------------------

    def plan(self) -> None:
        self._leave_earlier_users()
        people = self.users
        channels = 0
        while people > 0:
            kind = self.draw.choices(list(self.mix), weights=list(self.mix.values()))[0]
            low, high = _KINDS[kind][0]
            size = min(people, self.draw.randint(low, high))
            if size < low and kind != "meeting":
                kind = "meeting"
            # the first channel is still going at the end, so that a run always leaves someone online
            live_at_end = channels == 0 or self.draw.random() < LIVE_AT_END_SHARE
            self._plan_channel(kind, size, live_at_end)
            people -= size
            channels += 1
        tokens_needed = not self.network.project.accepts_app_id_only
        firsts = [event for event in self._queue if event[2] == "join"]
        if tokens_needed and firsts:
            count = round(len(firsts) * BAD_TOKEN_SHARE) or (1 if len(firsts) >= 10 else 0)
            for event in self.draw.sample(firsts, count):
                event[3].bad_token = self.draw.choice(BAD_TOKENS)

    def _leave_earlier_users(self) -> None:
        span = (self.end - self.start).total_seconds()
        for session in self.network.online():
            last = max([session.joined_at] + [_at(ts) for ts, _, _ in session.role_changes])
            earliest = max(self.start, last + timedelta(seconds=1))
            at = earliest + timedelta(seconds=self.draw.uniform(0, max(0.0, span * 0.5)))
            person = Person(session.call.channel_name, session.uid, session.role, random_client(self.draw), 0)
            person.session = session
            self._push(min(at, self.end), "leave", person, "earlier")

    def _fresh_name(self, kind: str) -> str:
        while True:
            name = f"{self.draw.choice(_NAMES[kind])}-{self.draw.randint(100, 9999)}"
            if name not in self._taken:
                self._taken.add(name)
                self.report.channels.append(name)
                return name

    def _plan_channel(self, kind: str, size: int, live_at_end: bool) -> None:
        span = (self.end - self.start).total_seconds()
        low, high = (minutes * 60 for minutes in _KINDS[kind][1])
        length = min(self.draw.uniform(low, high), span)
        if live_at_end:
            begins = self.start + timedelta(seconds=self.draw.uniform(0, span * 0.9))
            ends = self.end + timedelta(minutes=self.draw.uniform(5, 60))
        else:
            begins = self.start + timedelta(seconds=self.draw.uniform(0, max(0.0, span - length)))
            ends = min(begins + timedelta(seconds=length), self.end - timedelta(seconds=1))
            if (ends - begins).total_seconds() < 30:
                begins, ends, live_at_end = begins, self.end + timedelta(minutes=10), True
        name = self._fresh_name(kind)
        people = self._cast(kind, name, size)
        self._plan_people(people, begins, ends)
        if kind == "live" and self.draw.random() < 0.15:
            recorder = Person(name, self._uid(), ncs.AUDIENCE, random_client(self.draw, recorder=True), self._seed())
            self._plan_stay(recorder, begins + timedelta(seconds=2), ends)
        if not live_at_end and (self.end - ends).total_seconds() > 15 * 60 and self.draw.random() < 0.2:
            self._plan_second_call(people, ends)

    def _plan_second_call(self, people: list[Person], after: datetime) -> None:
        """The same people meet again in the same channel: another call of that channel name."""
        begins = after + timedelta(minutes=self.draw.uniform(2, 10))
        ends = min(begins + timedelta(minutes=self.draw.uniform(3, 20)), self.end - timedelta(seconds=1))
        if (ends - begins).total_seconds() >= 60:
            again = [Person(p.channel, p.user, p.role, p.client, self._seed_like(p.seed)) for p in people]
            self._plan_people(again, begins, ends)

    def _cast(self, kind: str, channel: str, size: int) -> list[Person]:
        if kind == "live":
            hosts = 1 if size < 8 else self.draw.randint(1, 2)
            roles = [ncs.HOST] * hosts + [ncs.AUDIENCE] * (size - hosts)
        else:
            roles = [ncs.COMMUNICATION] * size
        people = [Person(channel, self._user(), role, random_client(self.draw), self._seed()) for role in roles]
        if not self._troubled or self.draw.random() < TROUBLED_SHARE:
            # a troubled channel (at least one a run): its host and some audience, or half its users, on a poor
            # network
            self._troubled += 1
            if kind == "live":
                troubled = [people[0], *self.draw.sample(people[1:], len(people[1:]) // 4)]
            else:
                troubled = self.draw.sample(people, max(1, (len(people) + 1) // 2))
            for person in troubled:
                person.seed = sandbox_quality.seed_with_profile(person.seed, sandbox_quality.POOR)
        return people

    def _plan_people(self, people: list[Person], begins: datetime, ends: datetime) -> None:
        length = (ends - begins).total_seconds()
        for index, person in enumerate(people):
            joins = begins if index == 0 else begins + timedelta(seconds=self.draw.uniform(1, max(2.0, length * 0.3)))
            if index and self.draw.random() < 0.3:  # some leave early
                leaves = joins + timedelta(seconds=self.draw.uniform(30, max(31.0, (ends - joins).total_seconds())))
            else:
                leaves = ends - timedelta(seconds=self.draw.uniform(0, min(20.0, length * 0.05)) if index else 0)
            self._plan_stay(person, joins, max(leaves, joins + timedelta(seconds=10)))
        explicit = [person for person in people if isinstance(person.user, int) and person.user]
        if len(people) >= 3 and explicit and self.draw.random() < 0.12:
            # the same user opens the app on a second device: same UID, the first one is pushed out
            first = self.draw.choice(explicit)
            twin = Person(first.channel, first.user, first.role, random_client(self.draw), self._seed())
            joins = begins + timedelta(seconds=self.draw.uniform(length * 0.4, length * 0.6))
            self._plan_stay(twin, joins, ends)

    def _plan_stay(self, person: Person, joins: datetime, leaves: datetime) -> None:
        person.leaves_at = leaves
        self._push(joins, "join", person)
        stay = (leaves - joins).total_seconds()
        if person.role != ncs.COMMUNICATION and person.client.platform != 6 and stay > 180:
            if self.draw.random() < 0.12:  # invited on stage, or stepping down
                at = joins + timedelta(seconds=self.draw.uniform(60, stay - 60))
                self._push(at, "role", person, ncs.AUDIENCE if person.role == ncs.HOST else ncs.HOST)
        if stay > 240 and self.draw.random() < 0.1:  # drops out, comes back as a new session
            drop = joins + timedelta(seconds=self.draw.uniform(60, stay - 120))
            self._push(drop, "leave", person, "dropped")
            self._push(drop + timedelta(seconds=self.draw.uniform(5, 60)), "rejoin", person)
        self._push(leaves, "leave", person)

    def _user(self) -> int | str:
        kind = self.draw.random()
        if kind < 0.15:
            return 0
        if kind < 0.25:
            return f"user-{self.draw.randint(1000, 99999)}"
        return self._uid()

    def _uid(self) -> int:
        return self.draw.randint(1000, 9_999_999)

    def _seed(self) -> int:
        return self.draw.getrandbits(62)

    def _seed_like(self, seed: int) -> int:
        """A new seed on the same kind of network (a user's next session)."""
        return sandbox_quality.seed_with_profile(self._seed(), sandbox_quality.profile_of(seed))

    def _push(self, at: datetime, action: str, person: Person, extra: object = None) -> None:
        heapq.heappush(self._queue, [at, next(self._order), action, person, extra])

    # Playing it -----------------------------------------------------------------------------------------

    def play(self) -> TrafficReport:
        while self._queue:
            at, _, action, person, extra = heapq.heappop(self._queue)
            if at > self.end:
                continue
            getattr(self, f"_{action}")(at, person, extra)
        self._count_online()
        self.report.conflicts = self.network.pushed_out
        self.report.calls = self.network.calls_opened
        return self.report

    def _join(self, at: datetime, person: Person, retry: object = None) -> None:
        network = self.network
        if person.bad_token and not retry:
            token = bad_token(network, person.bad_token, person.channel, person.user, at)
        else:
            token = network.issue_token(person.channel, person.user, at=at, publisher=person.role in PUBLISHERS)
        session = network.join(
            person.channel, person.user, token=token, role=person.role, client=person.client, at=at, seed=person.seed
        )
        if session is None:
            self.report.refused += 1
            retry_at = at + timedelta(seconds=self.draw.uniform(5, 20))
            if person.bad_token and not retry and person.leaves_at and retry_at < person.leaves_at:
                self._push(retry_at, "join", person, "retry")
            return
        person.session = session
        self.report.sessions += 1

    def _rejoin(self, at: datetime, person: Person, extra: object = None) -> None:
        if (
            person.session is not None
            and person.session.left_at is not None
            and person.session.leave_reason == LEAVE_TIMEOUT
        ):
            self.report.rejoins += 1
            person.seed = self._seed_like(person.seed)
            self._join(at, person, "rejoin")

    def _leave(self, at: datetime, person: Person, why: object = None) -> None:
        session = person.session
        if session is None:
            return
        session.refresh_from_db(fields=["left_at", "role", "role_changes", "client_seq"])
        if session.left_at is not None:
            return  # pushed out or kicked meanwhile
        self.network.leave(session, at, LEAVE_TIMEOUT if why == "dropped" else LEAVE_NORMAL)
        if why == "earlier":
            self.report.earlier_left += 1
        elif session.call.ended_at is not None:
            self.report.calls_ended += 1

    def _role(self, at: datetime, person: Person, role: object) -> None:
        session = person.session
        if session is None or not isinstance(role, int):
            return
        session.refresh_from_db(fields=["left_at", "role", "role_changes", "client_seq"])
        if session.left_at is None and session.role != role:
            self.network.change_role(session, role, at)
            self.report.role_changes += 1

    def _count_online(self) -> None:
        online = self.network.online()
        self.report.online_users = online.count()
        self.report.online_channels = online.values("call__channel_name").distinct().count()


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def channels_in_use(project: Project, since: datetime) -> set[str]:
    """Channel names with a call now, or one that ended after `since`: a run starting then must not use them."""
    calls = SandboxCall.objects.filter(project=project)
    in_use = calls.filter(ended_at__isnull=True) | calls.filter(ended_at__gte=since - timedelta(minutes=1))
    return set(in_use.values_list("channel_name", flat=True))


def simulate(
    project: Project,
    *,
    start: datetime,
    end: datetime,
    users: int,
    draw: random.Random | None = None,
    mix: dict | None = None,
) -> tuple[Network, TrafficReport]:
    """Play `users` users' traffic between `start` and `end` on the project's sandbox network, in channels of
    the kinds `mix` weighs (meeting, live, one_to_one; by default what the project's use case makes common).
    The network returned holds the notifications to deliver."""
    network = Network(project, draw=draw or random.Random())
    simulation = Simulation(network, start, end, users, mix)
    simulation.plan()
    report = simulation.play()
    report.notifications = len(network.notifications)
    return network, report


# A run: the simulation, then the deliveries ---------------------------------------------------------------

MAX_MINUTES = 24 * 60
MAX_USERS = 5000


def check_run(project: Project | None, minutes: object, users: object) -> Project:
    """The project and sizes of a run, or RuleViolation saying what is wrong."""
    if not settings.USAGE_SANDBOX:
        raise RuleViolation("The sandbox is off (USAGE_SANDBOX=false): it plays the network in development only.")
    if project is None:
        raise RuleViolation("No such project.", field="project")
    if project.is_archived or not project.enabled:
        raise RuleViolation(f"Project {project.project_id} is archived or disabled: the network refuses its users.")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
        raise RuleViolation(f"The minutes must be a whole number from 1 to {MAX_MINUTES}.", field="minutes")
    if isinstance(users, bool) or not isinstance(users, int) or not 1 <= users <= MAX_USERS:
        raise RuleViolation(f"The users must be a whole number from 1 to {MAX_USERS}.", field="users")
    return project


def run(
    project: Project,
    *,
    minutes: int,
    users: int,
    console_url: str,
    end: datetime | None = None,
    draw: random.Random | None = None,
    fault_rates: dict | None = None,
    mix: dict | None = None,
) -> tuple[TrafficReport, DeliveryReport | None]:
    """Simulate `minutes` of traffic ending at `end` (now), written in one transaction, then deliver its
    notifications to the console at `console_url`. The delivery report is None when the project's
    notifications are off (Agora sends nothing then)."""
    draw = draw or random.Random()
    end = end or timezone.now()
    with transaction.atomic():
        start = end - timedelta(minutes=minutes)
        network, report = simulate(project, start=start, end=end, users=users, draw=draw, mix=mix)
    courier = Courier.for_project(project, console_url, fault_rates=fault_rates, draw=draw)
    if courier is None:
        return report, None
    return report, courier.deliver(network.notifications)
