from django.urls import path

from integrations.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("<slug:app>/<str:key>/", views.receive, name="receive"),
]
