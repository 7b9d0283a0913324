from django.urls import path

from integrations.connectors.google_contacts import views

app_name = "google_contacts"

urlpatterns = [
    path("", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
]
