from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("team/", views.team, name="team"),
    path("team/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invite/<str:token>/", views.invite_accept, name="invite_accept"),
    path("workspaces/switch/", views.workspace_switch, name="workspace_switch"),
    path("workspaces/new/", views.workspace_new, name="workspace_new"),
    path("accounts/", views.connected_accounts, name="connected_accounts"),
    path("accounts/new/<slug:app>/", views.connected_account_new, name="connected_account_new"),
    path(
        "accounts/<int:pk>/reauthorize/",
        views.connected_account_reauthorize,
        name="connected_account_reauthorize",
    ),
    path(
        "accounts/<int:pk>/disconnect/",
        views.connected_account_disconnect,
        name="connected_account_disconnect",
    ),
]
