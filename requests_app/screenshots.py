"""Screenshots of the status-loss email: checked by content, never by name or browser-sent type."""

import io
import secrets
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

# MPO is how Pillow names the JPEGs many phones write (a JPEG with a second picture appended).
ALLOWED = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "MPO": ("image/jpeg", ".jpg")}
PDF = ("application/pdf", ".pdf")
# A screenshot of an email is a few million pixels; a small file that decodes to far more is a bomb.
MAX_PIXELS = 40_000_000
NOT_A_SCREENSHOT = "The screenshot must be a PNG or JPEG image, or a PDF."


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
    """The upload's bytes with their real type, or ``InvalidScreenshot`` saying what is wrong."""
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
        # A PDF must at least end like one; it is served as application/pdf with nosniff, never as a page.
        if b"%%EOF" not in content[-2048:]:
            raise InvalidScreenshot("The PDF looks damaged or incomplete.")
        return CheckedScreenshot(content, *PDF)
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind = image.format
            if kind not in ALLOWED:
                raise InvalidScreenshot(NOT_A_SCREENSHOT)
            if image.width * image.height > MAX_PIXELS:
                raise InvalidScreenshot("The screenshot's picture is too large; please send a smaller screenshot.")
            image.verify()
        # verify() checks structure; decoding the pixels catches a valid header followed by junk.
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, InvalidScreenshot):
            raise
        raise InvalidScreenshot(NOT_A_SCREENSHOT) from None
    return CheckedScreenshot(content, *ALLOWED[kind])
