from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.home, name="home"),
]
