from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from accounts.models import ConnectedAccount, Workspace
from integrations.sync import sides
from integrations.sync.mapping import value_map_problem
from integrations.sync.records import checkpoint_problem


class Side(models.TextChoices):
    A = "a", "Side A"
    B = "b", "Side B"


class Direction(models.TextChoices):
    """The one vocabulary of directions (``sync.sides.Direction``): a connection's and a field
    mapping's are any of the three, a rule's one of the two one-way directions."""

    TWO_WAY = sides.Direction.TWO_WAY.value, "Two-way"
    A_TO_B = sides.Direction.A_TO_B.value, "A → B"
    B_TO_A = sides.Direction.B_TO_A.value, "B → A"


ONE_WAY_CHOICES = [(Direction.A_TO_B.value, "A → B"), (Direction.B_TO_A.value, "B → A")]


# A run is scheduled at most this far ahead: a longer interval would be a connection that never
# runs (or a date past what the database holds).
MIN_SYNC_INTERVAL = 60
MAX_SYNC_INTERVAL = 7 * 24 * 3600


def default_sync_interval() -> int:
    """A new connection's interval: ``TANDEM_SYNC_INTERVAL_SECONDS`` (a minute unless set),
    held within the bounds above."""
    seconds = int(settings.TANDEM_SYNC_INTERVAL_SECONDS)
    return min(max(seconds, MIN_SYNC_INTERVAL), MAX_SYNC_INTERVAL)


def validate_checkpoint(value: Any) -> None:
    problem = checkpoint_problem(value)
    if problem:
        raise ValidationError(
            f"This checkpoint {problem}; leave it empty ({{}}) to scan again.",
            code="checkpoint",
        )


def validate_value_map(value: Any) -> None:
    problem = value_map_problem(value)
    if problem:
        raise ValidationError(f"This value map {problem}.", code="value_map")


