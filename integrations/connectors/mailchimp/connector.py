"""The Mailchimp connector: the members of one audience, read by ``since_last_changed``.

One connection syncs one audience: the connection choice ``list_id`` (options from the account's
audiences), stored on the connection (``Connection.choices``) and handed over as ``choices=``.
A connection without a choice syncs the account's default: the ``list_id`` the account keeps
with its credentials (set when it was connected, or its only audience), so accounts and
connections made before connections stored their choices work as they did, and one account
serves connections to several audiences.

Writes never change anyone's subscription status: new members are added with ``PUT`` on the
subscriber hash and ``status_if_new`` (an existing member keeps the status it has), updates send
merge fields and the email only, so nobody who unsubscribed or was cleaned is subscribed again.
A contact unsubscribed in the other app (``NewContact.unsubscribed``) joins as unsubscribed.
Nothing is ever deleted: no code path archives a member or deletes one permanently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.connectors import feed
from integrations.connectors.base import (
    AUTH_OAUTH2_OR_CREDENTIALS,
    AccountInfo,
    Capabilities,
    ConnectionChoice,
    Connector,
    ConnectorError,
    CredentialField,
)
from integrations.connectors.batch import chunked, failed, write_each
from integrations.connectors.http import HttpClient
from integrations.connectors.mailchimp import auth, mappers
from integrations.connectors.mailchimp.client import (
    MAX_BATCH,
    MAX_COUNT,
    MailchimpClient,
    MailchimpRefusal,
)
from integrations.connectors.mailchimp.slots import ConnectionSlots, slots_key
from integrations.sync.fields import ConditionSpec, FieldSpec, NameStyle
from integrations.sync.records import (
    TAGS,
    Checkpoint,
    Contact,
    ContactUpdate,
    NewContact,
    Page,
    WriteResult,
    normalize_email,
)

API_KEY_RE = re.compile(r"^[0-9a-zA-Z]{8,64}-([a-z]{2}\d{1,3})$")
LIST_CHOICE = "list_id"
# New members join as subscribed (an existing member keeps its status), unless the contact
# unsubscribed in the other app: then it joins as unsubscribed, never subscribed.
STATUS_IF_NEW = "subscribed"
STATUS_IF_UNSUBSCRIBED = "unsubscribed"
ONE_SECOND = dt.timedelta(seconds=1)


def data_center(api_key: Any) -> str:
    """The data center an API key belongs to (``...-us19`` -> ``us19``); ``ValueError``
    saying what is wrong otherwise."""
    match = API_KEY_RE.fullmatch(str(api_key or "").strip())
    if match is None:
        raise ValueError(
            "A Mailchimp API key ends with its data center after a dash, like "
            "0123abcd...-us19; copy the whole key from Account > Extras > API keys."
        )
    return match.group(1)


def _status_is(record: Contact, value: Any) -> bool:
    return bool(value) and record.facts.get(mappers.STATUS_FACT) == value


def _has_tag(record: Contact, value: Any) -> bool:
    wanted = str(value or "").strip().casefold()
    return bool(wanted) and any(t.casefold() == wanted for t in record.tags)


def _lacks_tag(record: Contact, value: Any) -> bool:
    return not _has_tag(record, value)


LIST_ID_FIELD = CredentialField(
    "list_id",
    "Audience ID",
    required=False,
    help_text="The default audience of its connections (each connection may choose "
    "another): Audience > Settings > Audience name and defaults; leave it empty when "
    "the account has one audience",
)


class MailchimpConnector(Connector):
    slug = "mailchimp"
    name = "Mailchimp"
    credential_fields = (
        # An API key, or an OAuth token with its data center: one of the two is required.
        CredentialField(
            "api_key",
            "API key",
            secret=True,
            required=False,
            help_text="Account > Extras > API keys; it ends like -us19",
        ),
        LIST_ID_FIELD,
        CredentialField("access_token", "OAuth access token", secret=True, required=False),
        CredentialField("dc", "Data center of the OAuth token (like us19)", required=False),
    )
    secret_credential_keys: ClassVar[frozenset[str]] = frozenset({"api_key", "access_token"})
    # Members per listing page: the API's largest.
    page_size: ClassVar[int] = MAX_COUNT
    # From this many creates on, batch subscribe (one call) beats one PUT each.
    batch_min: ClassVar[int] = 3
    capabilities = Capabilities(
        name_style=NameStyle.SPLIT,
        # Mailchimp's consent page, or the API key typed in.
        auth=AUTH_OAUTH2_OR_CREDENTIALS,
        oauth=auth.OAUTH,
        credentials_form=(
            CredentialField(
                "api_key",
                "API key",
                secret=True,
                help_text="Account > Extras > API keys; it ends like -us19",
            ),
            LIST_ID_FIELD,
        ),
        tag_noun="tag",
        supports_deletions=True,
        supports_unsubscribes=True,
        read_page_size=MAX_COUNT,
        create_batch_size=MAX_BATCH,
        update_batch_size=50,
        lookup_batch_size=50,
        connection_choices=(
            ConnectionChoice(
                LIST_CHOICE, "Audience", "The Mailchimp audience this connection syncs."
            ),
        ),
        conditions=(
            ConditionSpec(
                "mailchimp.status", "Subscription status", _status_is, choices=mappers.STATUSES
            ),
            ConditionSpec("mailchimp.has_tag", "Has tag", _has_tag),
            ConditionSpec("mailchimp.lacks_tag", "Does not have tag", _lacks_tag),
        ),
    )

    @sensitive_variables()
    def __init__(
        self,
        credentials: Mapping[str, Any],
        *,
        http: HttpClient | None = None,
        choices: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(credentials, http=http, **kwargs)
        # An OAuth account signs in with its token (Bearer) on the data center kept with it.
        self.oauth = bool(self.credentials.get("access_token"))
        try:
            self.dc = (
                auth.oauth_data_center(self.credentials.get("dc"))
                if self.oauth
                else data_center(self.credentials.get("api_key"))
            )
        except ValueError as exc:
            raise ConnectorError(f"Mailchimp: {exc}", permanent=True) from None
        base_url = settings.MAILCHIMP_BASE_URL_TEMPLATE.format(dc=self.dc)
        if not isinstance(self.http.session, ConnectionSlots):
            self.http.session = ConnectionSlots(self.http.session, slots_key(self._api_key()))
        self.client = MailchimpClient(self.http, base_url, api_key=self._api_key, bearer=self.oauth)
        chosen = (choices or {}).get(LIST_CHOICE) or self.credentials.get(LIST_CHOICE) or ""
        self._list_id = str(chosen).strip()
        self._merge: dict[str, FieldSpec] | None = None

    @classmethod
    @sensitive_variables()
    def validate_credentials(cls, credentials: Mapping[str, Any]) -> dict[str, Any]:
        cleaned = super().validate_credentials(credentials)
        if cleaned.get("access_token"):
            cleaned["dc"] = auth.oauth_data_center(cleaned.get("dc"))
        elif not cleaned.get("api_key"):
            raise ValueError(
                "API key is required (or connect the account through Mailchimp's sign-in page)."
            )
        else:
            data_center(cleaned.get("api_key"))
        list_id = str(cleaned.get(LIST_CHOICE) or "")
        if list_id and not re.fullmatch(r"[0-9a-z]{1,32}", list_id):
            raise ValueError("A Mailchimp audience ID is letters and digits, like a6b5da1054.")
        return cleaned

    @classmethod
    @sensitive_variables()
    def complete_oauth(cls, http: HttpClient, credentials: dict[str, Any]) -> dict[str, Any]:
        return auth.complete_oauth(http, credentials)

    @sensitive_variables()
    def _api_key(self) -> str:
        """The secret each call sends: the OAuth token, else the API key."""
        key = "access_token" if self.oauth else "api_key"
        return str(self.credentials.get(key) or "").strip()

    # ---- the audience ------------------------------------------------------------------------

    def connection_choice_options(self, key: str) -> list[tuple[str, str]]:
        if key != LIST_CHOICE:
            return super().connection_choice_options(key)
        return [(str(a["id"]), str(a.get("name") or a["id"])) for a in self.client.lists()]

    @property
    def list_id(self) -> str:
        """The audience this connector syncs: the choice made, or the account's only one."""
        if not self._list_id:
            audiences = self.client.lists()
            if len(audiences) != 1:
                raise ConnectorError(
                    f"Mailchimp: the account has {len(audiences)} audiences; choose the one to "
                    "sync (the connection's Audience).",
                    permanent=True,
                )
            self._list_id = str(audiences[0]["id"])
        return self._list_id

    def _merge_fields(self) -> dict[str, FieldSpec]:
        """The audience's merge fields: merge tag -> Tandem field (read once)."""
        if self._merge is None:
            self._merge = dict(mappers.field_of(m) for m in self.client.merge_fields(self.list_id))
        return self._merge

    # ---- calls -------------------------------------------------------------------------------

    def check(self) -> AccountInfo:
        """The key is tried on ``/ping``; then the audience must be one of the account's, and
        an account of several audiences must say which one (they are named in the error)."""
        try:
            self.client.ping()
        except ConnectorError as exc:
            if exc.status is None and not exc.permanent:
                raise ConnectorError(
                    f"Mailchimp: the {self.dc} data center could not be reached; check the "
                    "API key's suffix.",
                ) from None
            raise
        audiences = {str(a["id"]): str(a.get("name") or "") for a in self.client.lists()}
        identity = str(self.credentials.get("email") or "") if self.oauth else ""
        if self.oauth and not self._list_id and len(audiences) != 1:
            # Connected through the consent page, where no audience is asked for: each
            # connection chooses its own.
            return AccountInfo(
                label=f"{identity or 'Mailchimp account'} ({self.dc})",
                details={"dc": self.dc},
                identity=identity,
            )
        if self._list_id not in audiences and (self._list_id or len(audiences) != 1):
            named = "; ".join(f"{name} ({list_id})" for list_id, name in audiences.items())
            wrong = f"has no audience {self._list_id!r}" if self._list_id else "has several"
            raise ConnectorError(
                f"Mailchimp: this account {wrong}; give the Audience ID of the one to sync: "
                f"{named or 'none found'}.",
                permanent=True,
            )
        list_id = self._list_id or next(iter(audiences))
        if not self._list_id:
            # The account's only audience: kept with the credentials, so a second audience
            # added later does not leave the account without its choice.
            self._list_id = list_id
            self.save_credentials({**self.credentials, LIST_CHOICE: list_id})
        return AccountInfo(
            label=f"{audiences[list_id]} ({self.dc})",
            details={"dc": self.dc, "list_id": list_id, "audience": audiences[list_id]},
            identity=identity,
        )

    @classmethod
    def standard_fields(cls) -> tuple[FieldSpec, ...]:
        return mappers.STANDARD_FIELDS

    def fields(self) -> list[FieldSpec]:
        merge = list(self._merge_fields().values())
        return [mappers.EMAIL_FIELD, *merge, mappers.TAGS_FIELD]

    def _contact(self, member: Mapping[str, Any]) -> Contact:
        return mappers.contact_from_member(member, self._merge_fields())

    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        """Members changed since the checkpoint, oldest ``last_changed`` first, then the
        members archived since then (archived members are listed only by their status).

        Offset paging shifts when members change meanwhile, so each full page re-anchors the
        read on the last ``last_changed`` it saw (the kit's cursor drops the ties already
        applied). The checkpoint holds the kit's cursor and ``archived_since`` /
        ``archived_seen`` for the archived members."""
        self._merge_fields()
        checkpoint = checkpoint or {}
        main = {k: checkpoint[k] for k in ("updated_at", "seen_ids", "revs") if k in checkpoint}
        archived = {
            k: checkpoint[k] for k in ("archived_since", "archived_seen") if k in checkpoint
        }
        latest: Checkpoint = dict(main)
        for page in feed.updated_at_pages(main or None, self._search_changed, app_name=self.name):
            latest = dict(page.checkpoint)
            page.checkpoint = {**latest, **archived}
            yield page
        yield from self._archived_pages(latest, archived)

    def _search_changed(self, since: str | None) -> Iterator[feed.Listed]:
        anchor = mappers.parse_time(since)
        offset = 0
        while True:
            # ``since_last_changed`` is "changed after": ask from one second earlier and keep
            # the stamps at or after the anchor, so no member sharing its second is missed.
            query = None if anchor is None else (anchor - ONE_SECOND).isoformat()
            body = self.client.members(
                self.list_id, since=query, offset=offset, count=self.page_size
            )
            page = body.get("members") or []
            kept = [m for m in page if _at_or_after(m, anchor)]
            full = len(page) >= self.page_size
            yield feed.Listed(
                [(self._contact(m), m.get("last_changed")) for m in kept], last=not full
            )
            if not full:
                return
            last = mappers.parse_time(page[-1].get("last_changed"))
            if last is not None and last != anchor:
                anchor, offset = last, 0
            else:
                offset += len(page)  # a whole page in one second: page on within it

    def _archived_pages(self, main: Checkpoint, archived: Checkpoint) -> Iterator[Page]:
        since = mappers.parse_time(archived.get("archived_since"))
        seen = set(filter(None, str(archived.get("archived_seen") or "").split(",")))
        stamp = str(archived.get("archived_since") or "")
        query = None if since is None else (since - ONE_SECOND).isoformat()
        offset = 0
        while True:
            body = self.client.members(
                self.list_id,
                since=query,
                status=mappers.ARCHIVED,
                offset=offset,
                count=self.page_size,
            )
            page = body.get("members") or []
            records = []
            for member in page:
                if not _at_or_after(member, since):
                    continue
                at = str(member.get("last_changed") or "")
                if at == stamp and mappers.member_id(member) in seen:
                    continue
                if at != stamp:
                    stamp, seen = at, set()
                seen.add(mappers.member_id(member))
                records.append(self._contact(member))
            offset += len(page)
            last = len(page) < self.page_size
            if records or last:
                state = {"archived_since": stamp or None, "archived_seen": ",".join(sorted(seen))}
                yield Page(records=records, checkpoint={**main, **state}, full_scan=since is None)
            if last:
                return

    def get_many(self, ids: list[str]) -> list[Contact]:
        found = []
        for record_id in ids:
            member = self.client.member(self.list_id, record_id)
            if member is not None:
                found.append(self._contact(member))
        return found

    def find_by_emails(self, emails: list[str]) -> dict[str, list[Contact]]:
        """Members by email (one read each: the id is the email's hash); archived ones are
        left out, as deleted records are."""
        found: dict[str, list[Contact]] = {}
        for email in dict.fromkeys(normalize_email(e) for e in emails if e and e.strip()):
            member = self.client.member(self.list_id, mappers.subscriber_hash(email))
            if member is not None and member.get("status") != mappers.ARCHIVED:
                found[email] = [self._contact(member)]
        return found

    # ---- writes ------------------------------------------------------------------------------

    def _problem(self, values: Mapping[str, Any]) -> str:
        """Why Mailchimp would refuse these values, checked before anything is sent."""
        merge = {spec.key: spec for spec in self._merge_fields().values()}
        for key, value in values.items():
            if key in (mappers.EMAIL, TAGS, "emails"):
                continue
            spec = merge.get(key)
            if spec is None:
                return f"Mailchimp refused {key}: this audience has no such merge field"
            reason = mappers.value_problem(spec, value)
            if reason:
                return f"Mailchimp refused {key}: {reason}"
        return ""

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        """New members join subscribed, or unsubscribed when the contact unsubscribed in the
        other app (``_status_of``). From ``batch_min`` items on, they are added by batch
        subscribe (500 a call, existing members left alone); one that exists after all (a
        retry, a race) is then written by ``PUT`` on its subscriber hash with
        ``status_if_new``, so it is updated and keeps its status."""
        results: dict[int, WriteResult] = {}
        ready: dict[int, dict[str, Any]] = {}
        for index, item in enumerate(items):
            email = _email_of(item.values)
            problem = self._problem(item.values)
            if not email:
                problem = "Mailchimp needs an email address for a member"
            if problem:
                results[index] = WriteResult(ref=item.ref, error=problem, permanent=True)
            else:
                ready[index] = {
                    "email_address": email,
                    "merge_fields": mappers.merge_body(item.values, self._merge_fields()),
                }
        one_by_one = list(ready)
        if len(ready) >= self.batch_min:
            one_by_one = []
            for chunk in chunked(list(ready), MAX_BATCH):
                batched, retry = self._batch_create(items, {i: ready[i] for i in chunk})
                results.update(batched)
                one_by_one.extend(retry)
        written = write_each(
            one_by_one,
            ref=lambda index: items[index].ref,
            write=lambda index: self._create(items[index], ready[index]),
        )
        results.update(zip(one_by_one, written, strict=True))
        return [results[index] for index in range(len(items))]

    def _batch_create(
        self, items: list[NewContact], bodies: dict[int, dict[str, Any]]
    ) -> tuple[dict[int, WriteResult], list[int]]:
        """Results of one batch subscribe, and the items to write one by one (those that
        exist already, or all of them when Mailchimp refused the batch as a whole)."""
        members = [{**body, "status": _status_of(items[i])} for i, body in bodies.items()]
        try:
            answer = self.client.batch_subscribe(self.list_id, members)
        except MailchimpRefusal:
            return {}, list(bodies)
        except ConnectorError as exc:
            return {i: failed(items[i].ref, exc) for i in bodies}, []
        by_email = {
            normalize_email(str(m.get("email_address") or "")): m
            for m in answer.get("new_members") or []
        }
        errors = {
            normalize_email(str(e.get("email_address") or "")): e
            for e in answer.get("errors") or []
        }
        results: dict[int, WriteResult] = {}
        retry: list[int] = []
        for index, body in bodies.items():
            email = normalize_email(body["email_address"])
            ref = items[index].ref
            error = errors.get(email)
            if email in by_email:
                member = by_email[email]
                if items[index].values.get(TAGS):
                    member = self._add_tags(str(member["id"]), items[index]) or member
                results[index] = WriteResult(ref=ref, record=self._contact(member))
            elif error is not None and error.get("error_code") == "ERROR_CONTACT_EXISTS":
                retry.append(index)
            elif error is not None:
                reason = str(error.get("error") or "refused")
                results[index] = WriteResult(
                    ref=ref, error=f"Mailchimp refused the member: {reason}"
                )
            else:
                results[index] = WriteResult(
                    ref=ref, permanent=False, error="Mailchimp: the batch reported no result"
                )
        return results, retry

    def _create(self, item: NewContact, body: dict[str, Any]) -> WriteResult:
        member_hash = mappers.subscriber_hash(body["email_address"])
        sent = {**body, "status_if_new": _status_of(item)}
        member = self.client.upsert_member(self.list_id, member_hash, sent)
        if item.values.get(TAGS):
            member = self._add_tags(member_hash, item) or member
        return WriteResult(ref=item.ref, record=self._contact(member))

    def _add_tags(self, member_hash: str, item: NewContact) -> dict[str, Any] | None:
        tags = [str(t) for t in item.values.get(TAGS) or []]
        self.client.set_tags(
            self.list_id, member_hash, [{"name": t, "status": "active"} for t in tags]
        )
        return self.client.member(self.list_id, member_hash)

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        """``PATCH`` the changed merge fields (and the email when it is no longer the
        member's) on the member's ``contact_id``, which an email change leaves as it is."""
        return write_each(items, ref=lambda item: item.id, write=self._update)

    def _update(self, item: ContactUpdate) -> WriteResult:
        problem = self._problem(item.changes)
        if problem:
            return WriteResult(ref=item.id, error=problem, permanent=True)
        current = self.client.member(self.list_id, item.id)
        if current is None or current.get("status") == mappers.ARCHIVED:
            return WriteResult(ref=item.id, error="Mailchimp: the member is gone (archived)")
        body: dict[str, Any] = {}
        merge = mappers.merge_body(item.changes, self._merge_fields())
        if merge:
            body["merge_fields"] = merge
        email = _email_of(item.changes)
        if email and normalize_email(email) != normalize_email(str(current["email_address"])):
            body["email_address"] = email
        member = self.client.update_member(self.list_id, item.id, body) if body else current
        if TAGS in item.changes:
            wanted = {str(t) for t in item.changes[TAGS] or []}
            have = {str(t.get("name")) for t in member.get("tags") or []}
            tags = [{"name": t, "status": "active"} for t in sorted(wanted - have)]
            tags += [{"name": t, "status": "inactive"} for t in sorted(have - wanted)]
            if tags:
                self.client.set_tags(self.list_id, str(member["id"]), tags)
                member = self.client.member(self.list_id, str(member["id"])) or member
        return WriteResult(ref=item.id, record=self._contact(member))

    def _retag(self, ids: list[str], tag: str, active: bool) -> list[WriteResult]:
        results = []
        for record_id in ids:
            try:
                self.client.set_tags(
                    self.list_id,
                    record_id,
                    [{"name": tag, "status": "active" if active else "inactive"}],
                )
                member = self.client.member(self.list_id, record_id)
            except ConnectorError as exc:
                if exc.status == 404:
                    results.append(WriteResult(ref=record_id, error="Mailchimp: member not found"))
                    continue
                results.append(failed(record_id, exc))
                continue
            if member is None:
                results.append(WriteResult(ref=record_id, error="Mailchimp: member not found"))
            else:
                results.append(WriteResult(ref=record_id, record=self._contact(member)))
        return results

    def tag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._retag(ids, tag, True)

    def untag(self, ids: list[str], tag: str) -> list[WriteResult]:
        return self._retag(ids, tag, False)


def _status_of(item: NewContact) -> str:
    """The status a new member joins with: the other app's consent, never subscribed again."""
    return STATUS_IF_UNSUBSCRIBED if item.unsubscribed else STATUS_IF_NEW


def _email_of(values: Mapping[str, Any]) -> str:
    email = values.get(mappers.EMAIL)
    if not email:
        emails = values.get("emails") or []
        email = emails[0] if emails else ""
    return str(email or "").strip()


def _at_or_after(member: Mapping[str, Any], anchor: dt.datetime | None) -> bool:
    if anchor is None:
        return True
    stamp = mappers.parse_time(member.get("last_changed"))
    return stamp is not None and stamp >= anchor
