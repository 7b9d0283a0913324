"""Real time: the apps' change notifications (webhooks) wake the connections that use the
account, so a change travels in seconds rather than at the next poll.

- ``base``: what a delivery means to Tandem (``Event``), the refusal of one (``Refused``), and what
  a connector offers to register a receiver (``WebhookSource``);
- ``verify``: each app's verification of a delivery (signature, freshness) and its events;
- ``services``: subscribing an account's app, taking a delivery (dedupe, echoes, counters);
- ``wake``: one queued run per connection for a burst of deliveries, never two runs at once;
- ``views`` / ``urls``: the receiver at ``/webhooks/<app>/<key>/``; ``tasks``: the Celery side.

Polling stays: the dispatcher still runs every connection at its interval and catches anything a
lost delivery missed.
"""
