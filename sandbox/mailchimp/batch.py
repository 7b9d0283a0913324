"""Batch subscribe, ``POST /lists/{list_id}`` (api-notes §4.3): up to 500 members in one call.
New members are added with their ``status``; an existing one is updated only with
``update_existing`` (else it is an ``ERROR_CONTACT_EXISTS`` error), and then keeps its status
when that would subscribe again someone who unsubscribed or was cleaned. Each member that cannot
be written is an entry of ``errors``; the others are written all the same."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.mailchimp.audiences import (
    Audience,
    check_email,
    check_merge_fields,
    check_status_change,
    render,
    subscriber_hash,
)
from sandbox.mailchimp.errors import ApiError, invalid
from sandbox.mailchimp.schema import check_body

if TYPE_CHECKING:
    from sandbox.mailchimp.app import MailchimpEmulator

MAX_MEMBERS = 500


def subscribe(
    emulator: MailchimpEmulator,
    audience: Audience,
    body: Any,
    *,
    skip_validation: bool,
    skip_duplicates: bool,
) -> dict[str, Any]:
    body = check_body("/lists/{list_id}", "post", body)
    items = body["members"]
    if len(items) > MAX_MEMBERS:
        raise invalid(
            f"You can only subscribe up to {MAX_MEMBERS} members at a time.",
            [{"field": "members", "message": f"At most {MAX_MEMBERS}"}],
        )
    update_existing = bool(body.get("update_existing", False))
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in items:
        email = str(item.get("email_address") or "")
        try:
            email = check_email(email)
            member_hash = subscriber_hash(email)
            if member_hash in seen:
                if skip_duplicates:
                    continue
                raise ApiError(400, detail=f"{email} is listed more than once in this batch.")
            seen.add(member_hash)
            existing = audience.members.get(member_hash)
            if existing is not None and existing["status"] != "archived":
                if not update_existing:
                    errors.append(
                        {
                            "email_address": email,
                            "error_code": "ERROR_CONTACT_EXISTS",
                            "error": f"{email} is already a list member, do you want to "
                            "update? please provide update_existing:true in the request "
                            "body",
                        }
                    )
                    continue
                updated.append(
                    render(audience, _update(emulator, audience, existing, item, skip_validation))
                )
                continue
            if "status" not in item:
                raise invalid(
                    "A new member needs a status.",
                    [{"field": "status", "message": "Please enter a value"}],
                )
            created.append(render(audience, emulator.add_to(audience, item, skip_validation)))
        except ApiError as exc:
            first = (exc.body.get("errors") or [{}])[0]
            errors.append(
                {
                    "email_address": email,
                    "error": exc.body["detail"],
                    "error_code": "ERROR_GENERIC",
                    "field": str(first.get("field") or ""),
                    "field_message": str(first.get("message") or ""),
                }
            )
    return {
        "new_members": created,
        "updated_members": updated,
        "errors": errors,
        "total_created": len(created),
        "total_updated": len(updated),
        "error_count": len(errors),
        "_links": [],
    }


def _update(
    emulator: MailchimpEmulator,
    audience: Audience,
    member: dict[str, Any],
    item: dict[str, Any],
    skip_validation: bool,
) -> dict[str, Any]:
    check_merge_fields(
        audience, item.get("merge_fields") or {}, new=False, skip_validation=skip_validation
    )
    status = item.get("status")
    if status is not None:
        try:
            check_status_change(member, status)
        except ApiError:
            status = None  # kept as it is, as Mailchimp does in a batch
    emulator.apply_to(audience, member, item, status)
    return member
