from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.db import connection
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from accounts.access import member_required, restrict

from . import metrics
from .overview_cards import visible_cards
from .refusals import RuleViolation


@require_GET
def healthz(request):
    """For load balancers and probes: 200 when the app answers and its database does; no sign-in."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """For orchestrators: 200 when the database, the cache and the broker all answer in time, else 503
    naming each one's verdict ({"database": "ok", "cache": "error", "broker": "timeout"}); no sign-in."""
    verdicts = metrics.readiness()
    ready = all(verdict == "ok" for verdict in verdicts.values())
    return JsonResponse(verdicts, status=200 if ready else 503)


@require_http_methods(["GET", "POST"])  # the admin's own sign-in form posts here too
def admin_sign_in(request):
    """The Django admin's sign-in page, replaced: everyone signs in through the console's page, whose
    failure limits, lockout and audit entries then hold for the admin too (one door, not two). A member
    signed in without staff rights is told so, not sent round in a loop."""
    if request.user.is_authenticated:
        reason = "Your account cannot open the site administration: it is for the installation's staff."
        return render(request, "403.html", {"reason": reason}, status=403)
    target = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:index")
    return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")


@require_safe
def home(request):
    return redirect("overview")


@member_required()
@require_safe
def overview(request):
    membership = request.membership
    organization = membership.organization
    members = organization.memberships.select_related("user", "role").order_by("created_at")
    projects = restrict(organization.projects.all(), membership).order_by("-created_at")
    context = {
        "organization": organization,
        "member_count": members.count(),
        "recent_members": members.reverse()[:5],
        "can_see_members": membership.can("members"),
        "project_count": projects.count(),
        "recent_projects": projects[:5],
        "can_see_projects": membership.can("projects"),
    }
    cards = visible_cards(membership)  # the other apps' cards: usage, billing
    context.update({card.name: card.context(request) for card in cards})
    context["overview_cards"] = [card.template for card in cards]
    return render(request, "console/overview.html", context)


def form_data(request):
    """What a form should be bound to: the POST data of a POST (even an empty one), else nothing."""
    return request.POST if request.method == "POST" else None


def coming_soon(module: str, title: str, description: str):
    """A page that a later part of the console fills; open to the roles that will be able to use it."""

    @member_required(module)
    @require_safe
    def view(request, **kwargs):
        return render(request, "console/coming_soon.html", {"title": title, "description": description})

    view.__name__ = f"{module}_coming_soon"
    return view


CONFIRM_METHODS = ["GET", "POST"]  # what a confirm_then_act view declares with require_http_methods


def confirm_then_act(
    request,
    *,
    act: Callable[[], object],
    done: str,
    title: str,
    message: str,
    action_label: str,
    cancel_url: str,
    done_url: str | None = None,
    consequences=(),
    danger: bool = True,
    parent=None,
    form=None,
    asks_password: bool = False,
    next_page: str = "",
):
    """The one confirmation page for actions that deserve a second look: GET shows it, POST acts.

    On POST, `form` (extra fields: a hidden version, an organization) must be valid and, when `asks_password`
    (the service `act` calls is marked @asks_password) and this session has not confirmed its password
    lately, so must the password (accounts.sudo); otherwise the page is shown again with the errors. Then
    `act()` runs once: a RuleViolation becomes an error message and leads back to `cancel_url` with nothing
    done; otherwise `done` is the success message and `done_url` (default `cancel_url`) the next page.
    `parent` is the (label, url) of the section shown in the breadcrumbs; `next_page` is posted back for
    the view to return to. The view declares GET and POST with require_http_methods; other methods are 405.
    """
    from accounts.sudo import confirm_identity, confirmation_form  # accounts.sudo builds on this module

    if request.method not in CONFIRM_METHODS:
        return HttpResponseNotAllowed(CONFIRM_METHODS)
    password_form = confirmation_form(request) if asks_password else None
    if request.method == "POST" and (form is None or form.is_valid()) and confirm_identity(request, password_form):
        try:
            act()
        except RuleViolation as refusal:
            messages.error(request, str(refusal))
            return redirect(cancel_url)
        messages.success(request, done)
        return redirect(done_url or cancel_url)
    context = {
        "parent": parent,
        "form": form,
        "password_form": password_form,
        "next_page": next_page,
        "title": title,
        "message": message,
        "consequences": consequences,
        "action_label": action_label,
        "cancel_url": cancel_url,
        "danger": danger,
    }
    return render(request, "console/confirm.html", context)


def form_page(
    request, form, *, title: str, submit_label: str, cancel_url: str | None = None, intro: str = "", parent=None
):
    """The one form page: fields with their errors and help text, one submit button."""
    context = {
        "form": form,
        "title": title,
        "submit_label": submit_label,
        "cancel_url": cancel_url,
        "intro": intro,
        "parent": parent,
    }
    return render(request, "console/form.html", context)


# Error pages ------------------------------------------------------------------------------------
# Django calls these (console/urls.py names them) for what no view answered itself: an unknown path, an
# exception that escaped a view. Under the machine-facing prefixes the answer is the API's {"message": ...}
# (with X-Request-ID, added by console.request_id); everywhere else the console's error pages.

API_PREFIXES = ("/api/", "/dev/", "/beta/", "/sandbox/")


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES)


def bad_request(request, exception):
    if _is_api(request):
        return JsonResponse({"message": "The request is malformed."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return JsonResponse({"message": "You do not have permission to do this."}, status=403)
    return defaults.permission_denied(request, exception)


def api_not_found(request):
    return JsonResponse({"message": "No such API endpoint."}, status=404)


def page_not_found(request, exception):
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        request_id = getattr(request, "request_id", "")
        message = f"The server failed to answer. Quote request ID {request_id} when reporting it."
        return JsonResponse({"message": message}, status=500)
    return defaults.server_error(request)
