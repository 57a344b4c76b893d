"""Issue 14, hardening round two: one test (or a few) per finding of the security review.

1. sign-in lockout behind a proxy, and across usernames; 2. image bombs and the hourly limit; 3. oversize
bodies read before refused; 4. access that outlives a role; 5. PDFs and image metadata; 6. silent refusals
(tampered agency) and NUL bytes; 7. DEBUG by default, Permissions-Policy, Unicode digits.
"""

import datetime as dt
import io
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from requests_app import services
from requests_app.models import RemovalRequest
from requests_app.screenshots import MAX_PIXELS, InvalidScreenshot, check_screenshot
from tests import factories as f
from tests.security import png_bytes

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)  # the factories' TODAY
LOGIN = "/accounts/login/"
PROXY = "10.0.0.2"  # the TLS proxy in front of the site: every request arrives from it
VICTIM, ATTACKER = "203.0.113.7", "198.51.100.9"


@pytest.fixture
def pinned(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def through_proxy(client, client_address, spoofed=None, **data):
    """A sign-in through one proxy, which appends the address it was connected from to X-Forwarded-For."""
    forwarded = f"{spoofed}, {client_address}" if spoofed else client_address
    return client.post(LOGIN, data, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)


def signed_in(client):
    return "_auth_user_id" in client.session


def in_grace_window():
    """Lost Top Rated for a JSS dip five days ago: a screenshot is needed, and accepted."""
    fl = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=fl, lost_jss_dip=True)
    return fl, f.ContractFactory(freelancer=fl, with_feedback=True)


# --- 1. sign-in lockout ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_attacker_rotating_x_forwarded_for_cannot_lock_the_owner_out(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    f.UserFactory(username="target")
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 3):
        spoofed = f"{secrets.randbelow(223) + 1}.{secrets.randbelow(255)}.0.{secrets.randbelow(255)}"
        through_proxy(attacker, ATTACKER, spoofed, username="target", password="guess")
    # The attacker's own address is paused, whatever it writes into the header, even with the right password.
    response = through_proxy(attacker, ATTACKER, "192.0.2.1", username="target", password="perkdesk")
    assert response.status_code == 429 and not signed_in(attacker)
    # The owner, from their own address through the same proxy, signs in.
    owner = Client()
    response = through_proxy(owner, VICTIM, username="target", password="perkdesk")
    assert response.status_code == 302 and signed_in(owner)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "client"),
    [
        (0, "192.0.2.1", PROXY, PROXY),  # no proxy trusted: the header is the client's own words
        (1, "192.0.2.1, 203.0.113.7", PROXY, "203.0.113.7"),  # the proxy appended the real address
        (2, "192.0.2.1, 203.0.113.7, 10.0.0.1", PROXY, "203.0.113.7"),  # two proxies
        (1, "", "203.0.113.7", "203.0.113.7"),  # straight to the app server: nothing forwarded to trust
        (1, "not-an-address", PROXY, PROXY),  # a proxy never writes this: fall back to the connection
    ],
)
def test_the_client_address_is_read_through_the_trusted_proxies_only(settings, proxies, forwarded, remote, client):
    from django.test import RequestFactory

    from perkdesk.logins import client_ip

    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == client


@pytest.mark.django_db
def test_one_address_failing_across_many_usernames_is_paused(settings):
    settings.AXES_ADDRESS_FAILURE_LIMIT = 8
    for n in range(8):
        f.UserFactory(username=f"staffer{n}")
        # One wrong password each: far below the limit for any one account.
        Client().post(LOGIN, {"username": f"staffer{n}", "password": "Summer2026!"}, REMOTE_ADDR=ATTACKER)
    f.UserFactory(username="bystander")
    paused = Client().post(LOGIN, {"username": "bystander", "password": "perkdesk"}, REMOTE_ADDR=ATTACKER)
    assert paused.status_code == 429
    assert "sign-in from your network is paused" in paused.content.decode()
    elsewhere = Client()
    response = elsewhere.post(LOGIN, {"username": "bystander", "password": "perkdesk"}, REMOTE_ADDR=VICTIM)
    assert response.status_code == 302 and signed_in(elsewhere)


