"""Admin isolation and CSRF, generated from the admin registry and each model admin's URLs.

Every registered model is placed in a workspace by walking its foreign keys to ``Workspace``
(a model that cannot be placed must be listed in ``GLOBAL`` with the reason). Both workspaces
hold one object of every placed model; a staff user with every model permission who is a
member of Acme only probes every admin URL that takes an object id with Globex's ids, posts
every changelist action, every add form and every autocomplete at Globex's objects. Each
answer is a 404 (or shows nothing of Globex) and no row changes. No URL is listed by hand: a
model or custom admin URL added later is covered the day it is added.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse
from django.utils import timezone

from accounts.admin_scope import WorkspaceFreeAdmin, WorkspaceScopedAdmin
from accounts.models import ConnectedAccount, Invitation, Membership, User, Workspace
from integrations.models import (
    Action,
    AppRequest,
    AppVote,
    AuditEntry,
    BeatTick,
    Condition,
    Connection,
    CreateIntent,
    FieldMapping,
    RecheckRecord,
    RecordIssue,
    RecordLink,
    Rule,
    RunNote,
    SyncRun,
)
from integrations.webhooks.models import (
    WebhookCount,
    WebhookDelivery,
    WebhookRemoval,
    WebhookSubscription,
    WebhookWake,
)

pytestmark = pytest.mark.django_db

# Models that belong to no workspace, each with the reason it needs none.
GLOBAL: dict[type[Model], str] = {
    User: "a person may be a member of several workspaces or none; whoever may change users may "
    "grant any permission, so that permission is given only to who supports every workspace",
    Group: "a named set of permissions, holding no customer data",
    AppVote: "a user's vote for an app not yet supported, holding no customer data",
    AppRequest: "a user's request for a new app, holding no customer data",
    BeatTick: "the scheduler's heartbeat, one row per periodic task for all workspaces",
    WebhookDelivery: "the ids of deliveries taken, per app, to refuse a replay; no workspace's",
    WebhookCount: "the receiver's counters per app and outcome, for all workspaces",
    WebhookRemoval: "a deleted account's receiver to remove from its app: its workspace is gone",
}

ARG = re.compile(r"<(?:\w+:)?(\w+)>")


def workspace_path(model: type[Model]) -> str | None:
    """The shortest lookup path along non-null foreign keys (one-to-one too) from ``model`` to
    ``Workspace`` (``""`` for the workspace itself); ``None`` when there is none."""
    queue: deque[tuple[type[Model], str]] = deque([(model, "")])
    seen = {model}
    while queue:
        current, path = queue.popleft()
        if current is Workspace:
            return path
        for field in current._meta.get_fields():
            forward = field.many_to_one or field.one_to_one
            if not (forward and field.concrete and not field.null):
                continue
            related = field.related_model
            if isinstance(related, type) and related not in seen:
                seen.add(related)
                queue.append((related, f"{path}__{field.name}" if path else field.name))
    return None


def scoped_models() -> list[type[Model]]:
    return sorted((m for m in admin.site._registry if m not in GLOBAL), key=lambda m: m._meta.label)


def objects_in(model: type[Model], workspace: Workspace) -> list[Any]:
    path = workspace_path(model)
    assert path is not None, model._meta.label
    lookup = f"{path}__in" if path else "pk__in"
    return list(model._default_manager.filter(**{lookup: [workspace.pk]}).order_by("pk"))


def populate(workspace: Workspace, member: User, tag: str) -> None:
    """One object of every workspace model in ``workspace``; ``tag`` marks its texts."""
    Membership.objects.create(workspace=workspace, user=member, role="owner")
    Invitation.objects.create(
        workspace=workspace,
        email=f"new@{tag}.example",
        token_hash=f"{tag:0<64}"[:64],
        expires_at=timezone.now() + timezone.timedelta(days=3),
    )
    account_a = ConnectedAccount.objects.create(workspace=workspace, app="kustomer", label=tag)
    account_b = ConnectedAccount.objects.create(
        workspace=workspace, app="google_contacts", label=f"ops@{tag}.example"
    )
    connection = Connection.objects.create(
        workspace=workspace,
        name=f"{tag} contacts",
        account_a=account_a,
        account_b=account_b,
        status="active",
    )
    rule = Rule.objects.create(connection=connection, direction="a_to_b", name=f"{tag} rule")
    Condition.objects.create(rule=rule, field="email", operator="is set")
    Action.objects.create(rule=rule, kind="add_tag", value=f"{tag}-vip")
    FieldMapping.objects.create(connection=connection, field_a="email", field_b="email")
    run = SyncRun.objects.create(connection=connection, outcome="failed", error=f"{tag} boom")
    RecordIssue.objects.create(
        connection=connection, side="a", record_id=f"{tag}-1", target="b", reason="bad"
    )
    RecordLink.objects.create(connection=connection, id_a=f"{tag}-1", id_b=f"{tag}-p1")
    RecheckRecord.objects.create(connection=connection, side="a", record_id=f"{tag}-1", run=run)
    CreateIntent.objects.create(connection=connection, target="b", source_id=f"{tag}-2")
    AuditEntry.objects.create(
        run=run,
        connection=connection,
        side="b",
        record_id=f"{tag}-p1",
        kind="update",
        why="mapping",
    )
    RunNote.objects.create(run=run, connection=connection, kind="excluded", side="a",
                           record_id=f"{tag}-3", reason="no email")  # fmt: skip
    WebhookSubscription.objects.create(
        account=account_a, app="kustomer", key=f"{tag}-key", remote_id=f"{tag}-hook"
    )
    WebhookWake.objects.create(connection=connection, changes=[["a", f"{tag}-1", "v1"]])


@pytest.fixture
def acme(db: None) -> Workspace:
    return Workspace.objects.create(name="Acme", slug="acme")


@pytest.fixture
def globex(db: None) -> Workspace:
    return Workspace.objects.create(name="Globex", slug="globex")


@pytest.fixture
def world(acme: Workspace, globex: Workspace) -> None:
    populate(acme, User.objects.create_user(email="alice@acme.example"), "acme")
    populate(globex, User.objects.create_user(email="bob@globex.example"), "globex")


def staff_with_every_permission(email: str, *, support_all: bool = False) -> User:
    user = User.objects.create_user(email=email, password="x", is_staff=True)
    perms = Permission.objects.all()
    if not support_all:
        perms = perms.exclude(codename="support_all_workspaces")
    user.user_permissions.set(perms)
    return user


@pytest.fixture
def scoped(world: None, acme: Workspace) -> User:
    """Staff with every model permission, a member of Acme only."""
    user = staff_with_every_permission("scoped@tandem.example")
    Membership.objects.create(workspace=acme, user=user, role="member")
    return user


def logged_in(user: User, *, csrf: bool = True) -> tuple[Client, str]:
    """A client that checks CSRF like a browser's would be checked, and a real token from a
    page it was served."""
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    page = client.get(reverse("admin:index")).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, "the admin index serves a CSRF token"
    return client, found.group(1)


def everything() -> str:
    """Every row the admin can reach (and the admin's own log), as text."""
    models = [*admin.site._registry, LogEntry]
    return "\n".join(
        serializers.serialize("json", m._default_manager.order_by("pk")) for m in models
    )


def object_urls(model: type[Model], obj: Model) -> list[str]:
    """Every URL of ``model``'s admin (custom ones included) that takes an argument, filled
    with ``obj``'s id, and the site's "view on site" shortcut for it."""
    model_admin = admin.site._registry[model]
    base = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    urls = []
    for pattern in model_admin.get_urls():
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        if ARG.search(route):
            urls.append(base + ARG.sub(str(obj.pk), route))
    content_type = ContentType.objects.get_for_model(model)
    urls.append(reverse("admin:view_on_site", args=[content_type.pk, obj.pk]))
    return urls


PROBED: dict[str, int] = {}


def count(kind: str, n: int) -> None:
    PROBED[kind] = PROBED.get(kind, 0) + n
    print(f"\nadmin isolation: {kind}: {PROBED[kind]} probed")


# -- The generator ----------------------------------------------------------------------------


def test_it_places_every_registered_model_in_a_workspace_or_lists_it_as_global() -> None:
    unplaced = [m._meta.label for m in scoped_models() if workspace_path(m) is None]
    assert unplaced == [], "give these models a workspace path or list them in GLOBAL"


def test_it_scopes_every_placed_model_by_its_path_to_the_workspace() -> None:
    wrong = {
        m._meta.label: getattr(admin.site._registry[m], "workspace_path", None)
        for m in scoped_models()
        if not isinstance(admin.site._registry[m], WorkspaceScopedAdmin)
        or admin.site._registry[m].workspace_path != workspace_path(m)  # type: ignore[attr-defined]
    }
    assert wrong == {}


def test_it_has_an_object_of_every_placed_model_in_both_workspaces(
    world: None, acme: Workspace, globex: Workspace
) -> None:
    missing = [
        m._meta.label for m in scoped_models() for w in (acme, globex) if not objects_in(m, w)
    ]
    assert missing == [], "add an object of these models to populate()"


# -- Another workspace's objects ------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_404_for_every_object_url_of_another_workspace_and_changes_nothing(
    scoped: User, globex: Workspace, acme: Workspace, method: str
) -> None:
    client, token = logged_in(scoped)
    before = everything()
    answers = {}
    for model in scoped_models():
        for obj in objects_in(model, globex):
            for url in object_urls(model, obj):
                if method == "get":
                    response = client.get(url, follow=True)
                else:
                    data = {
                        "csrfmiddlewaretoken": token, "post": "yes", "name": "taken over",
                        "label": "taken over", "workspace": acme.pk, "status": "paused",
                    }  # fmt: skip
                    response = client.post(url, data, follow=True)
                answers[url] = response.status_code
    count(f"object URLs ({method.upper()})", len(answers))
    assert len(answers) >= 5 * len(scoped_models())
    assert {url: status for url, status in answers.items() if status != 404} == {}
    assert everything() == before


