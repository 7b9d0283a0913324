"""The receiver: ``POST /webhooks/<app>/<key>/``. It answers as soon as the delivery is recorded
(no sync work in the request), with no body worth reading: an app only looks at the status."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from integrations.webhooks.models import WebhookSubscription, url_key_digest
from integrations.webhooks.services import delivery_receive
from integrations.webhooks.verify import RECEIVERS


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def receive(request: HttpRequest, app: str, key: str) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        receiver = RECEIVERS.get(app)
        subscription = WebhookSubscription.objects.filter(app=app, key=url_key_digest(key)).first()
        if receiver is None or subscription is None:
            return _unlogged(JsonResponse({"error": "no such webhook"}, status=404))
        return _unlogged(receiver.handshake(request, subscription))
    receipt = delivery_receive(app=app, key=key, request=request)
    if receipt.status == 200:
        return JsonResponse({"ok": True, "outcome": receipt.outcome})
    return _unlogged(JsonResponse({"error": receipt.outcome}, status=receipt.status))


def _unlogged(response: HttpResponse) -> HttpResponse:
    """Django logs every 4xx with its path, and the path holds the subscription's key (for
    Mailchimp, its only secret): the receiver counts and logs refusals itself, without it."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
