from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.home, name="home"),
    # The guided set-up: steps 1 to 3 before the draft exists, then steps 4 to 7 on it.
    path("connections/new/", views.connection_new, name="connection_new"),
    path(
        "connections/new/accounts/", views.connection_new_accounts, name="connection_new_accounts"
    ),
    path(
        "connections/new/direction/",
        views.connection_new_direction,
        name="connection_new_direction",
    ),
    path("connections/<int:pk>/", views.connection_detail, name="connection_detail"),
    path("connections/<int:pk>/rules/", views.connection_rules, name="connection_rules"),
    path("connections/<int:pk>/rules/new/", views.rule_new, name="rule_new"),
    path("connections/<int:pk>/rules/<int:rule_pk>/", views.rule_edit, name="rule_edit"),
    path("connections/<int:pk>/rules/<int:rule_pk>/delete/", views.rule_delete, name="rule_delete"),
    path("connections/<int:pk>/mappings/", views.connection_mappings, name="connection_mappings"),
    path(
        "connections/<int:pk>/mappings/<int:mapping_pk>/",
        views.mapping_edit,
        name="mapping_edit",
    ),
    path(
        "connections/<int:pk>/mappings/<int:mapping_pk>/toggle/",
        views.mapping_toggle,
        name="mapping_toggle",
    ),
    path("connections/<int:pk>/options/", views.connection_options, name="connection_options"),
    path("connections/<int:pk>/review/", views.connection_review, name="connection_review"),
    path("connections/<int:pk>/pause/", views.connection_pause, name="connection_pause"),
    path("connections/<int:pk>/resume/", views.connection_resume, name="connection_resume"),
    path("connections/<int:pk>/sync/", views.connection_sync_now, name="connection_sync_now"),
    path("connections/<int:pk>/rescan/", views.connection_rescan, name="connection_rescan"),
    path("connections/<int:pk>/delete/", views.connection_delete, name="connection_delete"),
    path("apps/", views.apps, name="apps"),
    path("apps/request/", views.app_request, name="app_request"),
    path("apps/<slug:slug>/", views.app_detail, name="app_detail"),
    path("apps/<slug:slug>/vote/", views.app_vote, name="app_vote"),
]
