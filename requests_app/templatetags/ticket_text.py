"""How the ticket pages word things, from ``requests_app.formatting``: ``{% load ticket_text %}``."""

from django import template

from requests_app.formatting import jss_window_text

register = template.Library()


@register.filter
def live_window(window):
    """``24m`` → ``live, 24-month window``; none → ``live, no window qualifies``."""
    return jss_window_text(window)
