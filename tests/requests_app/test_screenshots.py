"""Screenshots of the status-loss email (SPEC §7): PNG, JPEG or PDF checked by content, at most 5 MB,
stored under a random name in PRIVATE_MEDIA_ROOT, and nothing stored when they are refused — through
the service and through the form."""

import ast
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from requests_app import services
from requests_app.models import RemovalRequest, RequestEvent
from requests_app.screenshots import InvalidScreenshot, check_screenshot
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def image_bytes(fmt, size=(320, 200), mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, size, (20, 128, 74) if mode == "RGB" else 0).save(buffer, format=fmt)
    return buffer.getvalue()


PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")
PDF = image_bytes("PDF")  # a one-page PDF as a "print to PDF" writes it (pypdf must be able to read it)
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)
PNG_HEADER_THEN_JUNK = PNG[:64] + b"\x00junk" * 200
OVERSIZE = PNG + b"\x00" * (5 * 1024 * 1024)
GIF = image_bytes("GIF", mode="P")

REFUSED = [
    ("html-renamed-png", "screenshot.png", "image/png", HTML, "PNG or JPEG image, or a PDF"),
    ("svg", "screenshot.svg", "image/svg+xml", SVG, "PNG or JPEG image, or a PDF"),
    ("png-header-then-junk", "screenshot.png", "image/png", PNG_HEADER_THEN_JUNK, "PNG or JPEG image, or a PDF"),
    ("over-5-mb", "screenshot.png", "image/png", OVERSIZE, "larger than 5 MB"),
    ("gif", "screenshot.gif", "image/gif", GIF, "PNG or JPEG image, or a PDF"),
    ("pdf-cut-short", "email.pdf", "application/pdf", PDF[:-7], "damaged or incomplete"),
    ("empty", "screenshot.png", "image/png", b"", "empty"),
]
ACCEPTED = [
    ("png", "Screen Shot 2026-11-21.png", PNG, "image/png", ".png"),
    ("jpeg", "IMG_0042.JPG", JPEG, "image/jpeg", ".jpg"),
    ("pdf", "status-email.pdf", PDF, "application/pdf", ".pdf"),
    # A real PNG under a misleading name and browser type is still a PNG.
    ("png-named-pdf", "email.pdf", PNG, "image/png", ".png"),
]


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def private_files():
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def in_grace_window():
    """Bob's situation: lost Top Rated for a JSS dip five days ago, so a screenshot is needed."""
    fl = f.FreelancerFactory()
    f.TopRatedPeriodFactory(freelancer=fl, lost_jss_dip=True)
    contract = f.ContractFactory(freelancer=fl, with_feedback=True)
    return fl, contract


def assert_same_screenshot(stored: bytes, sent: bytes):
    """A PDF is stored as sent; an image is stored re-encoded (without its metadata): the same picture."""
    if sent.startswith(b"%PDF-"):
        assert stored == sent
        return
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(sent)) as original:
        assert (kept.format, kept.size, kept.mode) == (original.format, original.size, original.mode)
        if original.format == "PNG":
            assert kept.tobytes() == original.tobytes()


def nothing_stored():
    return RemovalRequest.objects.count() == 0 and RequestEvent.objects.count() == 0 and private_files() == []


# --- the service --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "content", "says"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_service_refuses_bad_uploads_and_stores_nothing(name, content_type, content, says):
    fl, contract = in_grace_window()
    with pytest.raises(InvalidScreenshot, match=says):
        services.submit_request(
            requester=fl.user,
            contract_number=contract.number,
            scope="jss_only",
            screenshot=upload(name, content, content_type),
        )
    assert nothing_stored()


@pytest.mark.parametrize(
    ("name", "content", "content_type", "ext"), [a[1:] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED]
)
def test_service_stores_good_screenshots_under_a_random_name(name, content, content_type, ext):
    fl, contract = in_grace_window()
    r = services.submit_request(
        requester=fl.user, contract_number=contract.number, scope="jss_only", screenshot=upload(name, content)
    )
    r.refresh_from_db()
    assert r.screenshot_content_type == content_type
    assert re.fullmatch(rf"screenshots/[0-9a-f]{{32}}\{ext}", r.screenshot.name)
    files = private_files()
    assert files == [Path(settings.PRIVATE_MEDIA_ROOT) / r.screenshot.name]
    assert_same_screenshot(files[0].read_bytes(), content)
    assert Path(name).stem not in r.screenshot.name


def test_two_uploads_of_the_same_file_get_different_names():
    names = set()
    for _ in range(2):
        fl, contract = in_grace_window()
        r = services.submit_request(
            requester=fl.user, contract_number=contract.number, scope="jss_only", screenshot=upload("s.png", PNG)
        )
        names.add(r.screenshot.name)
    assert len(names) == 2 and len(private_files()) == 2


