"""The identity provider's pages: OpenID Connect under /o/ (so the issuer is http://127.0.0.1:<port>/o),
a sign-in page, and the test side's setup endpoints."""

from django.contrib.auth.views import LoginView
from django.http import HttpResponse
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls

from . import setup_views


def home(request):
    """Where a sign-in without `next` lands: says who is signed in (useful in a browser test's screenshot)."""
    if not request.user.is_authenticated:
        return HttpResponse("Not signed in.", content_type="text/plain")
    return HttpResponse(f"Signed in as {request.user.email}.", content_type="text/plain")


urlpatterns = [
    path("", home, name="home"),
    path("login/", LoginView.as_view(template_name="idp/login.html"), name="login"),
    path("o/", include((oauth2_urls.base_urlpatterns + oauth2_urls.oidc_urlpatterns, "oauth2_provider"))),
    path("setup/users/", setup_views.add_user, name="setup-users"),
    path("setup/clients/", setup_views.add_client, name="setup-clients"),
]
