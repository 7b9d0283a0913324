"""A connection's options (winner, duplicates, interval, and what both apps support) and a new
connection between two of the workspace's accounts, whose fields are asked for first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.db.models import QuerySet

from accounts.models import ConnectedAccount, Workspace
from integrations.connectors.base import Capabilities
from integrations.connectors.registry import connector_class
from integrations.forms.fields import ConnectionFields, FieldsUnavailable
from integrations.forms.values import set_choices
from integrations.models import Connection, Side
from integrations.services import setup
from integrations.services.choices import ChoicesUnavailable, choice_options, declared_choices

INTERVALS: list[tuple[int, str]] = [
    (60, "Every minute"),
    (300, "Every 5 minutes"),
    (900, "Every 15 minutes"),
    (1800, "Every 30 minutes"),
    (3600, "Every hour"),
    (6 * 3600, "Every 6 hours"),
    (24 * 3600, "Once a day"),
]


def _interval_label(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"Every {seconds // 3600} hours"
    if seconds % 60 == 0:
        return f"Every {seconds // 60} minutes"
    return f"Every {seconds} seconds"


def _capabilities(account: ConnectedAccount) -> Capabilities:
    return connector_class(account.app).capabilities


class ConnectionOptionsForm(forms.ModelForm):
    """Which app wins a conflict, whether to skip contacts without email, how often to sync,
    and the options both apps support (an option one app lacks is not offered at all)."""

    winner = forms.ChoiceField(label="When a field changed in both apps, keep the value of")
    sync_interval = forms.TypedChoiceField(label="Sync", coerce=int)

    class Meta:
        model = Connection
        fields = [
            "winner",
            "avoid_duplicates",
            "sync_interval",
            "sync_deletions",
            "sync_unsubscribes",
        ]
        labels = {
            "avoid_duplicates": "Avoid duplicates: skip contacts without an email address",
        }

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        instance: Connection,
        fields: ConnectionFields | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, instance=instance, prefix=prefix)
        if fields is not None:
            app_a, app_b = fields.a.app, fields.b.app
            caps_a, caps_b = fields.a.capabilities, fields.b.capabilities
        else:
            app_a, app_b = instance.account_a.app_name, instance.account_b.app_name
            caps_a, caps_b = _capabilities(instance.account_a), _capabilities(instance.account_b)
        self.capabilities = (caps_a, caps_b)
        set_choices(self, "winner", [(Side.A, app_a), (Side.B, app_b)])
        intervals = list(INTERVALS)
        if instance.sync_interval not in dict(intervals):
            intervals.append((instance.sync_interval, _interval_label(instance.sync_interval)))
            intervals.sort()
        set_choices(self, "sync_interval", intervals)
        both = (caps_a, caps_b)
        if all(c.supports_deletions for c in both):
            self.fields["sync_deletions"].label = (
                f"Sync deletions: a contact deleted in one app gets the "
                f"{caps_b.tag_noun} / {caps_a.tag_noun} 'Tandem Trash' in the other"
            )
        else:
            del self.fields["sync_deletions"]
        if all(c.supports_unsubscribes for c in both):
            self.fields["sync_unsubscribes"].label = (
                "Sync unsubscribes: an unsubscribe in one app is tagged 'Tandem Unsubscribes' "
                "in the other"
            )
        else:
            del self.fields["sync_unsubscribes"]

    def save(self, commit: bool = True) -> Connection:
        if not commit:
            # The admin saves in two steps; the service does the real write on commit.
            return super().save(commit=False)
        data = self.cleaned_data
        caps_a, caps_b = self.capabilities
        stored = Connection.objects.get(pk=self.instance.pk)
        self.instance = setup.connection_settings_update(
            connection=stored,
            capabilities_a=caps_a,
            capabilities_b=caps_b,
            winner=data["winner"],
            avoid_duplicates=bool(data.get("avoid_duplicates")),
            sync_interval=int(data["sync_interval"]),
            sync_deletions=bool(data.get("sync_deletions", False)),
            sync_unsubscribes=bool(data.get("sync_unsubscribes", False)),
        )
        return self.instance


class _AccountChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.app_name}: {obj.label}"


def choice_field_name(side: str, key: str) -> str:
    return f"choice_{side}_{key}"


class ConnectionForm(forms.Form):
    """A new connection between two of the workspace's accounts, with a direction named by
    the apps. The two apps are asked for their fields in ``clean()``: an app that cannot
    answer is a form error, and nothing is created.

    When the accounts are given, each choice their apps declare per connection (Mailchimp:
    the audience) is a field ``choice_<side>_<key>`` whose options the account lists; an
    account that cannot list them is a form error (``choice_problems``)."""

    account_a = _AccountChoice(queryset=ConnectedAccount.objects.none(), label="First app")
    account_b = _AccountChoice(queryset=ConnectedAccount.objects.none(), label="Second app")
    direction = forms.ChoiceField(label="Direction")
    name = forms.CharField(label="Name", required=False, max_length=200)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        workspace: Workspace,
        account_a: ConnectedAccount | None = None,
        account_b: ConnectedAccount | None = None,
        start: bool = True,
        prefix: str | None = None,
    ) -> None:
        initial = {"account_a": account_a, "account_b": account_b}
        super().__init__(data, prefix=prefix, initial=initial)
        self.workspace = workspace
        self.start = start
        self.connection_fields: ConnectionFields | None = None
        accounts: QuerySet[ConnectedAccount] = ConnectedAccount.objects.filter(workspace=workspace)
        for name, fixed in (("account_a", account_a), ("account_b", account_b)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = accounts
            if fixed is not None:
                field.disabled = True
                field.label = f"{fixed.app_name} account"
        name_a = account_a.app_name if account_a else "the first app"
        name_b = account_b.app_name if account_b else "the second app"
        set_choices(
            self,
            "direction",
            [
                (Connection.Direction.TWO_WAY, f"Two-way: {name_a} ⇄ {name_b}"),
                (Connection.Direction.A_TO_B, f"One-way: {name_a} → {name_b}"),
                (Connection.Direction.B_TO_A, f"One-way: {name_b} → {name_a}"),
            ],
        )
        self.choice_keys: dict[str, tuple[str, str]] = {}
        self.choice_problems: list[str] = []
        for side, fixed in ((Side.A, account_a), (Side.B, account_b)):
            if fixed is not None:
                self._add_choice_fields(side, fixed)

    def _add_choice_fields(self, side: str, account: ConnectedAccount) -> None:
        for choice in declared_choices(account):
            try:
                options = choice_options(account, choice.key)
            except ChoicesUnavailable as exc:
                self.choice_problems.append(exc.message)
                continue
            name = choice_field_name(side, choice.key)
            # An account keeping a default (a Mailchimp account's own list_id) offers it first.
            default = str(account.get_credentials().get(choice.key) or "")
            if default not in dict(options):
                default = options[0][0] if len(options) == 1 else ""
            self.fields[name] = forms.ChoiceField(
                label=f"{account.app_name} {choice.label.lower()}",
                help_text=choice.help_text,
                choices=[("", f"Choose the {choice.label.lower()}"), *options],
                initial=default,
                error_messages={"required": f"Choose the {account.app_name} {choice.label}."},
            )
            self.choice_keys[name] = (side, choice.key)

    @property
    def choice_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.choice_keys]

    def chosen(self) -> dict[str, dict[str, str]]:
        """The choices made, as ``Connection.choices`` holds them."""
        made: dict[str, dict[str, str]] = {}
        for name, (side, key) in self.choice_keys.items():
            value = self.cleaned_data.get(name)
            if value:
                made.setdefault(side, {})[key] = str(value)
        return made

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for problem in self.choice_problems:
            self.add_error(None, problem)
        a, b = cleaned.get("account_a"), cleaned.get("account_b")
        if a is None or b is None or self.choice_problems:
            return cleaned
        if a.pk == b.pk:
            self.add_error("account_b", "Choose two different accounts.")
            return cleaned
        if any(name in self.errors for name in self.choice_keys):
            return cleaned
        try:
            self.connection_fields = ConnectionFields.load_accounts(a, b, choices=self.chosen())
        except FieldsUnavailable as exc:
            self.add_error(None, exc.message)
        return cleaned

    def save(self) -> Connection:
        assert self.connection_fields is not None, "save() after a successful is_valid()"
        data = self.cleaned_data
        return setup.connection_create(
            workspace=self.workspace,
            account_a=data["account_a"],
            account_b=data["account_b"],
            direction=data["direction"],
            name=data.get("name") or "",
            start=self.start,
            choices=self.chosen(),
            **self.connection_fields.service_kwargs(),
        )
