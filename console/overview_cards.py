"""The overview page's cards that other apps add. An app registers its card from its AppConfig.ready(), so the
console shows usage and billing figures without importing those apps (they build on the console, not the
other way round). Cards show after the console's own (members, projects), in the order of INSTALLED_APPS."""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class OverviewCard:
    name: str  # the template's context variable holding what `context` returns, e.g. "usage_card"
    template: str  # included in the overview's grid of cards
    module: str  # a role needs this module (at view level) to see the card
    context: Callable[[HttpRequest], dict]


_CARDS: dict[str, OverviewCard] = {}


def register(card: OverviewCard) -> None:
    """Add a card to the overview; registering a name again replaces that card where it stands."""
    _CARDS[card.name] = card


def visible_cards(membership) -> list[OverviewCard]:
    return [card for card in _CARDS.values() if membership.can(card.module)]