@pytest.mark.django_db
def test_the_lockout_page_says_how_long_in_minutes(client, settings):
    f.UserFactory(username="target")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "target", "password": "guess"})
    page = client.post(LOGIN, {"username": "target", "password": "perkdesk"}).content.decode()
    assert "Please wait 30 minutes and try" in page
    assert "0:30:00" not in page


# --- 2. image bombs and the hourly limit -------------------------------------------------------------


def picture(size, mode="RGB", fmt="PNG", **params):
    buffer = io.BytesIO()
    Image.new(mode, size, 0).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_a_small_png_declaring_6300_by_6300_is_refused_on_its_declared_size():
    bomb = picture((6300, 6300), mode="1")  # 39.7 million pixels in a few kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(InvalidScreenshot, match="more than 16 million pixels"):
        check_screenshot(SimpleUploadedFile("mail.png", bomb))


def test_real_screenshots_fit_under_the_pixel_cap():
    for size in [(3840, 2160), (5120, 2880), (1290, 12000)]:  # 4K, 5K Retina, a phone's scrolling capture
        assert size[0] * size[1] <= MAX_PIXELS
        assert check_screenshot(SimpleUploadedFile("s.png", picture(size, mode="1"))).content_type == "image/png"


@pytest.mark.django_db
def test_every_attempt_that_carries_a_file_counts_towards_the_hourly_limit(client, settings, pinned):
    settings.PERK_SUBMISSIONS_PER_HOUR = 3
    fl = f.FreelancerFactory(top_rated=True)
    client.force_login(fl.user)
    for _ in range(3):
        # Refused for another field: before, the screenshot was decoded for free, again and again.
        shot = SimpleUploadedFile("mail.png", png_bytes())
        response = client.post("/requests/new/", {"contract": "abc", "scope": "jss_only", "screenshot": shot})
        assert response.status_code == 200
        assert response.context["form"].errors["contract"]
    shot = SimpleUploadedFile("mail.png", png_bytes())
    response = client.post("/requests/new/", {"contract": "abc", "scope": "jss_only", "screenshot": shot})
    assert response.status_code == 429
    assert RemovalRequest.objects.count() == 0


# --- 3. oversize bodies ------------------------------------------------------------------------------

ANNOUNCED = 300 * 1024 * 1024


def announce_and_trickle(url, path, cookie=""):
    """Announce a 300 MB multipart body, then send it 4 KB at a time until an answer comes (or 1 MB has gone,
    or 20 seconds): what came back, and how many body bytes had been sent by then."""
    parts = urlsplit(url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        "Content-Type: multipart/form-data; boundary=----perkdesk\r\n"
        f"Content-Length: {ANNOUNCED}\r\n{cookie}\r\n"
    )
    # A well-formed body: one file part whose content never ends.
    part = (
        b"------perkdesk\r\n"
        b'Content-Disposition: form-data; name="screenshot"; filename="mail.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    chunk = b"x" * 4096
    received, sent = b"", 0
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head.encode() + part)
        sock.settimeout(0.05)
        deadline = time.monotonic() + 20
        while b"\r\n" not in received and sent < 1024 * 1024 and time.monotonic() < deadline:
            try:
                sock.sendall(chunk)
                sent += len(chunk)
            except OSError:  # the server closed its side after answering
                pass
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            received += data
    return received, sent


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
def test_a_300_mb_body_is_answered_413_before_it_is_sent(live_server, who):
    # With a CSRF cookie, as a browser that opened the page has: the CSRF check then reads the form's token
    # from the body (before this fix, it read, and spooled to disk, the whole body to find it).
    cookies, path = [f"csrftoken={secrets.token_hex(16)}"], LOGIN
    if who == "signed-in":
        browser = Client()
        browser.force_login(f.FreelancerFactory().user)
        cookies.append(f"sessionid={browser.cookies['sessionid'].value}")
        path = "/requests/new/"
    received, sent = announce_and_trickle(live_server.url, path, f"Cookie: {'; '.join(cookies)}\r\n")
    assert received.startswith(b"HTTP/1.1 413"), received[:200]
    # Answered at once: well under 1% of the announced body had been sent (the loop stops at 1 MB).
    assert sent < 1024 * 1024


