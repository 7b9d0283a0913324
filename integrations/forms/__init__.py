"""Validated configuration writes, shared by the customer pages and the admin.

Every form checks its input in ``clean()`` with the engine's own validators (conditions,
actions, mappings) against the two accounts' real fields, and saves through the services of
``integrations/services/setup.py``. Sides are named by their apps ("Kustomer field"), never A/B.

Load the fields once per request, then hand them to every form::

    try:
        fields = ConnectionFields.load(connection)
    except FieldsUnavailable as exc:
        ...  # show exc.message: the app could not be asked (bad subdomain, revoked grant ...)

Constructors (everything after ``data`` is keyword-only):

- ``ConditionForm(data=None, *, fields, direction, instance=None, prefix=None, initial=None)``
  and ``ActionForm(...)`` with the same arguments: one condition / action of a rule of
  ``direction`` (``Rule.Direction``). ``.condition`` / ``.action`` hold the cleaned dict.
  ``ConditionFormSet`` / ``ActionFormSet`` are their formsets (``form_kwargs={"fields":...,
  "direction": ...}``).
- ``RuleForm(data=None, *, fields, connection, direction=None, instance=None, prefix=None)``:
  name, undo, the "other way around" toggle, with ``.conditions`` and ``.actions`` formsets
  (validated by ``is_valid()``); ``.save() -> Rule`` creates or replaces (mirror kept in step).
  ``direction`` is needed for a new rule (defaults to the connection's first synced one).
- ``FieldMappingForm(data=None, *, fields, connection, instance=None, prefix=None)``: a custom
  mapping, or (with ``instance``) toggling / changing one; ``.save() -> FieldMapping``.
- ``FieldMappingToggleForm(data=None, *, fields, instance)``: on/off only; ``.save()``.
- ``ConnectionOptionsForm(data=None, *, instance, fields=None)``: winner, avoid duplicates,
  interval, and the deletions / unsubscribes options only when both apps support them;
  ``.save() -> Connection``.
- ``ConnectionForm(data=None, *, workspace, account_a=None, account_b=None)``: a new
  connection between two of the workspace's accounts; ``.save() -> Connection``.
  ``.connection_fields`` holds the loaded fields after a successful ``is_valid()``.

One module a job: ``fields`` (the apps' fields, loaded once), ``values`` (typed values and the
choice helpers), ``rules`` (rules with their conditions and actions), ``mappings`` (field
mappings), ``connections`` (a connection's options, a new connection).
"""

from integrations.forms.connections import INTERVALS, ConnectionForm, ConnectionOptionsForm
from integrations.forms.fields import ConnectionFields, FieldsUnavailable, SideFields
from integrations.forms.mappings import (
    FieldMappingForm,
    FieldMappingToggleForm,
    parse_value_map,
    value_map_text,
)
from integrations.forms.rules import (
    EXISTS_IN_OTHER,
    ActionForm,
    ActionFormSet,
    ConditionForm,
    ConditionFormSet,
    RuleForm,
)
from integrations.forms.values import (
    OPERATOR_GROUPS,
    OPERATOR_LABELS,
    SuggestingInput,
    type_label,
    typed_value,
    value_text,
)

__all__ = [
    "EXISTS_IN_OTHER",
    "INTERVALS",
    "OPERATOR_GROUPS",
    "OPERATOR_LABELS",
    "ActionForm",
    "ActionFormSet",
    "ConditionForm",
    "ConditionFormSet",
    "ConnectionFields",
    "ConnectionForm",
    "ConnectionOptionsForm",
    "FieldMappingForm",
    "FieldMappingToggleForm",
    "FieldsUnavailable",
    "RuleForm",
    "SideFields",
    "SuggestingInput",
    "parse_value_map",
    "type_label",
    "typed_value",
    "value_map_text",
    "value_text",
]
