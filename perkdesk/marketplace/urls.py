"""Public pages of the marketplace data (work histories); see views.py."""

app_name = "marketplace"

urlpatterns = []
