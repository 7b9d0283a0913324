"""Kustomer: customers synced through the REST API (``https://<subdomain>.api.kustomerapp.com/v1``)."""
