"""The API rate limit: API_RATE_LIMIT_PER_SECOND requests per second per organization per endpoint, then
429 with Retry-After. Counted in the cache (Redis in production, so shared by every process; local memory
otherwise), in whole-second windows."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from accounts.audit import client_ip


class OrganizationEndpointThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        limit = settings.API_RATE_LIMIT_PER_SECOND
        if not limit:
            return True
        now = time.time()
        second = int(now)
        key = f"rate:{self.caller(request)}:{self.endpoint(request, view)}:{second}"
        cache.add(key, 0, timeout=2)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=2)
            count = 1
        self.retry_after = second + 1 - now
        return count <= limit

    def wait(self) -> float:
        return self.retry_after

    def caller(self, request) -> str:
        membership = getattr(request, "membership", None)
        return f"org{membership.organization_id}" if membership is not None else f"ip{client_ip(request)}"

    @staticmethod
    def endpoint(request, view) -> str:
        match = getattr(request, "resolver_match", None)
        return f"{request.method}:{match.view_name if match else type(view).__name__}"
