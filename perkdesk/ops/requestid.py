"""Every web request gets an id: the caller's ``X-Request-ID`` when it is a sane token (a proxy's), else a new
one. Log lines of the request carry it (``perkdesk.logformat.ContextFilter``) and the response returns it, so
an operator can find a person's failed request from the id on their screen or in the access log."""

import re
import uuid

from django.core.signals import request_finished
from django.dispatch import receiver

from perkdesk.logformat import request_id, request_ticket

HEADER = "X-Request-ID"
SANE = re.compile(r"^[A-Za-z0-9._:@-]{8,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "")
        current = given if SANE.match(given) else uuid.uuid4().hex
        request.request_id = current
        # Not reset on the way out: Django logs a 4xx/5xx response after the middleware chain returns, and
        # that line needs the id too; it is cleared when the response is closed (request_finished).
        request_id.set(current)
        request_ticket.set(None)
        response = self.get_response(request)
        response[HEADER] = current
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        request_ticket.set(view_kwargs.get("ticket_number"))  # /requests/<ticket>/...: lines name the ticket


@receiver(request_finished, dispatch_uid="perkdesk.ops.requestid.forget")
def forget_the_request_id(**kwargs):
    request_id.set(None)
    request_ticket.set(None)