class Connection(models.Model):
    """A pair of connected accounts of one workspace kept in sync."""

    Direction = Direction

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCANNING = "scanning", "Scanning"
        ACTIVE = "active", "Active and listening for changes"
        PAUSED = "paused", "Paused"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        ERROR = "error", "Error"

    RUNNABLE = (Status.SCANNING, Status.ACTIVE)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=200, blank=True)
    account_a = models.ForeignKey(
        ConnectedAccount, on_delete=models.PROTECT, related_name="connections_as_a"
    )
    account_b = models.ForeignKey(
        ConnectedAccount, on_delete=models.PROTECT, related_name="connections_as_b"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.TWO_WAY)
    winner = models.CharField(
        max_length=1,
        choices=Side.choices,
        default=Side.A,
        help_text="The app whose value wins when a field changed on both sides.",
    )
    avoid_duplicates = models.BooleanField(
        default=True, help_text="Skip contacts without an email address."
    )
    sync_deletions = models.BooleanField(default=False)
    sync_unsubscribes = models.BooleanField(default=False)
    # The choices the apps declare per connection ({side: {key: value}}; Mailchimp: the
    # audience, {"b": {"list_id": "..."}}), checked in ``clean`` against the account's options.
    choices = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per side, the choices its app asks for: {"b": {"list_id": "..."}}.',
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    status_reason = models.TextField(blank=True)
    sync_interval = models.PositiveIntegerField(
        default=default_sync_interval,
        validators=[MinValueValidator(MIN_SYNC_INTERVAL), MaxValueValidator(MAX_SYNC_INTERVAL)],
        help_text="Seconds between runs: from a minute to a week.",
    )
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set by the dispatcher when it claims the connection; tells which dispatcher claimed it.
    dispatch_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_owner = models.CharField(max_length=200, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    lease_generation = models.PositiveBigIntegerField(default=0, editable=False)
    checkpoint_a = models.JSONField(default=dict, blank=True, validators=[validate_checkpoint])
    checkpoint_b = models.JSONField(default=dict, blank=True, validators=[validate_checkpoint])
    # A run that trips the mass-tag breaker pauses the connection; ops confirm to let one run on.
    mass_tag_confirmed = models.BooleanField(default=False)
    breaker_tripped = models.BooleanField(default=False, editable=False)
    # When owners and admins were emailed that the breaker paused it; cleared on resume.
    incident_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    health = models.JSONField(default=dict, blank=True, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "name", "id"]
        indexes = [models.Index(fields=["status", "next_sync_at"], name="connection_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(account_a=F("account_b")), name="connection_sides_differ"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["two_way", "a_to_b", "b_to_a"]),
                name="connection_direction_valid",
            ),
            models.CheckConstraint(
                condition=Q(winner__in=["a", "b"]), name="connection_winner_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["draft", "scanning", "active", "paused", "needs_reauth", "error"]
                ),
                name="connection_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(sync_interval__gte=60), name="connection_interval_at_least_a_minute"
            ),
            models.CheckConstraint(
                condition=Q(sync_interval__lte=MAX_SYNC_INTERVAL),
                name="connection_interval_at_most_a_week",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.account_a} ⇄ {self.account_b}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        a = self.account_a if self.account_a_id else None
        b = self.account_b if self.account_b_id else None
        if a and b and a.pk == b.pk:
            errors["account_b"] = "Side B must be a different account from side A."
        for field, account in (("account_a", a), ("account_b", b)):
            if account and self.workspace_id and account.workspace_id != self.workspace_id:
                errors[field] = "This account belongs to another workspace."
        if errors:
            raise ValidationError(errors)
        if a and b:
            from integrations.services.choices import connection_choices_validate

            stored = None
            if self.pk:
                stored = Connection.objects.filter(pk=self.pk).values_list("choices", flat=True)
            connection_choices_validate(
                account_a=a,
                account_b=b,
                choices=self.choices,
                stored=stored.first() if stored else None,
            )

    def choices_for(self, side: str) -> dict[str, str]:
        """The choices made for ``side``'s account (empty: the connector's default, e.g. the
        audience a Mailchimp account keeps with its credentials)."""
        chosen = (self.choices or {}).get(side) if isinstance(self.choices, dict) else None
        return {str(k): str(v) for k, v in chosen.items()} if isinstance(chosen, dict) else {}

    def account(self, side: str) -> ConnectedAccount:
        return self.account_a if side == Side.A else self.account_b

    def checkpoint(self, side: str) -> dict[str, Any]:
        return self.checkpoint_a if side == Side.A else self.checkpoint_b

    def syncs_towards(self, target: str) -> bool:
        """Whether records flow into ``target`` at all."""
        return sides.Direction(self.direction).flows_into(target)


class Rule(models.Model):
    """For one direction: IF all conditions hold THEN sync the contact and apply the actions."""

    Direction = Direction

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="rules")
    direction = models.CharField(max_length=8, choices=ONE_WAY_CHOICES)
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=200, blank=True)
    undo = models.BooleanField(
        default=False,
        help_text="Reverse this rule's actions when a contact stops matching.",
    )
    # The rule created by the "other way around" toggle, kept in step with this one.
    mirror = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="mirrored_by"
    )

    class Meta:
        ordering = ["connection", "direction", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "direction", "position"], name="rule_position_unique"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["a_to_b", "b_to_a"]), name="rule_direction_valid"
            ),
            models.CheckConstraint(condition=~Q(mirror=F("id")), name="rule_not_own_mirror"),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_direction_display()} rule #{self.position}"

    @property
    def source_side(self) -> str:
        return sides.Direction(self.direction).source


class Condition(models.Model):
    class Kind(models.TextChoices):
        FIELD = "field", "Field"
        SPECIAL = "special", "App-specific"
        EXISTS_IN_OTHER = "exists_in_other", "Already existing in the app you sync with"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="conditions")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FIELD)
    # The field key on the rule's source side (FIELD) or the special condition's key (SPECIAL).
    field = models.CharField(max_length=200, blank=True)
    operator = models.CharField(max_length=40, blank=True)
    value = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["rule", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["field", "special", "exists_in_other"]),
                name="condition_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind="exists_in_other") | (~Q(field="") & ~Q(operator="")),
                name="condition_field_and_operator_set",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.EXISTS_IN_OTHER:
            return "already exists in the other app"
        return f"{self.field} {self.operator} {self.value!r}"


