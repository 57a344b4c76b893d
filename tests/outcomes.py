"""A scheduled update's verdict on one applied ticket, the way the update delivers it: jss records it on the
exclusion (in a transaction) and requests_app records the announced change on the ticket."""

from django.db import transaction

from jss import services as jss_services
from requests_app import services


def judged_by_update(ticket, outcome, *, as_of, now=None) -> bool:
    """True when the ticket took a new outcome (an event and an email owed)."""
    with transaction.atomic():
        changes = jss_services.record_outcomes({ticket.contract_id: outcome}, as_of=as_of, now=now)
    return services.record_jss_outcomes(changes, now=now) > 0
