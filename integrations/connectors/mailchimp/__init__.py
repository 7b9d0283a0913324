"""Mailchimp: one audience per connection, members read by ``since_last_changed``."""
