from django.contrib import admin
from django.urls import include, path

from config import health

# The admin app does not discover the ModelAdmins at start-up (config/admin_app.py): the process
# serving them registers them here, before any URL is resolved.
admin.autodiscover()
admin.site.site_header = "Tandem operations"
admin.site.site_title = "Tandem"
admin.site.index_title = "Connections, accounts and runs"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("connect/", include("integrations.connectors.urls")),
    path("webhooks/", include("integrations.webhooks.urls")),
    path("", include("accounts.urls")),
    path("", include("integrations.urls")),
]
