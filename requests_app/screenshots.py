"""Screenshots of the status-loss email: checked by content, never by name or browser-sent type.

Images are refused on their declared size before a pixel is decoded (``MAX_PIXELS``), decoded once, and
stored re-encoded from their pixels, so nothing of the upload but the picture is kept: no EXIF (GPS position,
camera, description), no comments, text chunks or colour profiles. PDFs are parsed (pypdf) and refused when
they hold anything that acts: JavaScript, launch and other actions, attached or embedded files.
"""

import io
import secrets
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

# MPO is how Pillow names the JPEGs many phones write (a JPEG with a second picture appended).
ALLOWED = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "MPO": ("image/jpeg", ".jpg")}
PDF = ("application/pdf", ".pdf")
# A screenshot of an email is a few million pixels: a 4K screen is 8.3 million, a 5K Retina screen 14.7
# million, a phone's scrolling capture of a long email (1290 x 12000) 15.5 million. Above 16 million the
# picture is refused before it is decoded: decoding one costs time and memory in proportion to its pixels
# (about 100 MB for a progressive JPEG at the cap), however small the file.
MAX_PIXELS = 16_000_000
NOT_A_SCREENSHOT = "The screenshot must be a PNG or JPEG image, or a PDF."
TOO_MANY_PIXELS = (
    f"The screenshot's picture is too large (more than {MAX_PIXELS // 1_000_000} million pixels); please send "
    "a screenshot of the email only, or a smaller one."
)
PDF_ACTIVE = (
    "The PDF holds scripts, actions or attached files, which a screenshot never needs. Please send a "
    "screenshot image (PNG or JPEG) of the email, or print the email to a plain PDF."
)
PDF_DAMAGED = "The PDF looks damaged or incomplete."
# A PDF of a printed email has a few hundred dictionaries and arrays; this many is a file built to be expensive
# to read.
MAX_PDF_OBJECTS = 100_000
# What a PDF action or an object may be that makes a plain document run, open or carry something.
ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/GoToE", "/ImportData", "/SubmitForm", "/RichMediaExecute"}
ACTIVE_KEYS = {"/JS", "/JavaScript", "/EmbeddedFiles", "/EmbeddedFile", "/EF", "/XFA", "/RichMedia"}
ACTIVE_TYPES = {"/EmbeddedFile", "/FileAttachment", "/RichMedia", "/Sound", "/Movie", "/Screen", "/3D"}


class InvalidScreenshot(ValueError):
    """The upload is not a PNG, JPEG or PDF we can trust, or it is too large."""


@dataclass(frozen=True)
class CheckedScreenshot:
    content: bytes
    content_type: str
    extension: str

    def random_name(self) -> str:
        # Random, not derived from the upload's name: nothing to guess, nothing to traverse.
        return f"{secrets.token_hex(16)}{self.extension}"


def check_screenshot(upload) -> CheckedScreenshot:
    """The screenshot to store (an image re-encoded without metadata, or the checked PDF) with its real
    type, or ``InvalidScreenshot`` saying what is wrong."""
    if isinstance(upload, CheckedScreenshot):
        return upload
    max_bytes = settings.SCREENSHOT_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise InvalidScreenshot(f"The screenshot is larger than {max_bytes // (1024 * 1024)} MB.")
    upload.seek(0)
    content = upload.read(max_bytes + 1)
    upload.seek(0)
    if len(content) > max_bytes:
        raise InvalidScreenshot(f"The screenshot is larger than {max_bytes // (1024 * 1024)} MB.")
    if not content:
        raise InvalidScreenshot("The screenshot file is empty.")
    if content.startswith(b"%PDF-"):
        check_pdf(content)
        return CheckedScreenshot(content, *PDF)
    return _clean_image(content)


def _clean_image(content: bytes) -> CheckedScreenshot:
    try:
        # Only the header is read here: the declared size is judged before any pixel is decoded.
        with Image.open(io.BytesIO(content), formats=("PNG", "JPEG")) as image:
            kind = image.format
            if kind not in ALLOWED:
                raise InvalidScreenshot(NOT_A_SCREENSHOT)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidScreenshot(TOO_MANY_PIXELS)
            # Decoding every pixel (once) also catches a valid header followed by junk.
            image.load()
            stored = _without_metadata(image, kind)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, InvalidScreenshot):
            raise
        raise InvalidScreenshot(NOT_A_SCREENSHOT) from None
    return CheckedScreenshot(stored, *ALLOWED[kind])


def _without_metadata(image, kind) -> bytes:
    """The picture alone, in its own format: turned upright as the EXIF orientation said, then saved from
    its pixels with no EXIF, XMP, comment, text chunk or colour profile (only PNG transparency is kept)."""
    clean = ImageOps.exif_transpose(image)  # a copy
    clean.info = {key: value for key, value in clean.info.items() if key == "transparency"}
    out = io.BytesIO()
    if ALLOWED[kind][1] == ".png":
        clean.save(out, format="PNG", icc_profile=None)
    else:
        # 4:4:4 at quality 90: an email's small text stays legible.
        clean.save(out, format="JPEG", quality=90, subsampling=0, icc_profile=None)
    return out.getvalue()


def check_pdf(content: bytes) -> None:
    """Parse the PDF and refuse it when it is not one, is encrypted, has no page, or holds anything active:
    JavaScript, launch (and other) actions, embedded or attached files, multimedia, XFA forms."""
    # A PDF must at least end like one; it is served as application/pdf with nosniff, never as a page.
    if b"%%EOF" not in content[-2048:]:
        raise InvalidScreenshot(PDF_DAMAGED)
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise InvalidScreenshot("The PDF is password-protected; please send it without a password.")
        if len(reader.pages) < 1:
            raise InvalidScreenshot(PDF_DAMAGED)
        if _holds_anything_active(reader.trailer):
            raise InvalidScreenshot(PDF_ACTIVE)
    except InvalidScreenshot:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, OSError, RecursionError):
        raise InvalidScreenshot(PDF_DAMAGED) from None


def _holds_anything_active(root) -> bool:
    """Walk every dictionary and array reachable from the trailer (names are compared as pypdf decoded them, so
    ``#4A#53`` is ``JS``), without decoding any stream's data."""
    containers = (IndirectObject, DictionaryObject, ArrayObject)
    seen = set()
    stack = [root]
    visited = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            obj = obj.get_object()
        visited += 1
        if visited > MAX_PDF_OBJECTS:
            raise InvalidScreenshot(PDF_DAMAGED)
        if isinstance(obj, DictionaryObject):
            if ACTIVE_KEYS & set(obj.keys()):
                return True
            if _name(obj.get("/S")) in ACTIVE_ACTIONS:
                return True
            if _name(obj.get("/Type")) in ACTIVE_TYPES or _name(obj.get("/Subtype")) in ACTIVE_TYPES:
                return True
            stack.extend(value for value in obj.values() if isinstance(value, containers))
        elif isinstance(obj, ArrayObject):
            stack.extend(value for value in obj if isinstance(value, containers))
    return False


def _name(value) -> str | None:
    return value if isinstance(value, str) else None
