from django.contrib.auth import views as auth_views
from django.urls import path

from . import api_credential_views, notification_views, views

urlpatterns = [
    # Sign-in and passwords: Django's auth views with the console's templates.
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/profile/", views.profile, name="profile"),
    path(
        "accounts/password/change/",
        views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    # Organizations
    path("organizations/new/", views.create_organization, name="create_organization"),
    path("organizations/switch/", views.switch_organization, name="switch_organization"),
    path("settings/organization/", views.organization_settings, name="organization_settings"),
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
