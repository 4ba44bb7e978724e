"""Turn uploaded bytes into a clean image and a thumbnail, or refuse them.

Screenshots of a trading app show balances and addresses; phone photos carry GPS positions
and device serials. So nothing uploaded is stored as it came: the type is decided from the
bytes, the pixel count is checked before decoding, and the image is re-encoded from its
pixels alone (EXIF orientation applied first), which leaves no EXIF, XMP, ICC profile,
comment or trailing data behind.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from support_api.lib.errors import UnsupportedMediaType, ValidationFailed

pillow_heif.register_heif_opener()
# Load every plugin now: Image.open(formats=…) only knows the ones already loaded.
Image.init()

# Pillow format → what we store. HEIC/HEIF from iPhones becomes JPEG, which every client shows.
_OUTPUT_FORMAT = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WEBP", "HEIF": "JPEG"}
# What Image.open may try. A JPEG with several pictures opens as MPO through the JPEG plugin.
_ACCEPTED_FORMATS = ["PNG", "JPEG", "WEBP", "HEIF"]
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

# Markup or documents hiding in an image file (polyglots): an image that is also an HTML page,
# an SVG, a PDF, a PHP script or a ZIP archive is refused even though it decodes.
_ACTIVE_CONTENT = re.compile(rb"(?i)<(?:script|html|svg|iframe|\?php|\?xml)|%PDF-|PK\x05\x06")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str
    thumbnail: bytes
    thumbnail_content_type: str


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int
    max_dimension: int
    thumbnail_size: int


def _png_has_trailing_data(raw: bytes) -> bool:
    """True when bytes follow the IEND chunk: the classic way to smuggle a second file."""
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(raw):
        length = int.from_bytes(raw[position:position + 4], "big")
        chunk_type = raw[position + 4:position + 8]
        position += 12 + length
        if chunk_type == b"IEND":
            return position < len(raw)
    return False


def _refuse_unsupported(detail: str) -> UnsupportedMediaType:
    return UnsupportedMediaType("Only PNG, JPEG, WebP and HEIC images are accepted", {"reason": detail})


def _open(raw: bytes, limits: ImageLimits) -> Image.Image:
    if not raw:
        raise ValidationFailed("The file is empty", {"reason": "empty"})
    if _ACTIVE_CONTENT.search(raw):
        raise _refuse_unsupported("active_content")
    try:
        with warnings.catch_warnings():
            # Our own limit below is the one that counts; Pillow's bomb warning is not an error here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=_ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Pillow's own header check fired first (far beyond our limit): same answer as ours.
        raise ValidationFailed("The image is too large", {"reason": "too_many_pixels",
                                                          "max_pixels": limits.max_pixels}) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise _refuse_unsupported("not_an_accepted_image") from exc
    width, height = image.size
    # Checked from the header, before a single pixel is decoded.
    if width * height > limits.max_pixels or max(width, height) > limits.max_dimension:
        raise ValidationFailed(
            "The image is too large",
            {"reason": "too_many_pixels", "width": width, "height": height,
             "max_pixels": limits.max_pixels, "max_dimension": limits.max_dimension},
        )
    if image.format == "PNG" and _png_has_trailing_data(raw):
        raise _refuse_unsupported("trailing_data")
    return image


def _decode(image: Image.Image) -> Image.Image:
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationFailed("The image is truncated or corrupt", {"reason": "corrupt"}) from exc
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert colours with an embedded ICC profile (e.g. Display P3) to plain sRGB."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=image.mode) or image
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken or hostile profile is simply not used.
        return image


def _pixels_only(image: Image.Image, keep_alpha: bool) -> Image.Image:
    """A new image holding just the pixels: no info dict, so nothing rides along on save."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if keep_alpha and has_alpha else "RGB"
    if image.mode != mode:
        if mode == "RGB" and has_alpha:
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image = flat
        else:
            image = image.convert(mode)
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    return clean


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=88, method=4)
    else:
        image.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def sanitize(raw: bytes, limits: ImageLimits) -> CleanImage:
    """Decide the type from the bytes, refuse what is not a plain raster image, re-encode.

    Raises UnsupportedMediaType (415) for non-images, polyglots and unaccepted formats, and
    ValidationFailed (422) for empty, oversized-in-pixels, truncated or corrupt images.
    """
    image = _open(raw, limits)
    source_format = image.format or ""
    output_format = _OUTPUT_FORMAT[source_format]
    image = _decode(image)
    # Only the first frame of an animated WebP or a multi-picture JPEG is kept.
    image = ImageOps.exif_transpose(image) or image
    image = _to_srgb(image)
    clean = _pixels_only(image, keep_alpha=output_format in ("PNG", "WEBP"))
    data = _encode(clean, output_format)

    thumbnail = clean.copy()
    thumbnail.thumbnail((limits.thumbnail_size, limits.thumbnail_size), Image.Resampling.LANCZOS)
    thumbnail = _pixels_only(thumbnail, keep_alpha=False)
    return CleanImage(
        data=data,
        content_type=CONTENT_TYPES[output_format],
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(data).hexdigest(),
        thumbnail=_encode(thumbnail, "JPEG"),
        thumbnail_content_type="image/jpeg",
    )