def test_it_answers_the_members_own_object_urls(scoped: User, acme: Workspace) -> None:
    client, _ = logged_in(scoped)
    obj = objects_in(Workspace, acme)[0]
    for name in ("change", "history"):
        url = reverse(f"admin:accounts_workspace_{name}", args=[obj.pk])
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("model", scoped_models(), ids=lambda m: m._meta.label)
def test_it_lists_only_the_members_workspaces_objects(
    scoped: User, acme: Workspace, globex: Workspace, model: type[Model]
) -> None:
    client, _ = logged_in(scoped)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url)
    assert response.status_code == 200
    listed = {obj.pk for obj in response.context["cl"].result_list}
    assert {o.pk for o in objects_in(model, acme)} <= listed
    assert not listed & {o.pk for o in objects_in(model, globex)}
    assert "globex" not in response.content.decode().lower()
    count("changelists", 1)


@pytest.mark.parametrize("support_all", [True, False], ids=["support-all", "superuser"])
def test_it_lists_every_workspace_to_superusers_and_global_support_staff(
    world: None, acme: Workspace, globex: Workspace, support_all: bool
) -> None:
    user = (
        staff_with_every_permission("support@tandem.example", support_all=True)
        if support_all
        else User.objects.create_superuser(email="root@tandem.example", password="x")
    )
    client, _ = logged_in(user)
    for model in scoped_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        listed = {obj.pk for obj in client.get(url).context["cl"].result_list}
        expected = {o.pk for o in objects_in(model, acme) + objects_in(model, globex)}
        assert expected <= listed, model._meta.label
    url = reverse("admin:accounts_workspace_change", args=[globex.pk])
    assert client.get(url).status_code == 200


