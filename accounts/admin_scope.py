"""Which workspaces a staff user sees and acts on in the admin, decided in one place.

Superusers and staff holding ``accounts.support_all_workspaces`` see every workspace. Any other
staff user sees, changes and acts on only the workspaces they are a member of. A
``WorkspaceScopedAdmin`` names the path from its model to the workspace; its queryset is
filtered by it, and everything the admin does with an object goes through that queryset: the
changelist, its actions, the change, delete and history pages, the autocomplete answers, and
any custom object view that looks its object up with ``get_object``. The choices of foreign
keys to scoped models are filtered the same way, so an add form cannot place an object in
another workspace. An object outside the scope answers 404, as if it did not exist.

Models of no workspace (users, groups, the apps pipeline, the scheduler's and the webhook
receiver's bookkeeping) use ``WorkspaceFreeAdmin``: only staff who support every workspace add,
change or delete them, since a user's or a group's permissions open every workspace. Other
staff may look, and of the users they see only the people of their own workspaces and
themselves.

Both bases also check what Django's admin would hand the database unchecked
(``CheckedInputAdmin``): an action's selected ids, an autocomplete's submitted id, JSON, the
changelist's filters and search. A value no row could hold is a message or a form error, not a
server error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import JSONField, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.models import Membership

SUPPORT_ALL_WORKSPACES = "accounts.support_all_workspaces"


def workspaces_in_scope(request: HttpRequest) -> frozenset[int] | None:
    """The ids of the workspaces ``request.user`` may see in the admin; ``None`` for all."""
    cached: dict[str, frozenset[int] | None] = request.__dict__.setdefault("_workspace_scope", {})
    if "ids" not in cached:
        user: Any = request.user
        if user.has_perm(SUPPORT_ALL_WORKSPACES):  # true for every active superuser
            cached["ids"] = None
        else:
            cached["ids"] = frozenset(
                Membership.objects.filter(user_id=user.pk).values_list("workspace_id", flat=True)
            )
    return cached["ids"]


def scope_queryset(queryset: QuerySet[Any], request: HttpRequest, path: str) -> QuerySet[Any]:
    """``queryset`` narrowed to the workspaces in scope; ``path`` leads from its model to the
    workspace (``""`` when the model is the workspace)."""
    ids = workspaces_in_scope(request)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{path}__in" if path else "pk__in": ids})


def workspace_id_of(obj: Model, path: str) -> int | None:
    """The id of the workspace ``obj`` (saved or not) belongs to by ``path``."""
    if not path:
        return obj.pk
    *hops, last = path.split("__")
    target: Any = obj
    for hop in hops:
        target = getattr(target, hop, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


def _found(admin_view: admin.ModelAdmin, obj: Any) -> Any:
    if obj is None:
        # The same answer for another workspace's object and a missing one: nothing tells
        # which ids exist elsewhere.
        raise Http404(f"No {admin_view.opts.verbose_name} with this id in your workspaces.")
    return obj


# Longer searches are refused: SQLite refuses a LIKE pattern of 50,000 characters or more, and
# no field of Tandem's holds a longer text worth searching for.
SEARCH_MAX_LENGTH = 1000


class CheckedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete, which looks the submitted id up to show it again, without the
    values its field cannot hold (a word, a number of thousands of digits): those raised."""

    def optgroups(self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None) -> Any:
        target = self.field.target_field
        kept = []
        for item in value:
            try:
                target.clean(item, None)
            except ValidationError:
                continue
            kept.append(item)
        return super().optgroups(name, kept, attr)


class CheckedJSONField(forms.JSONField):
    """Django's JSON form field, for which text Python's JSON reader refuses otherwise than as
    bad JSON (an integer of more than 4,300 digits, arrays nested past the recursion limit) is
    invalid JSON too: Django's field lets those errors through."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except (ValueError, RecursionError) as exc:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from exc

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            return super().bound_data(data, initial)
        except (ValueError, RecursionError):
            return forms.fields.InvalidJSONInput(data)


class CheckedInputAdmin(admin.ModelAdmin):
    """What Django's admin passes to the database unchecked, checked first: the ids of an
    action's selection and of an autocomplete (a word there would raise), JSON Python cannot
    read (``CheckedJSONField``), and the
    changelist's query (PostgreSQL refuses a NUL character in text, SQLite an over-long
    search). A refusal is a message, or the form's error."""

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, JSONField):
            kwargs.setdefault("form_class", CheckedJSONField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        problem = _query_problem(request)
        if problem:
            self.message_user(request, problem, messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)

    def response_action(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        pk = self.opts.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                pk.clean(value, None)
            except ValidationError:
                self.message_user(
                    request,
                    f"The selection holds a value that is no {self.opts.verbose_name} id: "
                    "nothing was done.",
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


def _query_problem(request: HttpRequest) -> str:
    if any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
        return "The filter or search held a NUL character, which no value holds."
    if len(request.GET.get(SEARCH_VAR, "")) > SEARCH_MAX_LENGTH:
        return f"Search for at most {SEARCH_MAX_LENGTH} characters."
    return ""


class WorkspaceScopedAdmin(CheckedInputAdmin):
    """A model admin that shows a staff user only the objects of their workspaces."""

    # The lookup path from the model to its workspace; "" for the workspace itself.
    workspace_path = "workspace"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_queryset(super().get_queryset(request), request, self.workspace_path)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        return _found(self, super().get_object(request, object_id, from_field))

    def get_field_queryset(self, db: Any, db_field: Any, request: HttpRequest) -> Any:
        queryset = super().get_field_queryset(db, db_field, request)
        related = db_field.remote_field.model
        related_admin = self.admin_site._registry.get(related)
        if not isinstance(related_admin, WorkspaceScopedAdmin):
            return queryset
        if queryset is None:
            queryset = related._default_manager.using(db)
        return scope_queryset(queryset, request, related_admin.workspace_path)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A new workspace would be outside its maker's scope from its first moment.
        if not self.workspace_path and workspaces_in_scope(request) is not None:
            return False
        return super().has_add_permission(request)

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        obj = super().save_form(request, form, change)
        ids = workspaces_in_scope(request)
        if ids is not None and workspace_id_of(obj, self.workspace_path) not in ids:
            # The form's choices are scoped already; this holds for fields set another way.
            raise PermissionDenied
        return obj


class WorkspaceFreeAdmin(CheckedInputAdmin):
    """A model admin for objects of no workspace: staff who do not support every workspace may
    only look."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return workspaces_in_scope(request) is None and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return workspaces_in_scope(request) is None and allowed

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return workspaces_in_scope(request) is None and allowed


class PeopleAdmin(WorkspaceFreeAdmin):
    """Users: staff who do not support every workspace see the members of their own
    workspaces and themselves, nobody else."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        ids = workspaces_in_scope(request)
        if ids is None:
            return queryset
        mine = Q(memberships__workspace__in=ids) | Q(pk=getattr(request.user, "pk", None))
        return queryset.filter(pk__in=queryset.filter(mine).values("pk"))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        return _found(self, super().get_object(request, object_id, from_field))
