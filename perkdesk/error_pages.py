"""PerkDesk's own page for a method a URL does not take (405).

Django answers 405 with an empty body (``HttpResponseNotAllowed``); a person who opened a POST-only address
in the browser would see a blank page. This middleware renders ``405.html`` in its place, keeping the
status and the ``Allow`` header."""

from django.shortcuts import render


class MethodNotAllowedPage:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.content or request.method == "HEAD":
            return response
        page = render(request, "405.html", {"allowed": response.get("Allow", "")}, status=405)
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page
