"""A connection's per-side choices (``Connection.choices``, ``{side: {key: value}}``): the
choices an app declares (``Capabilities.connection_choices``; Mailchimp: the audience), checked
against the options the account offers (``Connector.connection_choice_options``).

A side without a choice keeps the connector's default: a Mailchimp account that still holds a
``list_id`` credential (or has a single audience) syncs that audience, as before connections
stored their choices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import ConnectedAccount
from integrations.connectors.base import ConnectionChoice, ConnectorError
from integrations.connectors.registry import connector_class

FIELD = "choices"


class ChoicesUnavailable(Exception):
    """The account could not list its options; ``message`` says which and why, safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def declared_choices(account: ConnectedAccount) -> tuple[ConnectionChoice, ...]:
    return connector_class(account.app).capabilities.connection_choices


def choice_options(account: ConnectedAccount, key: str) -> list[tuple[str, str]]:
    """(value, label) pairs ``account`` offers for the choice ``key`` (one API call)."""
    from integrations.connectors.accounts import connector_for

    try:
        return connector_for(account).connection_choice_options(key)
    except ConnectorError as exc:
        raise ChoicesUnavailable(
            f"{account.app_name} ({account.label}) could not list its options: {exc.message}"
        ) from None


def _shape_problems(
    accounts: Mapping[str, ConnectedAccount], choices: Any
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Problems of shape and of keys no app declares, and the choices as text."""
    if not isinstance(choices, dict):
        return ['must be a JSON object such as {"b": {"list_id": "..."}}.'], {}
    problems: list[str] = []
    clean: dict[str, dict[str, str]] = {}
    for side, chosen in choices.items():
        if side not in accounts:
            problems.append(f"{side!r} is no side of a connection (use 'a' or 'b').")
            continue
        account = accounts[side]
        if not isinstance(chosen, dict):
            problems.append(f"side {side}: must be an object of choices, not {chosen!r}.")
            continue
        declared = {c.key: c for c in declared_choices(account)}
        for key, value in chosen.items():
            if key not in declared:
                asks = ", ".join(f"{c.label} ({c.key})" for c in declared.values()) or "nothing"
                problems.append(
                    f"{account.app_name} asks for no choice {key!r} (it asks for: {asks})."
                )
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"{account.app_name}: choose the {declared[key].label}.")
            else:
                clean.setdefault(side, {})[key] = value.strip()
    return problems, clean


def connection_choices_validate(
    *,
    account_a: ConnectedAccount,
    account_b: ConnectedAccount,
    choices: Any,
    stored: Any = None,
) -> None:
    """Refuse choices of an unknown shape or key, or a value the account does not offer, with
    a clear message under ``choices``. A side whose choices equal ``stored`` (what the
    connection already holds) is not asked again: editing other settings costs no API call."""
    accounts = {"a": account_a, "b": account_b}
    problems, clean = _shape_problems(accounts, choices)
    stored_sides = stored if isinstance(stored, dict) else {}
    for side, chosen in clean.items():
        if chosen == stored_sides.get(side):
            continue
        account = accounts[side]
        labels = {c.key: c.label for c in declared_choices(account)}
        for key, value in chosen.items():
            try:
                options = choice_options(account, key)
            except ChoicesUnavailable as exc:
                problems.append(exc.message)
                continue
            if value not in dict(options):
                offered = "; ".join(f"{name} ({v})" for v, name in options) or "none"
                problems.append(
                    f"{account.app_name} ({account.label}) has no {labels[key]} {value!r}; "
                    f"choose one of: {offered}."
                )
    if problems:
        raise ValidationError({FIELD: problems})
