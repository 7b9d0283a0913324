"""The two apps' fields and capabilities, loaded once per request and handed to every form;
an app that cannot answer is ``FieldsUnavailable`` with a reason safe to show."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accounts.models import ConnectedAccount
from integrations.connectors.accounts import connector_for
from integrations.connectors.base import Capabilities, ConnectorError
from integrations.models import Connection, FieldMapping, Rule, Side
from integrations.sync import mapping as mapping_mod
from integrations.sync.fields import ConditionSpec, FieldSpec


class FieldsUnavailable(Exception):
    """An app could not tell its fields; ``message`` says which and why, safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SideFields:
    """One side of a connection: its app's name, fields and capabilities."""

    side: str
    app: str
    specs: dict[str, FieldSpec]
    capabilities: Capabilities
    # The tags or labels the account already has, where the app lists them (suggestions).
    tag_names: tuple[str, ...] = ()

    @property
    def field_list(self) -> list[FieldSpec]:
        return list(self.specs.values())

    @property
    def specials(self) -> dict[str, ConditionSpec]:
        return {spec.key: spec for spec in self.capabilities.conditions}

    def spec(self, key: str) -> FieldSpec | None:
        """The field ``key`` (the composite ``name`` included)."""
        return mapping_mod.spec_for(key, self.specs, self.capabilities.name_style)

    def label(self, key: str) -> str:
        spec = self.spec(key)
        return spec.label if spec else key


@dataclass(frozen=True)
class ConnectionFields:
    """Both sides' fields and capabilities, loaded once per request."""

    a: SideFields
    b: SideFields

    @classmethod
    def build(
        cls,
        *,
        app_a: str,
        fields_a: Iterable[FieldSpec],
        capabilities_a: Capabilities,
        app_b: str,
        fields_b: Iterable[FieldSpec],
        capabilities_b: Capabilities,
    ) -> ConnectionFields:
        if app_a == app_b:
            app_a, app_b = f"{app_a} (first)", f"{app_b} (second)"
        return cls(
            a=SideFields(Side.A, app_a, {s.key: s for s in fields_a}, capabilities_a),
            b=SideFields(Side.B, app_b, {s.key: s for s in fields_b}, capabilities_b),
        )

    @classmethod
    def load(cls, connection: Connection) -> ConnectionFields:
        """Ask both apps of ``connection`` for their fields (custom ones included), each with
        the connection's choices (a Mailchimp audience has its own merge fields)."""
        return cls.load_accounts(
            connection.account_a,
            connection.account_b,
            choices={side: connection.choices_for(side) for side in (Side.A, Side.B)},
        )

    @classmethod
    def load_accounts(
        cls,
        account_a: ConnectedAccount,
        account_b: ConnectedAccount,
        *,
        choices: Mapping[str, Mapping[str, str]] | None = None,
    ) -> ConnectionFields:
        chosen = choices or {}
        fields_a, caps_a, tags_a = _load_side(account_a, chosen.get(Side.A))
        fields_b, caps_b, tags_b = _load_side(account_b, chosen.get(Side.B))
        name_a, name_b = account_a.app_name, account_b.app_name
        if name_a == name_b:
            name_a, name_b = f"{name_a} ({account_a.label})", f"{name_b} ({account_b.label})"
        return cls(
            a=SideFields(Side.A, name_a, {s.key: s for s in fields_a}, caps_a, tags_a),
            b=SideFields(Side.B, name_b, {s.key: s for s in fields_b}, caps_b, tags_b),
        )

    def side(self, side: str) -> SideFields:
        return self.a if side == Side.A else self.b

    def service_kwargs(self) -> dict[str, Any]:
        """The fields and capabilities arguments every set-up service takes."""
        return {
            "fields_a": self.a.field_list,
            "fields_b": self.b.field_list,
            "capabilities_a": self.a.capabilities,
            "capabilities_b": self.b.capabilities,
        }

    def rule_direction_label(self, direction: str) -> str:
        source, target = rule_sides(direction)
        return f"{self.side(source).app} → {self.side(target).app}"

    def mapping_direction_choices(self) -> list[tuple[str, str]]:
        a, b = self.a.app, self.b.app
        return [
            (FieldMapping.Direction.TWO_WAY, f"Both ways ({a} ⇄ {b})"),
            (FieldMapping.Direction.A_TO_B, f"{a} → {b} only"),
            (FieldMapping.Direction.B_TO_A, f"{b} → {a} only"),
        ]


def _load_side(
    account: ConnectedAccount, choices: Mapping[str, str] | None = None
) -> tuple[list[FieldSpec], Capabilities, tuple[str, ...]]:
    where = f"{account.app_name} ({account.label})"
    try:
        connector = connector_for(account, choices=choices)
        fields = connector.fields()
    except ConnectorError as exc:
        raise FieldsUnavailable(f"{where}: {exc.message}") from None
    except (ValueError, LookupError) as exc:
        # A stored credential the connector refuses (a bad subdomain) or an unknown app.
        raise FieldsUnavailable(f"{where}: {exc}") from None
    return fields, connector.capabilities, _tag_names(connector)


def _tag_names(connector: Any) -> tuple[str, ...]:
    """The labels an app lists (Google contact groups), offered as suggestions; an app that
    cannot list them now only costs the suggestions."""
    groups = getattr(connector, "groups", None)
    if not callable(groups):
        return ()
    try:
        names = groups().values()
    except ConnectorError:
        return ()
    return tuple(sorted({str(name) for name in names if name}, key=str.casefold))


def rule_sides(direction: str) -> tuple[str, str]:
    if direction == Rule.Direction.A_TO_B:
        return Side.A, Side.B
    return Side.B, Side.A
