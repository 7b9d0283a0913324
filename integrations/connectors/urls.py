"""Connecting accounts of the apps that declare OAuth 2.0, by app slug (``connectors:connect``,
``connectors:callback``, each taking the slug)."""

from django.urls import path

from integrations.connectors import views

app_name = "connectors"

urlpatterns = [
    path("<slug:app>/", views.connect, name="connect"),
    path("<slug:app>/callback/", views.callback, name="callback"),
]