class Action(models.Model):
    class Kind(models.TextChoices):
        SET_FIELD = "set_field", "Set a field"
        ADD_TAG = "add_tag", "Add a tag or label"
        REMOVE_TAG = "remove_tag", "Remove a tag or label"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The field key on the rule's target side (SET_FIELD).
    field = models.CharField(max_length=200, blank=True)
    value = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["rule", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["set_field", "add_tag", "remove_tag"]),
                name="action_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(kind="set_field") | ~Q(field=""), name="action_set_field_has_field"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.SET_FIELD:
            return f"set {self.field} to {self.value!r}"
        return f"{self.get_kind_display().lower()} {self.value!r}"


class FieldMapping(models.Model):
    Direction = Direction

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="field_mappings"
    )
    field_a = models.CharField(max_length=200)
    field_b = models.CharField(max_length=200)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.TWO_WAY)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False, editable=False)
    # For enum ↔ enum mappings: value on A -> value on B.
    value_map = models.JSONField(default=dict, blank=True, validators=[validate_value_map])

    class Meta:
        ordering = ["connection", "-is_default", "field_a", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "field_a", "field_b"], name="field_mapping_unique"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["two_way", "a_to_b", "b_to_a"]),
                name="field_mapping_direction_valid",
            ),
            models.CheckConstraint(
                condition=~Q(field_a="") & ~Q(field_b=""), name="field_mapping_fields_set"
            ),
        ]

    def __str__(self) -> str:
        arrow = {"two_way": "⇄", "a_to_b": "→", "b_to_a": "←"}[self.direction]
        return f"{self.field_a} {arrow} {self.field_b}"


