"""Screenshots of the status-loss email: checked by content, never by name or browser-sent type."""

import io
import secrets
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

ALLOWED = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg")}
PDF = ("application/pdf", ".pdf")


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
        # A PDF must at least end like one; we never render it, staff download it.
        if b"%%EOF" not in content[-2048:]:
            raise InvalidScreenshot("The PDF looks damaged or incomplete.")
        return CheckedScreenshot(content, *PDF)
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind = image.format
            image.verify()
        # verify() checks structure; decoding the pixels catches a valid header followed by junk.
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidScreenshot("The screenshot must be a PNG or JPEG image, or a PDF.") from None
    if kind not in ALLOWED:
        raise InvalidScreenshot("The screenshot must be a PNG or JPEG image, or a PDF.")
    return CheckedScreenshot(content, *ALLOWED[kind])
