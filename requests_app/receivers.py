"""What requests_app does when a lower app announces something (connected in ``RequestsAppConfig.ready``)."""

from requests_app import services


def record_jss_outcomes(sender, *, changes, **kwargs):
    """``jss.signals.outcomes_changed``: put each new outcome on its ticket (event and email, once)."""
    services.record_jss_outcomes(changes)
