"""HubSpot: CRM v3 contacts, typed properties and static lists."""
