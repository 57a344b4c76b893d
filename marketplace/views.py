"""Public pages (no login): a freelancer's, an agency's and a client's work history (SPEC §6).

Read-only: they read through ``selectors`` and change nothing. Unknown ``public_id`` is a 404.
"""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from marketplace import selectors
from marketplace.models import Agency, Client, Freelancer


@require_safe
def freelancer_profile(request, public_id):
    freelancer = get_object_or_404(Freelancer.objects.only("name", "public_id"), public_id=public_id)
    history = selectors.freelancer_history(freelancer)
    return render(request, "marketplace/profile.html", {"history": history, "subject": freelancer})


@require_safe
def agency_profile(request, public_id):
    agency = get_object_or_404(Agency.objects.only("name", "public_id"), public_id=public_id)
    history = selectors.agency_history(agency)
    context = {"history": history, "subject": agency, "show_freelancer": True}
    return render(request, "marketplace/profile.html", context)


@require_safe
def client_profile(request, public_id):
    client = get_object_or_404(Client.objects.only("name", "public_id"), public_id=public_id)
    history = selectors.client_history(client)
    return render(request, "marketplace/client.html", {"history": history, "subject": client})