def test_it_runs_every_action_on_no_object_of_another_workspace(
    scoped: User, globex: Workspace
) -> None:
    client, token = logged_in(scoped)
    before = everything()
    request = RequestFactory().get("/")
    request.user = scoped
    posted = []
    for model in scoped_models():
        model_admin = admin.site._registry[model]
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        ids = [o.pk for o in objects_in(model, globex)]
        for action in model_admin.get_actions(request):
            data = {"csrfmiddlewaretoken": token, "action": action, "post": "yes", "index": 0,
                    admin.helpers.ACTION_CHECKBOX_NAME: ids}  # fmt: skip
            assert client.post(url, data).status_code in (200, 302)
            posted.append(action)
    count("changelist actions", len(posted))
    assert {"delete_selected", "pause", "resume", "resync", "sync_now", "verify_selected"} <= set(
        posted
    )
    assert everything() == before


def test_it_runs_an_action_on_another_workspace_for_global_support_staff(
    world: None, globex: Workspace
) -> None:
    client, token = logged_in(staff_with_every_permission("s@tandem.example", support_all=True))
    connection = objects_in(Connection, globex)[0]
    url = reverse("admin:integrations_connection_changelist")
    client.post(url, {"csrfmiddlewaretoken": token, "action": "pause",
                      admin.helpers.ACTION_CHECKBOX_NAME: [connection.pk]})  # fmt: skip
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED


def _choice_fields(form: forms.BaseForm) -> dict[str, forms.ModelChoiceField[Any]]:
    return {n: f for n, f in form.fields.items() if isinstance(f, forms.ModelChoiceField)}


