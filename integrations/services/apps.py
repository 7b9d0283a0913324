"""Writes of the apps pages: votes for apps on the pipeline, and requests for apps not listed."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from integrations.catalog import PIPELINE_BY_SLUG
from integrations.models import AppRequest, AppVote

NAME_MAX = AppRequest._meta.get_field("name").max_length or 120
NOTE_MAX = 2000


def app_vote_create(*, user: Any, app: str) -> AppVote:
    """One vote of ``user`` for a pipeline app; a second vote for the same app is refused."""
    found = PIPELINE_BY_SLUG.get(app)
    if found is None:
        raise ValidationError({"app": "This app is not on the pipeline."})
    try:
        with transaction.atomic():
            return AppVote.objects.create(user=user, app=app)
    except IntegrityError:
        raise ValidationError(
            {"app": f"You already voted for {found.name}."}, code="already_voted"
        ) from None


def app_request_create(*, user: Any, name: str, note: str = "") -> AppRequest:
    """Ask for an app that is neither supported nor on the pipeline."""
    name = " ".join(str(name or "").split())
    note = str(note or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the app you would like Tandem to sync."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the app's name under {NAME_MAX} characters."
    if len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters."
    if errors:
        raise ValidationError(errors)
    return AppRequest.objects.create(user=user, name=name, note=note)
