from django.urls import path, register_converter

from requests_app import desk, views

app_name = "requests_app"


class TicketNumberConverter:
    """Nine digits: anything else is not a ticket and gets the urlconf's 404."""

    regex = "[0-9]{9}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return str(value)


register_converter(TicketNumberConverter, "ticket")

urlpatterns = [
    path("contracts/", views.my_contracts, name="my_contracts"),
    path("requests/", views.my_requests, name="my_requests"),
    path("requests/new/", views.new_request, name="new_request"),
    path("requests/<ticket:ticket_number>/", views.request_detail, name="request_detail"),
    path("requests/<ticket:ticket_number>/withdraw/", views.withdraw_request, name="withdraw_request"),
    path("requests/<ticket:ticket_number>/reply/", views.reply_to_request, name="reply_to_request"),
    path("requests/<ticket:ticket_number>/screenshot/", views.request_screenshot, name="request_screenshot"),
    path("desk/", desk.desk, name="desk"),
    path("desk/reports/", desk.agent_report, name="agent_report"),
    path("desk/reports/agents.csv", desk.agent_report_csv, name="agent_report_csv"),
]
