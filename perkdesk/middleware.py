"""Request guards that run before anything reads the request, and one response header.

``BodySizeGuard`` is the first middleware: it answers 413 on the announced ``Content-Length`` alone, before
the CSRF check (which reads ``request.POST``) or any view can make Django read or spool the body.
``NulByteGuard`` answers 400 for a NUL character in the path, the query string, a form field, a header or a
cookie: PostgreSQL cannot store or compare one, so it would otherwise surface as a 500 in whatever filter,
search or lookup met it first. ``PermissionsPolicy`` adds the header that switches off browser features no page uses.
"""

from django.conf import settings
from django.shortcuts import render

NUL = "\x00"


def request_body_limit() -> int:
    """The largest body any page accepts: a screenshot at its limit plus room for the other fields and the
    multipart framing (``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""
    return settings.SCREENSHOT_MAX_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class BodySizeGuard:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django then reads nothing: an unreadable length is an empty body to it too
        if length > request_body_limit():
            megabytes = settings.SCREENSHOT_MAX_BYTES // (1024 * 1024)
            # The body is never read (WSGI leaves closing such a connection to the server).
            return render(request, "413.html", {"megabytes": megabytes}, status=413)
        return self.get_response(request)


def _has_nul(query_dict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in query_dict.lists())


class NulByteGuard:
    """After ``BodySizeGuard`` (so a form body it reads is bounded) and before sessions (a session cookie is a
    database key)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            NUL in request.path_info
            or _has_nul(request.GET)
            or any(NUL in value for key, value in request.META.items() if key.startswith("HTTP_"))
            or any(NUL in key or NUL in value for key, value in request.COOKIES.items())
            or (request.method == "POST" and _has_nul(request.POST))
        ):
            return render(request, "400.html", status=400)
        return self.get_response(request)


# Nothing on the site uses these; a page that is framed or injected cannot ask for them either.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


class PermissionsPolicy:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
