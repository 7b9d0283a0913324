"""What the apps pages say: each supported app as its connector declares it, and the pipeline of
apps not supported yet.

Nothing here calls an app: everything comes from the connector's declaration (its
capabilities, and ``standard_fields()``, known without credentials), so an app's page and its
default mappings with every partner need no account.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.connectors.base import Capabilities, CredentialField
from integrations.connectors.registry import CONNECTORS, app_label, connector_class
from integrations.sync import mapping as mapping_mod
from integrations.sync.fields import ConditionSpec, FieldSpec
from integrations.sync.records import NAME

ACTION_LABELS = {
    "set_field": "Update a field to a value",
    "add_tag": "Add a {noun}",
    "remove_tag": "Remove a {noun}",
}


@dataclass(frozen=True)
class PipelineApp:
    """An app Tandem does not sync yet; users vote for the next one."""

    slug: str
    name: str
    category: str


PIPELINE: tuple[PipelineApp, ...] = (
    PipelineApp("salesforce", "Salesforce", "CRM"),
    PipelineApp("pipedrive", "Pipedrive", "CRM"),
    PipelineApp("intercom", "Intercom", "Customer messaging"),
    PipelineApp("zendesk", "Zendesk", "Customer support"),
    PipelineApp("activecampaign", "ActiveCampaign", "Email marketing"),
    PipelineApp("freshdesk", "Freshdesk", "Customer support"),
    PipelineApp("zoho_crm", "Zoho CRM", "CRM"),
    PipelineApp("microsoft_outlook", "Microsoft Outlook Contacts", "Contacts"),
    PipelineApp("xero", "Xero", "Accounting"),
    PipelineApp("shopify", "Shopify", "E-commerce"),
)
PIPELINE_BY_SLUG = {app.slug: app for app in PIPELINE}


@dataclass(frozen=True)
class PairedMapping:
    label_a: str
    label_b: str
    direction: str


@dataclass(frozen=True)
class Partner:
    slug: str
    name: str
    mappings: tuple[PairedMapping, ...]
    deletions: bool
    unsubscribes: bool


@dataclass(frozen=True)
class AppInfo:
    slug: str
    name: str
    oauth: bool
    credential_fields: tuple[CredentialField, ...]
    capabilities: Capabilities
    standard_fields: tuple[FieldSpec, ...]

    @property
    def conditions(self) -> tuple[ConditionSpec, ...]:
        return self.capabilities.conditions

    @property
    def actions(self) -> list[str]:
        noun = self.capabilities.tag_noun
        return [
            ACTION_LABELS.get(kind, kind).format(noun=noun)
            for kind in self.capabilities.actions
            if kind == "set_field" or self.capabilities.supports_tags
        ]

    @property
    def sign_in(self) -> list[CredentialField]:
        """What a user types to connect the app (none of the tokens an OAuth flow stores; the
        short form of an app that offers both ways)."""
        return list(self.capabilities.form_fields(tuple(self.credential_fields)))


def supported_slugs() -> list[str]:
    return list(CONNECTORS)


def standard_fields(slug: str) -> tuple[FieldSpec, ...]:
    """The standard fields a connector declares, without any call."""
    return tuple(connector_class(slug).standard_fields())


def uses_oauth(slug: str) -> bool:
    """An app whose accounts are connected through its own consent page."""
    return connector_class(slug).capabilities.uses_oauth


def app_info(slug: str) -> AppInfo:
    """``LookupError`` for an app without a connector."""
    cls = connector_class(slug)
    return AppInfo(
        slug=slug,
        name=app_label(slug),
        oauth=uses_oauth(slug),
        credential_fields=tuple(cls.credential_fields),
        capabilities=cls.capabilities,
        standard_fields=standard_fields(slug),
    )


def _field_label(key: str, fields: tuple[FieldSpec, ...]) -> str:
    if key == NAME:
        return "Name"
    return next((spec.label for spec in fields if spec.key == key), key)


def default_mapping_between(first: AppInfo, second: AppInfo) -> tuple[PairedMapping, ...]:
    found = mapping_mod.default_mappings(
        first.standard_fields,
        second.standard_fields,
        style_a=first.capabilities.name_style,
        style_b=second.capabilities.name_style,
    )
    return tuple(
        PairedMapping(
            _field_label(m.field_a, first.standard_fields),
            _field_label(m.field_b, second.standard_fields),
            m.direction,
        )
        for m in found
    )


def partners(info: AppInfo) -> list[Partner]:
    """Every app ``info`` can be paired with (itself included: two accounts of one app), with
    the default mappings such a connection starts with and the options both apps support."""
    result = []
    for slug in supported_slugs():
        other = app_info(slug)
        both = (info.capabilities, other.capabilities)
        result.append(
            Partner(
                slug=slug,
                name=other.name,
                mappings=default_mapping_between(info, other),
                deletions=all(c.supports_deletions for c in both),
                unsubscribes=all(c.supports_unsubscribes for c in both),
            )
        )
    return result
