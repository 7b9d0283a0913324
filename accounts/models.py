from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from fernet_fields import EncryptedTextField

from integrations.connectors.registry import APP_CHOICES, app_label, connector_class


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the ops admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Workspace(models.Model):
    """The tenant: one customer company. Everything a customer sees is scoped to it."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members: models.ManyToManyField[User, Membership] = models.ManyToManyField(
        User, through="Membership", related_name="workspaces"
    )

    class Meta:
        ordering = ["name"]
        # Ops staff see only the workspaces they are members of in the admin; this one grants
        # every workspace (see accounts/admin_scope.py).
        permissions = [("support_all_workspaces", "May support every workspace")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "admin", "member"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class ConnectedAccount(models.Model):
    """One authorized account of an app, reusable by every connection of its workspace.

    ``credentials`` is encrypted at rest with the ``FERNET_KEYS``; read and write it through
    ``get_credentials`` / ``set_credentials`` and never show it.
    """

    class Status(models.TextChoices):
        OK = "ok", "OK"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        ERROR = "error", "Error"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="connected_accounts"
    )
    app = models.CharField(max_length=40, choices=APP_CHOICES)
    label = models.CharField(
        max_length=200, help_text="What the account is shown as: a login email or a site name."
    )
    credentials = EncryptedTextField(default="{}")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # When the workspace's owners and admins were emailed that it needs re-authorization; cleared
    # once it works again, so the next incident is emailed (once) too.
    incident_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "app", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "app", "label"], name="connected_account_unique_label"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["ok", "needs_reauth", "error"]),
                name="connected_account_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(label=""), name="connected_account_label_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{app_label(self.app)}: {self.label}"

    @property
    def app_name(self) -> str:
        return app_label(self.app)

    @sensitive_variables()
    def clean(self) -> None:
        """An account keeps its app once a connection uses it, and what is written as its
        credentials must be usable by its app's connector (a Kustomer subdomain is one DNS
        label). Credentials already stored unchanged under the same app are not judged again."""
        stored = (
            ConnectedAccount.objects.filter(pk=self.pk).values_list("app", "credentials").first()
            if self.pk
            else None
        )
        if stored is not None and stored[0] != self.app and self._used_by_a_connection():
            raise ValidationError(
                {
                    "app": f"This account is used by a connection as a {app_label(stored[0])} "
                    f"account; its app cannot become {app_label(self.app)}. Connect a new "
                    "account instead."
                }
            )
        credentials = self.get_credentials()
        if not credentials or (stored is not None and stored == (self.app, self.credentials)):
            return
        try:
            connector_class(self.app).validate_credentials(credentials)
        except LookupError:
            return  # an unknown app is refused by the field's choices
        except ValueError as exc:
            raise ValidationError(
                f"The {app_label(self.app)} credentials are not usable: {exc}"
            ) from None

    def _used_by_a_connection(self) -> bool:
        return self.connections_as_a.exists() or self.connections_as_b.exists()

    @sensitive_variables()
    def get_credentials(self) -> dict[str, Any]:
        data = json.loads(self.credentials or "{}")
        return data if isinstance(data, dict) else {}

    @sensitive_variables()
    def set_credentials(self, credentials: dict[str, Any]) -> None:
        self.credentials = json.dumps(credentials, sort_keys=True)

    @property
    def has_credentials(self) -> bool:
        return bool(self.get_credentials())


class Invitation(models.Model):
    """An invitation to join a workspace, sent by email. Only a hash of its token is stored: the
    link in the email is the one place the token lives, so a database copy accepts nothing."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=16, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "admin", "member"]),
                name="invitation_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role})"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()
