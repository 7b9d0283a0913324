from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed


def _forget_fernet_keys(*, setting: str, **kwargs: Any) -> None:
    """fernet_fields caches the keys on the field; a key rotation in settings must reach it."""
    if setting not in ("FERNET_KEYS", "SECRET_KEY"):
        return
    from accounts.models import ConnectedAccount

    field = ConnectedAccount._meta.get_field("credentials")
    for cached in ("keys", "fernet_keys", "fernet"):
        field.__dict__.pop(cached, None)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        setting_changed.connect(_forget_fernet_keys, dispatch_uid="tandem-forget-fernet-keys")
