"""Steps 4 to 6 of the guided set-up (rules, field mappings, options), which are also the
"Edit rules / mappings / options" pages of a running connection. Saving on a paused connection
offers "Save and resume".

The two apps are asked for their fields once per request (``ConnectionFields.load``); an app that
cannot answer becomes a message on the page, never an error page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from integrations import selectors, services
from integrations.catalog import standard_fields
from integrations.connectors.registry import connector_class
from integrations.forms import (
    OPERATOR_LABELS,
    ConnectionFields,
    ConnectionOptionsForm,
    FieldMappingForm,
    FieldMappingToggleForm,
    FieldsUnavailable,
    RuleForm,
    value_text,
)
from integrations.models import Action, Condition, Connection, FieldMapping, Rule, Side
from integrations.sync.records import NAME
from integrations.views.common import (
    managers_only,
    mapping_direction_words,
    rule_direction_words,
    side_names,
    synced_rule_directions,
)
from integrations.views.wizard import steps

RESUMABLE = (Connection.Status.PAUSED, Connection.Status.ERROR)


def _managed(request: HttpRequest, pk: int) -> Connection:
    return selectors.connection_get(user=request.user, connection_id=pk, manage=True)


def _mode(connection: Connection, step: int) -> dict[str, Any]:
    """What the page around a form looks like: the wizard's step list for a draft, a way back
    to the connection and "Save and resume" for a paused one otherwise."""
    draft = connection.status == Connection.Status.DRAFT
    return {
        "connection": connection,
        "names": side_names(connection),
        "wizard": draft,
        "steps": steps(step, connection) if draft else [],
        "can_resume": connection.status in RESUMABLE,
    }


def _load_fields(request: HttpRequest, connection: Connection) -> ConnectionFields | None:
    try:
        return ConnectionFields.load(connection)
    except FieldsUnavailable as exc:
        messages.error(
            request,
            f"Tandem could not read the apps' fields: {exc.message} "
            "Check the connected account, then try again.",
        )
        return None


def _save(form: Any) -> bool:
    """Save a valid form; a refusal the services still raise (the data changed since the form
    was checked) becomes the form's error rather than an error page."""
    try:
        form.save()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            form.add_error(None, exc)
        return False
    return True


def _resume_if_asked(request: HttpRequest, connection: Connection) -> bool:
    if "resume" not in request.POST or connection.status not in RESUMABLE:
        return False
    services.connection_resume(connection=connection)
    services.connection_sync_now(connection=connection)
    messages.success(request, "Saved and resumed: syncing now.")
    return True


# -- Rules in words ------------------------------------------------------------------------------


class _Labels:
    """Field labels of both sides, from the loaded fields or else the apps' standard fields."""

    def __init__(self, connection: Connection, fields: ConnectionFields | None) -> None:
        self.connection = connection
        self.fields = fields

    def label(self, side: str, key: str) -> str:
        if self.fields is not None:
            return self.fields.side(side).label(key)
        if key == NAME:
            return "Name"
        app = self.connection.account(side).app
        return next((s.label for s in standard_fields(app) if s.key == key), key)

    def special(self, side: str, key: str) -> str:
        caps = connector_class(self.connection.account(side).app).capabilities
        return next((c.label for c in caps.conditions if c.key == key), key)

    def noun(self, side: str) -> str:
        return connector_class(self.connection.account(side).app).capabilities.tag_noun


def _condition_words(condition: Condition, rule: Rule, labels: _Labels) -> str:
    source = rule.source_side
    target = Side.B if source == Side.A else Side.A
    if condition.kind == Condition.Kind.EXISTS_IN_OTHER:
        return f"already exists in {side_names(rule.connection)[target]}"
    operator = OPERATOR_LABELS.get(condition.operator, condition.operator)
    value = value_text(condition.value)
    if condition.kind == Condition.Kind.SPECIAL:
        subject = labels.special(source, condition.field)
    else:
        subject = labels.label(source, condition.field)
    return " ".join(part for part in (subject, operator, f"“{value}”" if value else "") if part)


def _action_words(action: Action, rule: Rule, labels: _Labels) -> str:
    target = Side.B if rule.source_side == Side.A else Side.A
    value = value_text(action.value)
    if action.kind == Action.Kind.SET_FIELD:
        return f"set {labels.label(target, action.field)} to “{value}”"
    noun = labels.noun(target)
    verb = "add" if action.kind == Action.Kind.ADD_TAG else "remove"
    return f"{verb} the {noun} “{value}”"


def _rule_rows(connection: Connection, labels: _Labels) -> list[dict[str, Any]]:
    groups = []
    for direction in synced_rule_directions(connection):
        rules = (
            Rule.objects.filter(connection=connection, direction=direction)
            .prefetch_related("conditions", "actions")
            .select_related("mirror", "connection__account_a", "connection__account_b")
            .order_by("position", "id")
        )
        groups.append(
            {
                "direction": direction,
                "label": rule_direction_words(connection, direction),
                "rules": [
                    {
                        "rule": rule,
                        "conditions": [
                            _condition_words(c, rule, labels) for c in rule.conditions.all()
                        ],
                        "actions": [_action_words(a, rule, labels) for a in rule.actions.all()],
                        "mirrored": rule.mirror_id is not None or hasattr(rule, "mirrored_by"),
                    }
                    for rule in rules
                ],
            }
        )
    return groups


