"""Caching with invalidation by generation: a write bumps a named counter, which retires every cached
value of that name at once (in Redis for every process; with the local-memory cache, per process).

Reads on hot paths (the token API) use this for what each request would otherwise query: the member's
role and the project's token facts. A timeout bounds how stale anything can be if a bump is missed.
"""

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")

_MISSING = object()


def _generation_key(name: str) -> str:
    return f"generation:{name}"


def generation(name: str) -> int:
    return int(cache.get_or_set(_generation_key(name), 1, timeout=None) or 1)


def bump(name: str) -> None:
    try:
        cache.incr(_generation_key(name))
    except ValueError:  # not set yet (or evicted): any new value retires the old entries
        cache.set(_generation_key(name), 2, timeout=None)


def cached(name: str, key: str, compute: Callable[[], T], timeout: int = 60) -> T:
    """compute() once per generation of `name` and `key`, for at most `timeout` seconds. None is cached too."""
    full_key = f"{name}:{generation(name)}:{key}"
    value = cache.get(full_key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(full_key, value, timeout)
    return value
