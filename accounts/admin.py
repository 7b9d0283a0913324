from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from accounts.admin_scope import PeopleAdmin, WorkspaceFreeAdmin, WorkspaceScopedAdmin
from accounts.models import ConnectedAccount, Invitation, Membership, User, Workspace
from integrations.admin import CascadesHistory
from integrations.connectors.base import ConnectorError
from integrations.connectors.registry import app_label, connector_class
from integrations.selectors import connections_using


@admin.register(User)
class UserAdmin(PeopleAdmin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


# A group's permissions open every workspace: only staff who support every one change groups.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(WorkspaceFreeAdmin, DjangoGroupAdmin):
    pass


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin, CascadesHistory):
    workspace_path = ""
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]


class ConnectedAccountForm(forms.ModelForm):
    """Credentials are write-only: the form offers one empty input per credential field of the
    account's app; a filled form replaces the stored credentials, an empty one keeps them."""

    class Meta:
        model = ConnectedAccount
        fields = ["workspace", "app", "label", "status", "last_error"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.instance.app if self.instance.pk else None
        apps = (
            [app]
            if app
            else [slug for slug, _ in ConnectedAccount._meta.get_field("app").choices or []]
        )
        for slug in apps:
            for spec in connector_class(str(slug)).credential_fields:
                name = f"cred_{slug}__{spec.name}"
                widget = (
                    forms.PasswordInput(render_value=False) if spec.secret else forms.TextInput()
                )
                self.fields[name] = forms.CharField(
                    label=f"New {spec.label}" + ("" if app else f" ({slug})"),
                    required=False,
                    widget=widget,
                    help_text=spec.help_text,
                )

    @sensitive_variables("values")
    def new_credentials(self) -> dict[str, str] | None:
        app = self.cleaned_data.get("app") or self.instance.app
        prefix = f"cred_{app}__"
        values = {
            name.removeprefix(prefix): value
            for name, value in self.cleaned_data.items()
            if name.startswith(prefix) and value
        }
        return values or None

    def clean_app(self) -> str:
        app = str(self.cleaned_data.get("app") or "")
        stored = self.instance.app if self.instance.pk else None
        if stored and app != stored:
            using = list(connections_using(account=self.instance))
            if using:
                names = ", ".join(f"'{c}'" for c in using)
                raise forms.ValidationError(
                    f"This {app_label(stored)} account is used by {names}: its app cannot change. "
                    "Connect a new account for the other app instead."
                )
        return app

    @sensitive_variables("cleaned", "values")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = self.new_credentials()
        if values is not None:
            app = cleaned.get("app") or self.instance.app
            try:
                connector_class(app).validate_credentials(values)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
        elif not self.instance.pk:
            raise forms.ValidationError("Give the new account's credentials.")
        return cleaned


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(WorkspaceScopedAdmin, CascadesHistory):
    form = ConnectedAccountForm
    list_display = ["label", "app", "workspace", "status", "credentials_state", "last_verified_at"]
    list_filter = ["app", "status"]
    search_fields = ["label", "workspace__name"]
    readonly_fields = ["credentials_state", "last_verified_at", "authorize_link"]
    autocomplete_fields = ["workspace"]
    actions = ["verify_selected"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # The credential inputs are added per app by the form itself, not by the model.
        kwargs["fields"] = ConnectedAccountForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: ConnectedAccount | None = None) -> Any:
        credential_inputs = [
            name for name in ConnectedAccountForm(instance=obj).fields if name.startswith("cred_")
        ]
        return [
            (None, {"fields": [*ConnectedAccountForm.Meta.fields, *self.readonly_fields]}),
            ("Replace the credentials (write-only)", {"fields": credential_inputs}),
        ]

    @admin.display(description="Credentials")
    def credentials_state(self, obj: ConnectedAccount) -> str:
        credentials = obj.get_credentials()
        if not credentials:
            return "not set"
        login = credentials.get("email") or credentials.get("subdomain")
        return f"set ({login})" if login else "set"

    @admin.display(description="Authorize")
    def authorize_link(self, obj: ConnectedAccount) -> str:
        try:
            uses_oauth = connector_class(obj.app).capabilities.uses_oauth
        except LookupError:
            return "-"
        if obj.pk is None or not uses_oauth:
            return "-"
        url = reverse("connectors:connect", args=[obj.app])
        query = urlencode({"workspace": obj.workspace_id, "account": obj.pk})
        return format_html('<a href="{}?{}">Connect {} again</a>', url, query, app_label(obj.app))

    @method_decorator(sensitive_post_parameters())
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        # The page posts new credentials: keep them out of error reports.
        return super().changeform_view(request, object_id, form_url, extra_context)

    @sensitive_variables("values")
    def save_model(
        self, request: HttpRequest, obj: ConnectedAccount, form: Any, change: bool
    ) -> None:
        values = form.new_credentials()
        if values is not None:
            obj.set_credentials(connector_class(obj.app).validate_credentials(values))
        super().save_model(request, obj, form, change)

    @admin.action(description="Verify credentials of the selected accounts", permissions=["change"])
    def verify_selected(self, request: HttpRequest, queryset: QuerySet[ConnectedAccount]) -> None:
        from accounts.services import connected_account_verify

        for account in queryset:
            try:
                ok, message = connected_account_verify(account=account)
            except ConnectorError as exc:
                ok, message = False, exc.message
            except (ValueError, LookupError) as exc:
                # Stored credentials the connector refuses before any call (a bad subdomain).
                ok, message = False, f"the stored credentials are not usable: {exc}"
            self.message_user(
                request,
                f"{account}: {message}",
                level=messages.SUCCESS if ok else messages.ERROR,
            )


@admin.register(Invitation)
class InvitationAdmin(WorkspaceScopedAdmin):
    """Invitations are sent from the team page (the token lives only in the email); ops read
    them and may revoke one by deleting it."""

    list_display = ["email", "workspace", "role", "invited_by", "created_at", "expires_at"]
    list_filter = ["role"]
    search_fields = ["email", "workspace__name"]
    fields = readonly_fields = (
        "workspace", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at",
        "accepted_by",
    )  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