def test_it_offers_no_choice_of_another_workspace_in_any_add_form(
    scoped: User, globex: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="django.request")
    client, _ = logged_in(scoped)
    checked = 0
    for model in scoped_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        response = client.get(url)
        if response.status_code == 403:
            continue
        assert response.status_code == 200, model._meta.label
        for name, field in _choice_fields(response.context["adminform"].form).items():
            related = field.queryset.model
            if related in GLOBAL:
                continue
            offered = set(field.queryset.values_list("pk", flat=True))
            assert not offered & {o.pk for o in objects_in(related, globex)}, (model, name)
            checked += 1
    count("add-form choices", checked)
    assert checked >= 4


def test_it_creates_nothing_in_another_workspace_from_any_add_form(
    scoped: User, globex: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="django.request")
    client, token = logged_in(scoped)
    before = everything()
    posted = 0
    for model in scoped_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        response = client.get(url)
        if response.status_code == 403:
            continue
        form = response.context["adminform"].form
        data: dict[str, Any] = {"csrfmiddlewaretoken": token, "name": "x", "label": "x"}
        data |= {n: v for n, v in form.initial.items() if v is not None}
        aimed = []
        for name, field in _choice_fields(form).items():
            related = field.queryset.model
            if related is User:
                data[name] = scoped.pk
            else:
                data[name] = objects_in(related, globex)[0].pk
                aimed.append(name)
        response = client.post(url, data)
        assert response.status_code == 200, model._meta.label
        refused = response.context["adminform"].form.errors
        assert aimed and all("Select a valid choice" in str(refused[n]) for n in aimed), refused
        posted += 1
    count("add forms posted", posted)
    assert posted >= 4
    assert everything() == before


def choices(page: Any) -> dict[str, list[tuple[str, str]]]:
    form = page.context["adminform"].form
    return {
        name: [(str(value), str(label)) for value, label in field.choices]
        for name, field in form.fields.items()
        if isinstance(field, forms.ChoiceField)
    }


