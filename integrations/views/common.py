"""What every connection page shares: sides named by their apps, and the 403 page for members
who may look but not change."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from integrations import selectors
from integrations.models import Connection, FieldMapping, Rule, Side

View = TypeVar("View", bound=Callable[..., HttpResponse])


def forbidden_page(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "integrations/forbidden.html", {"reason": reason}, status=403)


def managers_only(view: View) -> View:
    """Answer a member without the owner or admin role with the 403 page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except selectors.Forbidden as exc:
            return forbidden_page(request, str(exc))

    return cast(View, wrapped)


def side_name(connection: Connection, side: str) -> str:
    """The app on ``side``; with the same app on both sides, also the account."""
    account = connection.account(side)
    other = connection.account(Side.B if side == Side.A else Side.A)
    if account.app == other.app:
        return f"{account.app_name} ({account.label})"
    return account.app_name


def side_names(connection: Connection) -> dict[str, str]:
    return {"a": side_name(connection, Side.A), "b": side_name(connection, Side.B)}


def direction_words(connection: Connection) -> str:
    names = side_names(connection)
    if connection.direction == Connection.Direction.A_TO_B:
        return f"One way: {names['a']} → {names['b']}"
    if connection.direction == Connection.Direction.B_TO_A:
        return f"One way: {names['b']} → {names['a']}"
    return f"Two-way: {names['a']} ⇄ {names['b']}"


def rule_direction_words(connection: Connection, direction: str) -> str:
    names = side_names(connection)
    if direction == Rule.Direction.A_TO_B:
        return f"From {names['a']} to {names['b']}"
    return f"From {names['b']} to {names['a']}"


def mapping_direction_words(connection: Connection, direction: str) -> str:
    names = side_names(connection)
    if direction == FieldMapping.Direction.A_TO_B:
        return f"{names['a']} → {names['b']}"
    if direction == FieldMapping.Direction.B_TO_A:
        return f"{names['b']} → {names['a']}"
    return "Both ways"


def synced_rule_directions(connection: Connection) -> list[str]:
    return [
        direction
        for direction, target in ((Rule.Direction.A_TO_B, Side.B), (Rule.Direction.B_TO_A, Side.A))
        if connection.syncs_towards(target)
    ]
