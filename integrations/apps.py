from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # The webhooks' models live in their own package and belong to this app; ``removal``
        # removes a deleted account's receiver from its app.
        from integrations.webhooks import models, removal  # noqa: F401
        from integrations.webhooks.logs import hide_receiver_keys

        hide_receiver_keys()