# --- 4. access follows the current role --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["membership deleted", "demoted to member"])
def test_an_agency_owner_who_loses_the_role_loses_the_ticket_they_filed(client, settings, pinned, change):
    owner = f.FreelancerFactory(user__username="dave")
    agency = f.AgencyFactory(top_rated=True)
    membership = f.AgencyMembershipFactory(agency=agency, freelancer=owner, owner=True)
    contract = f.ContractFactory(freelancer=owner, agency=agency, with_feedback=True)
    ticket = services.submit_request(
        requester=owner.user,
        contract_number=contract.number,
        scope="jss_only",
        screenshot=SimpleUploadedFile("mail.png", png_bytes()),
    )
    client.force_login(owner.user)
    base = f"/requests/{ticket.ticket_number}/"
    assert client.get(base).status_code == 200  # while they are the owner

    if change == "membership deleted":
        membership.delete()
    else:
        membership.role = "member"  # AgencyRole.MEMBER (a string here: the app is moving, issue 12)
        membership.save()

    assert client.get(base).status_code == 404
    assert client.get(base + "screenshot/").status_code == 404
    assert client.post(base + "withdraw/").status_code == 404
    assert ticket.ticket_number not in client.get("/requests/").content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "submitted"


# --- 5. PDFs and image metadata ----------------------------------------------------------------------


def pdf(active=None):
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    if active == "javascript":
        writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
            {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1)")}
        )
    elif active == "launch":
        writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
            {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")}
        )
    elif active == "embedded file":
        writer.add_attachment("invoice.html", b"<script>alert(1)</script>")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


HTML_DRESSED_AS_PDF = b"%PDF-1.7\n<html><body><script>alert(document.cookie)</script></body></html>\n%%EOF\n"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (HTML_DRESSED_AS_PDF, "damaged or incomplete"),
        (pdf("javascript"), "scripts, actions or attached files"),
        (pdf("launch"), "scripts, actions or attached files"),
        (pdf("embedded file"), "scripts, actions or attached files"),
    ],
    ids=["html-with-pdf-header", "javascript", "launch-action", "embedded-file"],
)
def test_pdfs_are_parsed_and_refused_when_they_act_or_carry_files(content, says):
    with pytest.raises(InvalidScreenshot, match=says):
        check_screenshot(SimpleUploadedFile("email.pdf", content))


def test_a_plain_one_page_pdf_is_accepted_as_sent():
    content = pdf()
    assert check_screenshot(SimpleUploadedFile("email.pdf", content)).content == content


@pytest.mark.django_db
def test_jpeg_exif_is_neither_stored_nor_served(client, settings, pinned):
    exif = Image.Exif()
    exif[0x010E] = "Taken at home, 12 Elm Street"  # ImageDescription
    exif[0x0112] = 6  # Orientation: the camera was turned; the picture is stored upright instead
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}  # GPS
    photo = picture((40, 30), fmt="JPEG", exif=exif)
    assert b"Elm Street" in photo and Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)
    fl, contract = in_grace_window()
    ticket = services.submit_request(
        requester=fl.user,
        contract_number=contract.number,
        scope="jss_only",
        screenshot=SimpleUploadedFile("IMG_0042.JPG", photo),
    )
    client.force_login(fl.user)
    response = client.get(f"/requests/{ticket.ticket_number}/screenshot/")
    served = b"".join(response.streaming_content)
    stored = (Path(settings.PRIVATE_MEDIA_ROOT) / ticket.screenshot.name).read_bytes()
    assert served == stored
    assert b"Elm Street" not in served and b"Exif" not in served
    with Image.open(io.BytesIO(served)) as image:
        assert image.format == "JPEG" and image.size == (30, 40)
        assert not image.getexif()


def test_png_text_chunks_are_not_kept():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "phone: +44 7700 900123")
    stored = check_screenshot(SimpleUploadedFile("s.png", picture((50, 20), pnginfo=info))).content
    assert b"7700" not in stored
    assert Image.open(io.BytesIO(stored)).size == (50, 20)