@login_required
@managers_only
def connection_rules(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    labels = _Labels(connection, _load_fields(request, connection))
    return render(
        request,
        "integrations/rules.html",
        {**_mode(connection, 4), "groups": _rule_rows(connection, labels)},
    )


def _more_parts(data: QueryDict, form: RuleForm) -> QueryDict | None:
    """The posted data with one more blank condition or action row, when the user asked for
    one (a page without JavaScript grows its formsets by posting)."""
    for button, formset in (("add_condition", form.conditions), ("add_action", form.actions)):
        if button in data:
            grown = data.copy()
            key = f"{formset.prefix}-TOTAL_FORMS"
            try:
                grown[key] = str(min(int(grown.get(key, "0")) + 1, 20))
            except ValueError:
                return None
            return grown
    return None


def _rule_page(request: HttpRequest, connection: Connection, rule: Rule | None) -> HttpResponse:
    fields = _load_fields(request, connection)
    if fields is None:
        return redirect("integrations:connection_rules", pk=connection.pk)
    direction = request.GET.get("direction") or request.POST.get("direction")
    if rule is None and direction not in synced_rule_directions(connection):
        direction = None
    post = request.method == "POST"
    form = RuleForm(
        request.POST if post else None,
        fields=fields,
        connection=connection,
        direction=direction,
        instance=rule,
    )
    if post:
        grown = _more_parts(request.POST, form)
        if grown is not None:
            form = RuleForm(
                grown, fields=fields, connection=connection, direction=direction, instance=rule
            )
        elif form.is_valid() and _save(form):
            messages.success(request, "Rule saved." if rule else "Rule added.")
            _resume_if_asked(request, connection)
            return redirect("integrations:connection_rules", pk=connection.pk)
    return render(
        request,
        "integrations/rule_form.html",
        {
            **_mode(connection, 4),
            "form": form,
            "rule": rule,
            "direction": form.direction,
            "direction_label": rule_direction_words(connection, form.direction),
            "grown": post and _more_parts(request.POST, form) is not None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def rule_new(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_page(request, _managed(request, pk), None)


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def rule_edit(request: HttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    rule = get_object_or_404(Rule, pk=rule_pk, connection=connection)
    return _rule_page(request, connection, rule)


@login_required
@require_POST
@managers_only
def rule_delete(request: HttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    rule = get_object_or_404(Rule, pk=rule_pk, connection=connection)
    services.rule_delete(rule=rule)
    messages.success(request, "Rule deleted.")
    return redirect("integrations:connection_rules", pk=connection.pk)


# -- Field mappings --------------------------------------------------------------------------


def _mapping_rows(connection: Connection, fields: ConnectionFields | None) -> list[dict[str, Any]]:
    labels = _Labels(connection, fields)
    rows = []
    for mapping in FieldMapping.objects.filter(connection=connection).order_by(
        "-is_default", "field_a", "id"
    ):
        rows.append(
            {
                "mapping": mapping,
                "label_a": labels.label(Side.A, mapping.field_a),
                "label_b": labels.label(Side.B, mapping.field_b),
                "direction": mapping_direction_words(connection, mapping.direction),
                "prefix": f"m{mapping.pk}",
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def connection_mappings(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    fields = _load_fields(request, connection)
    form = None
    if fields is not None:
        post = request.method == "POST"
        form = FieldMappingForm(
            request.POST if post else None, fields=fields, connection=connection
        )
        if post and form.is_valid() and _save(form):
            messages.success(request, "Mapping added.")
            _resume_if_asked(request, connection)
            return redirect("integrations:connection_mappings", pk=connection.pk)
    return render(
        request,
        "integrations/mappings.html",
        {**_mode(connection, 5), "rows": _mapping_rows(connection, fields), "form": form},
    )


@login_required
@require_POST
@managers_only
def mapping_toggle(request: HttpRequest, pk: int, mapping_pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    mapping = get_object_or_404(FieldMapping, pk=mapping_pk, connection=connection)
    fields = _load_fields(request, connection)
    if fields is not None:
        form = FieldMappingToggleForm(
            request.POST, fields=fields, instance=mapping, prefix=f"m{mapping.pk}"
        )
        if form.is_valid() and _save(form):
            messages.success(
                request, "Mapping turned on." if form.instance.enabled else "Mapping turned off."
            )
            _resume_if_asked(request, connection)
        else:
            for error in form.non_field_errors():
                messages.error(request, f"This mapping cannot be turned on: {error}")
    return redirect("integrations:connection_mappings", pk=connection.pk)


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def mapping_edit(request: HttpRequest, pk: int, mapping_pk: int) -> HttpResponse:
    """Change a mapping's direction, value map or on/off; its two fields stay what they are."""
    connection = _managed(request, pk)
    mapping = get_object_or_404(FieldMapping, pk=mapping_pk, connection=connection)
    fields = _load_fields(request, connection)
    if fields is None:
        return redirect("integrations:connection_mappings", pk=connection.pk)
    post = request.method == "POST"
    form = FieldMappingForm(
        request.POST if post else None, fields=fields, connection=connection, instance=mapping
    )
    if post and form.is_valid() and _save(form):
        messages.success(request, "Mapping saved.")
        _resume_if_asked(request, connection)
        return redirect("integrations:connection_mappings", pk=connection.pk)
    labels = _Labels(connection, fields)
    return render(
        request,
        "integrations/mapping_form.html",
        {
            **_mode(connection, 5),
            "form": form,
            "mapping": mapping,
            "label_a": labels.label(Side.A, mapping.field_a),
            "label_b": labels.label(Side.B, mapping.field_b),
        },
    )


# -- Options -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def connection_options(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    post = request.method == "POST"
    form = ConnectionOptionsForm(request.POST if post else None, instance=connection)
    if post and form.is_valid() and _save(form):
        saved = form.instance
        messages.success(request, "Options saved.")
        if saved.status == Connection.Status.DRAFT:
            return redirect("integrations:connection_review", pk=saved.pk)
        _resume_if_asked(request, saved)
        return redirect("integrations:connection_detail", pk=saved.pk)
    return render(request, "integrations/options.html", {**_mode(connection, 6), "form": form})
