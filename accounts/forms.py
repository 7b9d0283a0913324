"""Forms of the customer pages: sign-up, log-in (throttled), invitations, credentials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.html import escape
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount, Invitation, Membership, User
from integrations.connectors.base import CredentialField
from integrations.connectors.registry import connector_class


class SignupForm(forms.Form):
    email = forms.EmailField(label="Work email", widget=forms.EmailInput(attrs={"autofocus": True}))
    full_name = forms.CharField(label="Full name", max_length=200)
    workspace_name = forms.CharField(
        label="Company or workspace name",
        max_length=200,
        help_text="Your teammates join this workspace; you can invite them next.",
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this email already exists. Log in.")
        return email

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            probe = User(email=cleaned.get("email") or "", full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class InvitationSignupForm(forms.Form):
    """The invited person's own details; the email is the invitation's."""

    full_name = forms.CharField(label="Full name", max_length=200)
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def __init__(self, *args: Any, invitation: Invitation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invitation = invitation

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            probe = User(email=self.invitation.email, full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


# ---- log-in throttling ------------------------------------------------------------------------


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: REMOTE_ADDR, or behind ``TANDEM_TRUSTED_PROXY_COUNT`` reverse
    proxies the X-Forwarded-For entry the outermost of them added. Entries further left are
    the client's to invent, so they are never read."""
    if request is None:
        return ""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    hops = int(settings.TANDEM_TRUSTED_PROXY_COUNT)
    if hops > 0:
        forwarded = [
            part.strip()
            for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return remote


def _key(kind: str, value: str) -> str:
    digest = salted_hmac("tandem.login-throttle", value.casefold()).hexdigest()[:32]
    return f"tandem:login-failures:{kind}:{digest}"


class LoginThrottle:
    """Failed log-ins counted per email and per client IP in the cache for a window; past the
    limit every attempt (even a right password) is refused until the window ends."""

    def __init__(self, *, email: str, ip: str) -> None:
        self.keys = {"email": _key("email", email) if email else "", "ip": _key("ip", ip)}
        self.limits = {
            "email": settings.TANDEM_LOGIN_FAILURES_PER_EMAIL,
            "ip": settings.TANDEM_LOGIN_FAILURES_PER_IP,
        }

    @property
    def window(self) -> int:
        return int(settings.TANDEM_LOGIN_LOCKOUT_SECONDS)

    def blocked(self) -> bool:
        return any(
            key and int(cache.get(key) or 0) >= self.limits[kind] for kind, key in self.keys.items()
        )

    def failed(self) -> None:
        for key in self.keys.values():
            if not key:
                continue
            # The window starts at the first failure: add() does nothing when the key exists.
            cache.add(key, 0, timeout=self.window)
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.set(key, 1, timeout=self.window)

    def succeeded(self) -> None:
        # The IP count stays: a guesser who also owns an account must not reset it.
        if self.keys["email"]:
            cache.delete(self.keys["email"])


class ThrottledLoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account.",
        "throttled": (
            "Too many failed log-in attempts. For your security, logging in is paused for "
            "%(minutes)s minutes; try again later or reset your password."
        ),
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autofocus": True, "autocomplete": "email"}
        )

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        email = str(self.cleaned_data.get("username") or "").strip().lower()
        self.cleaned_data["username"] = email
        throttle = LoginThrottle(email=email, ip=client_ip(self.request))
        if throttle.blocked():
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(1, throttle.window // 60)},
            )
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            if exc.code == "invalid_login":
                throttle.failed()
            raise
        throttle.succeeded()
        return cleaned


# ---- team -------------------------------------------------------------------------------------


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Teammate's email")
    role = forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        help_text="Owners and admins manage accounts, connections and the team; members look.",
    )

    def __init__(self, *args: Any, can_invite_owner: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        if not can_invite_owner and isinstance(role, forms.ChoiceField):
            role.choices = [
                (value, label)
                for value, label in Membership.Role.choices
                if value != Membership.Role.OWNER
            ]


# ---- connected accounts -----------------------------------------------------------------------


class CredentialsForm(forms.Form):
    """One input per credential field the app's connector declares. Secret inputs are password
    inputs and never rendered back with a value."""

    def __init__(
        self, *args: Any, app: str, account: ConnectedAccount | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        # Only what a person types: an app that also offers OAuth declares a shorter form.
        self.specs: tuple[CredentialField, ...] = connector_class(app).form_fields()
        stored = account.get_credentials() if account is not None else {}
        for spec in self.specs:
            widget: forms.Widget = (
                forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
                if spec.secret
                else forms.TextInput(attrs={"autocomplete": "off"})
            )
            initial = "" if spec.secret else str(stored.get(spec.name) or "")
            self.fields[spec.name] = forms.CharField(
                label=spec.label,
                required=spec.required,
                strip=not spec.secret,
                widget=widget,
                # Templates show help texts as HTML (Django's password help is a list).
                help_text=escape(spec.help_text),
                initial=initial or None,
            )

    @sensitive_variables()
    def credentials(self) -> dict[str, str]:
        return {
            spec.name: self.cleaned_data[spec.name]
            for spec in self.specs
            if self.cleaned_data.get(spec.name)
        }

    def add_problem(self, error: ValidationError) -> None:
        """Show ``error`` beside the field it names (one credential field's label in the
        message), else above the form."""
        if hasattr(error, "error_dict"):
            for name, errors in error.error_dict.items():
                self.add_error(name if name in self.fields else None, errors)
            return
        for message in error.messages:
            named = [
                spec.name for spec in self.specs if spec.label.casefold() in message.casefold()
            ]
            self.add_error(named[0] if len(named) == 1 else None, message)