def test_it_shows_nothing_of_another_workspace_on_an_add_page_prefilled_with_its_ids(
    scoped: User, globex: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """An add page takes initial values from its query string (the connection page's "Add a
    rule" link does): another workspace's id there must not name that object."""
    caplog.set_level(logging.ERROR, logger="django.request")
    client, _ = logged_in(scoped)
    shown = 0
    for model in scoped_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        response = client.get(url)
        if response.status_code == 403:
            continue
        prefill = {
            name: objects_in(field.queryset.model, globex)[0].pk
            for name, field in _choice_fields(response.context["adminform"].form).items()
            if field.queryset.model not in GLOBAL
        }
        page = client.get(url, prefill)
        assert page.status_code == 200, model._meta.label
        assert "globex" not in page.content.decode().lower(), model._meta.label
        # Nor is any choice worded after it (a rule's directions by its connection's apps).
        assert choices(page) == choices(response), model._meta.label
        shown += 1
    count("add pages prefilled", shown)
    assert shown >= 4


def test_it_refuses_saving_into_another_workspace_from_a_form_the_scope_did_not_build(
    scoped: User, globex: Workspace
) -> None:
    """The last guard: whatever form placed it there, an object of another workspace is not
    saved."""
    request = RequestFactory().post("/")
    request.user = scoped
    form_class = forms.modelform_factory(Membership, fields=["workspace", "user", "role"])
    form = form_class({"workspace": globex.pk, "user": scoped.pk, "role": "owner"})
    assert form.is_valid(), form.errors
    with pytest.raises(PermissionDenied):
        admin.site._registry[Membership].save_form(request, form, change=False)
    assert not Membership.objects.filter(workspace=globex, user=scoped).exists()


def test_it_refuses_adding_a_workspace_to_staff_scoped_to_their_own(
    scoped: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="django.request")
    client, _ = logged_in(scoped)
    assert client.get(reverse("admin:accounts_workspace_add")).status_code == 403


def test_it_adds_an_account_to_the_members_own_workspace(scoped: User, acme: Workspace) -> None:
    client, token = logged_in(scoped)
    url = reverse("admin:accounts_connectedaccount_add")
    data = {"csrfmiddlewaretoken": token, "workspace": acme.pk, "app": "kustomer",
            "label": "acme second", "status": "ok", "cred_kustomer__subdomain": "acme",
            "cred_kustomer__api_key": "key-123456"}  # fmt: skip
    assert client.post(url, data).status_code == 302
    assert ConnectedAccount.objects.filter(workspace=acme, label="acme second").exists()


def test_it_answers_no_autocomplete_with_another_workspaces_objects(
    scoped: User, acme: Workspace, globex: Workspace
) -> None:
    client, _ = logged_in(scoped)
    asked = 0
    for model, model_admin in admin.site._registry.items():
        for field_name in model_admin.autocomplete_fields:
            related = model._meta.get_field(field_name).related_model
            response = client.get(
                reverse("admin:autocomplete"),
                {"app_label": model._meta.app_label, "model_name": model._meta.model_name,
                 "field_name": field_name, "term": ""},
            )  # fmt: skip
            assert response.status_code == 200, (model, field_name)
            answered = {int(r["id"]) for r in response.json()["results"]}
            asked += 1
            if related in GLOBAL:
                continue
            assert not answered & {o.pk for o in objects_in(related, globex)}
            assert {o.pk for o in objects_in(related, acme)} <= answered
    count("autocompletes", asked)
    assert asked >= 4


# -- Objects of no workspace -----------------------------------------------------------------


@pytest.fixture
def one_of_each_global(world: None) -> None:
    bob = User.objects.get(email="bob@globex.example")
    Group.objects.create(name="support")
    AppVote.objects.create(user=bob, app="pipedrive")
    AppRequest.objects.create(user=bob, name="Zoho", note="for our sales team")
    BeatTick.objects.create(name="dispatch", at=timezone.now())
    WebhookDelivery.objects.create(app="kustomer", event_key="e-1", received_at=timezone.now())
    WebhookCount.objects.create(app="kustomer", outcome="accepted", count=1)
    WebhookRemoval.objects.create(app="kustomer", remote_id="5f00", credentials='{"api_key": "k"}')


def test_it_lets_only_staff_of_every_workspace_change_objects_of_no_workspace(
    scoped: User, one_of_each_global: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="django.request")
    client, token = logged_in(scoped)
    before = everything()
    answers = {}
    for model in GLOBAL:
        assert isinstance(admin.site._registry[model], WorkspaceFreeAdmin), model
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        obj = scoped if model is User else model._default_manager.first()
        assert obj is not None, model
        data = {"csrfmiddlewaretoken": token, "post": "yes", "name": "taken over",
                "email": "taken@over.example", "is_superuser": "on"}  # fmt: skip
        for url in (
            reverse(f"{base}_add"),
            reverse(f"{base}_change", args=[obj.pk]),
            reverse(f"{base}_delete", args=[obj.pk]),
        ):
            answers[url] = client.post(url, data).status_code
    count("posts on objects of no workspace", len(answers))
    assert {url: status for url, status in answers.items() if status != 403} == {}
    assert everything() == before


def test_it_shows_staff_only_the_people_of_their_workspaces(scoped: User, acme: Workspace) -> None:
    client, _ = logged_in(scoped)
    listed = client.get(reverse("admin:accounts_user_changelist")).context["cl"].result_list
    assert {u.email for u in listed} == {"alice@acme.example", "scoped@tandem.example"}
    bob = User.objects.get(email="bob@globex.example")
    for name in ("change", "history", "delete"):
        assert client.get(reverse(f"admin:accounts_user_{name}", args=[bob.pk])).status_code == 404


def test_it_offers_global_support_staff_a_users_form(world: None) -> None:
    client, _ = logged_in(staff_with_every_permission("s@tandem.example", support_all=True))
    bob = User.objects.get(email="bob@globex.example")
    url = reverse("admin:accounts_user_change", args=[bob.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="email"' in page.content.decode()


# -- CSRF -----------------------------------------------------------------------------------


def test_it_refuses_every_admin_post_without_a_csrf_token(
    world: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="django.security.csrf")
    root = User.objects.create_superuser(email="root@tandem.example", password="x")
    client, _ = logged_in(root)  # the CSRF cookie is set; the posts leave the token out
    before = everything()
    answers = {}
    for route in admin.site.get_urls():
        plain = isinstance(route, URLPattern) and "(?P" not in str(route.pattern)
        if plain and ARG.search(str(route.pattern)) is None:
            url = reverse("admin:index") + str(route.pattern)
            answers[url] = client.post(url, {"post": "yes"}).status_code
    for model, model_admin in admin.site._registry.items():
        obj = model._default_manager.order_by("pk").first()
        pk = obj.pk if obj is not None else root.pk
        base = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for pattern in model_admin.get_urls():
            url = base + ARG.sub(str(pk), str(pattern.pattern))
            data = {"post": "yes", "action": "delete_selected", "name": "taken over",
                    admin.helpers.ACTION_CHECKBOX_NAME: [pk]}  # fmt: skip
            answers[url] = client.post(url, data).status_code
    count("POSTs without a CSRF token", len(answers))
    assert len(answers) >= 6 * len(admin.site._registry)
    assert {url: status for url, status in answers.items() if status != 403} == {}
    assert everything() == before