# --- 6. silent refusals and NUL bytes -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_tampered_agency_is_refused_with_a_message(client, pinned):
    fl = f.FreelancerFactory(top_rated=True)  # acts for no agency: the field is hidden
    contract = f.ContractFactory(freelancer=fl, with_feedback=True)
    other = f.AgencyFactory()
    client.force_login(fl.user)
    data = {"contract": contract.number, "scope": "jss_only", "agency": other.public_id}
    response = client.post("/requests/new/", data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "We could not tell which agency you are asking for" in page
    assert f'value="{other.public_id}"' not in page  # sent back without it, so sending again works
    assert RemovalRequest.objects.count() == 0


@pytest.mark.django_db
def test_a_tampered_agency_is_said_on_its_field_when_it_is_shown(client, pinned):
    fl = f.FreelancerFactory(top_rated=True)
    f.AgencyMembershipFactory(freelancer=fl, owner=True)
    contract = f.ContractFactory(freelancer=fl, with_feedback=True)
    client.force_login(fl.user)
    data = {"contract": contract.number, "scope": "jss_only", "agency": f.AgencyFactory().public_id}
    response = client.post("/requests/new/", data)
    assert response.context["form"].errors["agency"][0].startswith("We could not tell which agency")


NUL_REQUESTS = [
    ("admin filter", "get", "/admin/requests_app/removalrequest/?scope__exact=%00", None),
    ("admin date filter", "get", "/admin/marketplace/contract/?ended_on__isnull=%00", None),
    ("admin search", "get", "/admin/marketplace/freelancer/?q=a%00b", None),
    ("queue search", "get", "/admin/requests_app/removalrequest/?q=%00", None),
    ("form prefill", "get", "/requests/new/?contract=1%002", None),
    ("form field", "post", "/requests/new/", {"contract": "4000\x000001", "scope": "jss_only"}),
    ("sign-in", "post", LOGIN, {"username": "agent\x00", "password": "x"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("what", "method", "url", "data"), NUL_REQUESTS, ids=[r[0] for r in NUL_REQUESTS])
def test_a_nul_byte_anywhere_is_a_400_not_a_crash(what, method, url, data):
    client = Client(raise_request_exception=False)
    client.force_login(f.UserFactory(username="agent", agent=True, is_superuser=True))
    response = client.get(url) if method == "get" else client.post(url, data)
    assert response.status_code == 400, (what, response.status_code)
    assert "could not be read" in response.content.decode()


@pytest.mark.django_db
def test_a_nul_byte_in_a_cookie_is_a_400():
    client = Client(raise_request_exception=False)
    assert client.get("/requests/", HTTP_COOKIE="sessionid=\x00abcdefghijklmnop").status_code == 400


# --- 7. DEBUG by default, Permissions-Policy, Unicode digits ------------------------------------------


def run_settings(
    env, code="from django.conf import settings as s; print(s.DEBUG, s.PRODUCTION, s.TRUSTED_PROXY_COUNT)"
):
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_django_env_the_settings_are_production():
    bare = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    refused = run_settings(bare)
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY" in refused.stderr
    configured = run_settings(
        {**bare, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_ALLOWED_HOSTS": "perkdesk.example"}
    )
    # Production assumes the TLS proxy in front (one trusted proxy); development none.
    assert configured.stdout.strip().splitlines()[-1] == "False True 1", configured.stderr
    development = run_settings({**bare, "DJANGO_ENV": "development"})
    assert development.stdout.strip().splitlines()[-1] == "True False 0", development.stderr


@pytest.mark.django_db
def test_pages_carry_a_permissions_policy(client):
    policy = client.get(LOGIN)["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["²³", "٣١٨٤٩٠٠١", "３１８４９"], ids=["superscript", "arabic-indic", "fullwidth"])
def test_a_contract_id_is_ascii_digits_only(client, pinned, number):
    fl = f.FreelancerFactory(top_rated=True)
    client.force_login(fl.user)
    response = client.post("/requests/new/", {"contract": number, "scope": "jss_only"})
    assert [e.code for e in response.context["form"].errors.as_data()["contract"]] == ["invalid"]
    assert "A Contract ID is made of digits only" in response.content.decode()
