"""Google Contacts (People API): OAuth 2.0, sync tokens, etags and contact groups as labels."""
