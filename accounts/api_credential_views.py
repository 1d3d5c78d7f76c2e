"""The RESTful API page: Customer ID / Customer Secret pairs of the organization.

The secret of a new pair exists only in the response to the POST that created it (no redirect, which
would need it stored somewhere for the next request; `no-store` so the browser keeps no copy). Its
download, key_and_secret.txt, is a data: URL made from the values on that page. Later pages never show it.
"""

import base64
import secrets
from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from console.forms import Form
from console.refusals import RuleViolation
from console.views import confirm_then_act, form_data

from . import api_credentials
from .access import get_for_member, member_required, require, restrict
from .models import ApiCredential

SECTION = ("RESTful API", reverse_lazy("api_credentials"))
EXAMPLE_PATH = "/dev/v1/projects"  # Agora's "list projects", served by this console at the same path
SUBMISSION_SECONDS = 24 * 3600  # how long a form's one-time id is remembered (against a re-sent POST)


class NewCredentialForm(Form):
    name = forms.CharField(
        label="Name (optional)",
        max_length=ApiCredential._meta.get_field("name").max_length,
        required=False,
        help_text="What the pair is for, e.g. “billing export script”.",
    )
    # A one-time id per rendered form: reloading the page after "Add a secret" would otherwise send
    # the POST again and silently add a second pair.
    submission = forms.CharField(widget=forms.HiddenInput, required=False)


def _fresh_form() -> NewCredentialForm:
    return NewCredentialForm(initial={"submission": secrets.token_urlsafe(16)})


def _first_submission(submission: str) -> bool:
    if not submission:
        return True  # scripts and tests may post without one
    return cache.add(f"api-credential-form:{submission[:64]}", 1, timeout=SUBMISSION_SECONDS)


@member_required("api_credentials")
@require_http_methods(["GET", "POST"])
@sensitive_variables()  # every local of this view and the calls below it: error reports never show the secret
def credential_list(request):
    membership = request.membership
    form = _fresh_form()
    created = None
    if request.method == "POST":
        require(membership, "api_credentials", "manage")
        form = NewCredentialForm(form_data(request))
        if form.is_valid():
            if not _first_submission(form.cleaned_data["submission"]):
                messages.info(request, "That pair was already added; its secret cannot be shown again.")
                return redirect("api_credentials")
            try:
                created = api_credentials.create_credential(membership, form.cleaned_data["name"], request=request)
            except RuleViolation as error:
                messages.error(request, str(error))
                return redirect("api_credentials")
            form = _fresh_form()
    context = _page_context(request, form, created)
    response = render(request, "accounts/api_credentials.html", context)
    if created is not None:
        response["Cache-Control"] = "no-store"  # the page holds the secret: no copy in any cache
    return response


def _page_context(request, form, created) -> dict:
    membership = request.membership
    pairs = list(restrict(ApiCredential, membership).select_related("membership__user", "membership__role"))
    endpoint = request.build_absolute_uri(EXAMPLE_PATH)
    context = {
        "form": form,
        "pairs": pairs,
        "limit": api_credentials.MAX_ACTIVE,
        "at_limit": len(pairs) >= api_credentials.MAX_ACTIVE,
        "can_manage": membership.can("api_credentials", "manage"),
        "role_name": membership.role.name,
        "endpoint": endpoint,
        "rate_limit": settings.API_RATE_LIMIT_PER_SECOND,
        "curl_example": f"curl -u CUSTOMER_ID:CUSTOMER_SECRET {endpoint}",
        "header_example": (
            "curl -H \"Authorization: Basic $(printf '%s' 'CUSTOMER_ID:CUSTOMER_SECRET' | base64 | tr -d '\\n')\" "
            + endpoint
        ),
    }
    if created is not None:
        customer_id, secret = created.credential.customer_id, created.secret
        pair = f"{customer_id}:{secret}"
        context["created"] = {
            "credential": created.credential,
            "customer_id": customer_id,
            "secret": secret,
            "curl": f"curl -u {pair} {endpoint}",
            "header": f"Authorization: Basic {base64.b64encode(pair.encode()).decode()}",
            "download": "data:text/plain;charset=utf-8," + quote(_key_and_secret(customer_id, secret, endpoint)),
        }
    return context


def _key_and_secret(customer_id: str, secret: str, endpoint: str) -> str:
    return (
        f"Customer ID: {customer_id}\n"
        f"Customer Secret: {secret}\n"
        f"\n"
        f"Use them with HTTP Basic authentication, for example:\n"
        f"curl -u {customer_id}:{secret} {endpoint}\n"
    )


@member_required("api_credentials", "manage")
@require_http_methods(["GET", "POST"])
def delete_credential(request, pk):
    pair = get_for_member(request.membership, ApiCredential.objects.select_related("membership__user"), pk=pk)
    label = f"“{pair.name}” ({pair.customer_id})" if pair.name else pair.customer_id
    last_used = f"last used {pair.last_used_at:%Y-%m-%d %H:%M} UTC" if pair.last_used_at else "never used"
    return confirm_then_act(
        request,
        act=lambda: api_credentials.delete_credential(request.membership, pair, request=request),
        done=f"The pair {pair.customer_id} was deleted. Requests signed with it now get 401.",
        title="Delete this API credential?",
        message=f"The pair {label} ({last_used}) is deleted for good.",
        consequences=[
            "Every script or server that uses this Customer ID gets 401 from its next request.",
            "The Customer ID cannot be restored: add a new pair and update the scripts instead.",
        ],
        action_label="Delete pair",
        cancel_url=reverse("api_credentials"),
        parent=SECTION,
    )
