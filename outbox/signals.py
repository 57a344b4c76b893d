"""``email_sent(delivery=...)``: sent inside the transaction that marks a delivery sent, so an app above can
note it on its own timeline atomically with the mark (requests_app writes an ``email_sent`` event)."""

from django.dispatch import Signal

email_sent = Signal()
