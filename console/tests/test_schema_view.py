"""The schema view builds one schema at a time per process (drf-spectacular's lazy extension loading is not
thread-safe: gunicorn's gthread workers got a 500 from two first requests at once)."""

import threading
import time

from django.test import RequestFactory
from drf_spectacular.views import SpectacularAPIView
from rest_framework.response import Response

from console.api_urls import SchemaView


def test_two_requests_at_once_build_the_schema_one_after_the_other(monkeypatch):
    inside, most = 0, 0
    counting = threading.Lock()

    def slow_build(self, request, *args, **kwargs):
        nonlocal inside, most
        with counting:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        with counting:
            inside -= 1
        return Response({})

    monkeypatch.setattr(SpectacularAPIView, "get", slow_build)
    view = SchemaView.as_view()
    threads = [threading.Thread(target=view, args=(RequestFactory().get("/api/schema/"),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