class RecordLink(models.Model):
    """One record on A bound to one record on B, with the values as last synced."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="links")
    id_a = models.CharField(max_length=255)
    id_b = models.CharField(max_length=255)
    # The mapped values as last synced, per side: {"a": {field: value}, "b": {field: value}}.
    snapshot = models.JSONField(default=dict, blank=True)
    version_a = models.CharField(max_length=255, blank=True)
    version_b = models.CharField(max_length=255, blank=True)
    # Actions applied by rules with undo, so they can be reversed: {"a": [...], "b": [...]}.
    applied_actions = models.JSONField(default=dict, blank=True)
    deleted_a = models.BooleanField(default=False)
    deleted_b = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "id_a"], name="record_link_unique_a"),
            models.UniqueConstraint(fields=["connection", "id_b"], name="record_link_unique_b"),
            models.CheckConstraint(condition=~Q(id_a="") & ~Q(id_b=""), name="record_link_ids_set"),
        ]
        indexes = [
            # Health's "in sync" count reads this index alone.
            models.Index(
                fields=["connection", "deleted_a", "deleted_b"], name="record_link_health"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id_a} ⇄ {self.id_b}"

    def record_id(self, side: str) -> str:
        return self.id_a if side == Side.A else self.id_b

    def version(self, side: str) -> str:
        return self.version_a if side == Side.A else self.version_b

    def deleted(self, side: str) -> bool:
        return self.deleted_a if side == Side.A else self.deleted_b


class CreateIntent(models.Model):
    """Written before creating a record on ``target``, so that a crash between the create and
    the link leaves a trace: the next run looks the record up by ``key`` before creating again."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="create_intents"
    )
    target = models.CharField(max_length=1, choices=Side.choices)
    source_id = models.CharField(max_length=255)
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    emails = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    target_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["connection", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "target", "source_id"],
                condition=Q(completed_at__isnull=True),
                name="create_intent_one_open_per_record",
            ),
            models.CheckConstraint(
                condition=Q(target__in=["a", "b"]), name="create_intent_side_valid"
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | ~Q(target_id=""),
                name="create_intent_completed_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"create on {self.target} for {self.source_id} ({self.key})"


class SyncRun(models.Model):
    """One pass of a connection's sync loop, with its counters."""

    class Phase(models.TextChoices):
        SCAN = "scan", "Scan"
        INCREMENTAL = "incremental", "Incremental"
        UNDO = "undo", "Undo of a run"

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        PARTIAL = "partial", "Finished with record issues"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped (lease lost or paused)"
        ABANDONED = "abandoned", "Abandoned (its worker stopped)"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.INCREMENTAL)
    dry_run = models.BooleanField(default=False)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RUNNING)
    lease_generation = models.PositiveBigIntegerField(default=0)
    read_a = models.PositiveIntegerField(default=0)
    read_b = models.PositiveIntegerField(default=0)
    created_a = models.PositiveIntegerField(default=0)
    created_b = models.PositiveIntegerField(default=0)
    updated_a = models.PositiveIntegerField(default=0)
    updated_b = models.PositiveIntegerField(default=0)
    tagged_a = models.PositiveIntegerField(default=0)
    tagged_b = models.PositiveIntegerField(default=0)
    excluded = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    api_calls_by_kind = models.JSONField(default=dict, blank=True)
    # A dry run's plan: what the run would create, update and tag, per side.
    plan = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    COUNTERS = (
        "read_a", "read_b", "created_a", "created_b", "updated_a", "updated_b",
        "tagged_a", "tagged_b", "excluded", "duplicates", "failed", "conflicts", "api_calls",
    )  # fmt: skip

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="sync_run_finishes_after_start",
            ),
            models.CheckConstraint(
                condition=Q(
                    outcome__in=["running", "success", "partial", "failed", "stopped", "abandoned"]
                ),
                name="sync_run_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.connection_id} ({self.outcome})"

    @property
    def writes(self) -> int:
        return (
            self.created_a + self.created_b + self.updated_a + self.updated_b
            + self.tagged_a + self.tagged_b
        )  # fmt: skip


class RecordIssue(models.Model):
    """A record that failed to sync, with the app's reason. Retried on later runs with backoff
    until it syncs, when it is marked resolved."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="record_issues"
    )
    # The side the failing record lives on, and the side the write was aimed at.
    side = models.CharField(max_length=1, choices=Side.choices)
    record_id = models.CharField(max_length=255)
    target = models.CharField(max_length=1, choices=Side.choices)
    reason = models.TextField()
    attempts = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "side", "record_id"],
                condition=Q(resolved_at__isnull=True),
                name="record_issue_one_open_per_record",
            ),
            models.CheckConstraint(
                condition=Q(side__in=["a", "b"]) & Q(target__in=["a", "b"]),
                name="record_issue_sides_valid",
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=1), name="record_issue_attempts_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} on {self.side}: {self.reason[:60]}"


class RecheckRecord(models.Model):
    """A record to read again by id on the next run: a write of Tandem's came back holding
    someone else's edit, made between Tandem's read and its write. The record's last modifier is
    then Tandem, so a change feed that leaves out Tandem's own writes would never show it again
    (``sync/recheck.py``). Kept before the page's checkpoint, forgotten once read again."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="rechecks")
    side = models.CharField(max_length=1, choices=Side.choices)
    record_id = models.CharField(max_length=255)
    # The run whose write it was: that run does not read it again (its read came before the
    # edit); any later run does (null once that run is pruned).
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connection", "id"]
        indexes = [models.Index(fields=["connection", "side"], name="recheck_record_side")]
        constraints = [
            models.CheckConstraint(
                condition=Q(side__in=["a", "b"]), name="recheck_record_side_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_id} on {self.side}: read again"


class AppVote(models.Model):
    """One user's vote for an app on the pipeline (apps without a connector yet)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_votes"
    )
    app = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["app", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "app"], name="app_vote_one_per_user"),
            models.CheckConstraint(condition=~Q(app=""), name="app_vote_app_set"),
        ]

    def __str__(self) -> str:
        return f"{self.user} votes for {self.app}"


class AppRequest(models.Model):
    """An app a user asked for that is neither supported nor on the pipeline."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_requests"
    )
    name = models.CharField(max_length=120)
    note = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="app_request_name_set")]

    def __str__(self) -> str:
        return f"{self.name} (asked by {self.user})"


