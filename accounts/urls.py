from allauth.mfa.totp import views as totp_views
from csp.constants import SELF
from csp.decorators import csp_update
from django.urls import include, path

from . import api_credential_views, notification_views, sso, views

urlpatterns = [
    # Sign-in, sign-up, passwords, email verification, two-factor and passkeys: django-allauth under
    # /accounts/ (accounts/adapters.py). The profile comes first; the address is the sign-in and is not
    # changed by its owner, so allauth's address book is not offered.
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/email/", views.not_offered),
    path("accounts/reset/<str:uidb64>/<str:token>/", views.old_reset_link),
    path("accounts/sso/", views.single_sign_on_entry, name="sso_entry"),
    path("accounts/sso/<str:provider_id>/callback/", sso.callback_view, name="sso_callback"),
    path("accounts/oidc/<path:rest>", views.not_offered),  # allauth's own routes skip sso's checks
    path("accounts/3rdparty/", views.not_offered),  # linking identities by hand would skip them too
    path("accounts/3rdparty/signup/", views.not_offered),  # accounts.sso decides who may join
    # The one page whose image is a data: URI (the authenticator app's QR code).
    path("accounts/2fa/totp/activate/", csp_update({"img-src": [SELF, "data:"]})(totp_views.activate_totp)),
    path("accounts/", include("allauth.urls")),
    # Organizations
    path("organizations/new/", views.create_organization, name="create_organization"),
    path("organizations/switch/", views.switch_organization, name="switch_organization"),
    path("organizations/leave/", views.leave_organization, name="leave_organization"),
    path("settings/organization/", views.organization_settings, name="organization_settings"),
    path("settings/organization/sso/", views.single_sign_on_settings, name="single_sign_on_settings"),
    # Members, invitations and roles
    path("members/", views.member_list, name="members"),
    path("members/invitations/", views.invitation_list, name="invitations"),
    path("members/invite/", views.invite_member, name="invite_member"),
    path("members/<int:pk>/role/", views.change_member_role, name="change_member_role"),
    path("members/<int:pk>/remove/", views.remove_member, name="remove_member"),
    path("members/<int:pk>/make-owner/", views.make_owner, name="make_owner"),
    path("members/invitations/<int:pk>/resend/", views.resend_invitation, name="resend_invitation"),
    path("members/invitations/<int:pk>/revoke/", views.revoke_invitation, name="revoke_invitation"),
    path("members/roles/", views.role_list, name="roles"),
    path("members/roles/new/", views.create_role, name="create_role"),
    path("members/roles/<int:pk>/edit/", views.edit_role, name="edit_role"),
    path("members/roles/<int:pk>/delete/", views.delete_role, name="delete_role"),
    path("invitations/<str:token>/", views.accept_invitation, name="accept_invitation"),
    # Audit log
    path("notifications/", notification_views.notifications, name="notifications"),
    path("notifications/read-all/", notification_views.mark_all_read, name="mark_all_notifications_read"),
    path("notifications/<int:pk>/open/", notification_views.open_notification, name="open_notification"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export.csv", views.audit_log_csv, name="audit_log_csv"),
    # API credentials (Customer ID / Customer Secret) for the RESTful API
    path("api-credentials/", api_credential_views.credential_list, name="api_credentials"),
    path("api-credentials/<int:pk>/delete/", api_credential_views.delete_credential, name="delete_api_credential"),
]