def test_the_screenshot_of_a_refused_request_is_not_kept():
    fl, contract = in_grace_window()
    contract.ended_on = None
    contract.save()
    with pytest.raises(services.NotEligible):
        services.submit_request(
            requester=fl.user, contract_number=contract.number, scope="jss_only", screenshot=upload("s.png", PNG)
        )
    assert nothing_stored()


# The suite's autouse fixture moves PRIVATE_MEDIA_ROOT to a temporary folder, so the real settings are read in a
# fresh process, as the site would read them (with PRIVATE_MEDIA_ROOT from its environment, or the default).
WEB_ROOTS_HOLDING_PRIVATE_FILES = """
from pathlib import Path
from django.conf import settings as s
private = Path(s.PRIVATE_MEDIA_ROOT).resolve()
roots = [Path(s.STATIC_ROOT), *map(Path, s.STATICFILES_DIRS)] + ([Path(s.MEDIA_ROOT)] if s.MEDIA_ROOT else [])
print([str(r) for r in roots if private.is_relative_to(r.resolve())])
"""


def web_roots_holding_private_files(**environ):
    env = {**os.environ, "DJANGO_ENV": "development", **environ}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", WEB_ROOTS_HOLDING_PRIVATE_FILES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_private_files_live_outside_every_web_root():
    assert web_roots_holding_private_files() == []


@pytest.mark.parametrize("inside", ["static/private", "staticfiles/private"])
def test_the_web_root_check_sees_private_files_inside_a_web_root(inside):
    assert web_roots_holding_private_files(PRIVATE_MEDIA_ROOT=str(ROOT / inside)) == [str((ROOT / inside).parent)]


def test_a_small_file_that_decodes_to_a_huge_picture_is_refused():
    bomb = image_bytes("PNG", size=(10_000, 5_000), mode="1")
    assert len(bomb) < 200_000
    with pytest.raises(InvalidScreenshot, match="too large"):
        check_screenshot(upload("big.png", bomb))


def test_phone_jpegs_with_a_second_picture_are_jpegs():
    buffer = io.BytesIO()
    first, second = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (40, 30), "blue")
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    checked = check_screenshot(upload("photo.jpg", buffer.getvalue()))
    assert (checked.content_type, checked.extension) == ("image/jpeg", ".jpg")


# --- the form -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "content", "says"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_form_shows_the_error_on_the_screenshot_field_and_stores_nothing(client, name, content_type, content, says):
    fl, contract = in_grace_window()
    client.force_login(fl.user)
    response = client.post(
        "/requests/new/",
        {"contract": contract.number, "scope": "jss_only", "screenshot": upload(name, content, content_type)},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert says in " ".join(form.errors["screenshot"])
    assert not form.non_field_errors()
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert re.search(
        r'<input[^>]*name="screenshot"[^>]*aria-describedby="id_screenshot_helptext id_screenshot_error"', html
    )
    assert 'id="id_screenshot_error"' in html
    assert nothing_stored()


def test_form_accepts_a_good_png_in_the_grace_window(client):
    fl, contract = in_grace_window()
    client.force_login(fl.user)
    response = client.post(
        "/requests/new/", {"contract": contract.number, "scope": "jss_only", "screenshot": upload("mail.png", PNG)}
    )
    r = RemovalRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{r.ticket_number}/"
    [stored] = private_files()
    assert_same_screenshot(stored.read_bytes(), PNG)


def test_form_without_the_screenshot_in_the_grace_window_says_so(client):
    fl, contract = in_grace_window()
    client.force_login(fl.user)
    response = client.post("/requests/new/", {"contract": contract.number, "scope": "jss_only"})
    form = response.context["form"]
    assert [e.code for e in form.non_field_errors().as_data()] == ["screenshot_required"]
    assert form.errors["screenshot"] == ["Attach a screenshot of the email about your status loss."]
    assert nothing_stored()


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(client):
    fl, contract = in_grace_window()
    client.force_login(fl.user)
    huge = upload("mail.png", PNG + b"\x00" * (8 * 1024 * 1024))
    response = client.post("/requests/new/", {"contract": contract.number, "scope": "jss_only", "screenshot": huge})
    # Answered by perkdesk.middleware.BodySizeGuard on the Content-Length (tests/security/test_hardening.py
    # shows that on a real server with a body that never arrives).
    assert response.status_code == 413
    page = response.content.decode()
    assert "A screenshot can be at most 5 MB. Nothing was sent and nothing changed" in page
    assert "{#" not in page and "{%" not in page
    assert nothing_stored()