class AuditEntry(models.Model):
    """One value a real run wrote to an app (or a record it created, a tag it added or
    removed), with the value before and why. Kept ``TANDEM_AUDIT_DAYS`` days; ``undo_run``
    puts the values back from these."""

    class Kind(models.TextChoices):
        UPDATE = "update", "Updated a field"
        CREATE = "create", "Created the record"
        TAG = "tag", "Added a tag or label"
        UNTAG = "untag", "Removed a tag or label"

    class Why(models.TextChoices):
        MAPPING = "mapping", "Changed on the other side, through a field mapping"
        WINNER = "winner", "Changed on both sides: the winning app's value (3-way merge)"
        ACTION = "action", "A rule's action"
        CREATE = "create", "New on the other side: created"
        TAG = "tag", "Deleted or unsubscribed on the other side"
        UNDO = "undo", "Undo of an earlier run"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="audit_entries")
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="audit_entries"
    )
    # The side written to, and the record there.
    side = models.CharField(max_length=1, choices=Side.choices)
    record_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # The record field written ("tags" for a tag, empty for a create).
    field = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    why = models.CharField(max_length=8, choices=Why.choices)
    detail = models.CharField(max_length=300, blank=True)
    # The rule whose action wrote it, when one did (a plain id: rules may be deleted since).
    rule_id = models.PositiveBigIntegerField(null=True, blank=True)
    # The record on the other side the value came from.
    source_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [
            models.Index(fields=["connection", "record_id"], name="audit_entry_record"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(side__in=["a", "b"]), name="audit_entry_side_valid"),
            models.CheckConstraint(
                condition=Q(kind__in=["update", "create", "tag", "untag"]),
                name="audit_entry_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        what = self.field or self.get_kind_display().lower()
        return f"run {self.run_id}: {what} of {self.record_id} on {self.side}"


class BeatTick(models.Model):
    """When a periodic task (beat's dispatcher) last ran: ``/healthz`` reads it. One row per
    name, in the database so every web process sees the worker's stamp."""

    name = models.CharField(max_length=60, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class RunNote(models.Model):
    """A contact a real run left alone, or a field it had to settle, and why: excluded (the
    rule condition that failed and the value it saw, or no email with "avoid duplicates"), a
    duplicate email on one side, or a conflict (both values and which app won). Built from the
    run's journal; kept ``TANDEM_AUDIT_DAYS`` days like the audit."""

    class Kind(models.TextChoices):
        EXCLUDED = "excluded", "Excluded"
        DUPLICATE = "duplicate", "Duplicate email"
        CONFLICT = "conflict", "Conflict"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="notes")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="run_notes")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The record the note is about (for a conflict: the record on A) and its side.
    side = models.CharField(max_length=1, choices=Side.choices)
    record_id = models.CharField(max_length=255)
    # A conflict's record on B.
    other_id = models.CharField(max_length=255, blank=True)
    # A conflict's field (the mapping's fields), a duplicate's email.
    field = models.CharField(max_length=400, blank=True)
    value_a = models.JSONField(null=True, blank=True)
    value_b = models.JSONField(null=True, blank=True)
    # A conflict: the side whose value was kept ("" when neither was written).
    winner = models.CharField(max_length=1, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "kind"], name="run_note_run_kind")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["excluded", "duplicate", "conflict"]),
                name="run_note_kind_valid",
            ),
            models.CheckConstraint(condition=Q(side__in=["a", "b"]), name="run_note_side_valid"),
            models.CheckConstraint(
                condition=Q(winner__in=["", "a", "b"]), name="run_note_winner_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.get_kind_display().lower()} {self.record_id}"
