"""Freelancer and desk pages. Views read through selectors and write through services only."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from requests_app import selectors


@login_required
def my_requests(request):
    tickets = selectors.requests_of(request.user).order_by("-submitted_at")
    return render(
        request,
        "requests_app/my_requests.html",
        {"tickets": tickets, "freelancer": selectors.freelancer_for_user(request.user)},
    )

