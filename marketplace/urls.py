"""Public pages of the marketplace data (work histories); see views.py."""

from django.urls import path

from marketplace import views

app_name = "marketplace"

urlpatterns = [
    path("freelancers/<slug:public_id>/", views.freelancer_profile, name="freelancer_profile"),
    path("agencies/<slug:public_id>/", views.agency_profile, name="agency_profile"),
    path("clients/<slug:public_id>/", views.client_profile, name="client_profile"),
]
