"""Every function view of the console declares the HTTP methods it answers, one way: Django's
require_http_methods decorator (require_GET, require_POST and require_safe are made with it), placed on the
view under its access decorator. A page is GET (and HEAD), a form or a confirmation GET and POST, an action
POST; PUT, PATCH and DELETE are the API's (its class-based views declare their own)."""

from django.urls import URLPattern, URLResolver, get_resolver
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import member_required

CONSOLE_APPS = {"accounts", "billing", "console", "projects", "tokens", "usage"}
PAGE_METHODS = {"GET", "HEAD", "POST"}
# Views that answer 404 to every method, so there is nothing to allow: allauth's pages the console does not
# offer, and what no API path matched.
NOTHING_HERE = {"accounts.views.not_offered", "console.views.api_not_found", "console.api_urls.no_such_endpoint"}
# The code Django's require_http_methods wraps every view in; the methods are in its closure.
DECLARATION = require_http_methods([])(lambda request: None).__code__


def declared_methods(view) -> list[str] | None:
    """The methods require_http_methods declares on `view`, or on a view it wraps (functools.wraps leaves the
    chain in __wrapped__); None when nothing declares them."""
    while view is not None:
        if getattr(view, "__code__", None) is DECLARATION:
            cells = dict(zip(view.__code__.co_freevars, view.__closure__, strict=True))
            return list(cells["request_method_list"].cell_contents)
        view = getattr(view, "__wrapped__", None)
    return None


def function_views(resolver=None, prefix=""):
    """(route, view) for every URL routed to a function view of the console (not the Django admin's)."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name != "admin":
                yield from function_views(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view = entry.callback
            class_based = hasattr(view, "view_class") or hasattr(view, "cls")  # Django's and DRF's as_view()
            if view.__module__.split(".")[0] in CONSOLE_APPS and not class_based:
                yield prefix + str(entry.pattern), view


def test_every_function_view_declares_its_methods():
    views = list(function_views())
    assert len(views) > 50  # the walk found the console's pages
    undeclared = []
    for route, view in views:
        name = f"{view.__module__}.{view.__name__}"
        methods = declared_methods(view)
        if name in NOTHING_HERE:
            assert methods is None, f"{route} ({name}) declares methods: take it out of NOTHING_HERE"
        elif methods is None:
            undeclared.append(f"{route} ({name})")
        else:
            assert set(methods) <= PAGE_METHODS, f"{route} ({name}) declares {methods}"
    assert not undeclared, "Declare the methods (require_safe, require_POST, require_http_methods):\n" + "\n".join(
        undeclared
    )


def test_the_declaration_is_found_under_the_access_decorator():
    def page(request):
        return None

    assert declared_methods(page) is None
    assert declared_methods(require_safe(page)) == ["GET", "HEAD"]
    assert declared_methods(member_required("members")(require_POST(page))) == ["POST"]
    assert declared_methods(member_required("members")(require_http_methods(["GET", "POST"])(page))) == [
        "GET",
        "POST",
    ]
