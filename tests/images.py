"""Test images made on the fly: real encoders, real metadata, real attacks."""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
from PIL import Image, ImageCms

pillow_heif.register_heif_opener()


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    return encode(Image.new("RGB", (width, height), color), "PNG")


def two_tone(width: int = 200, height: int = 100) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def jpeg_with_gps(orientation: int = 6) -> bytes:
    """A phone photo: EXIF orientation, camera make and a GPS position in Tokyo."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SecretPhoneMaker"
    exif[0xA431] = "SERIAL-0123456789"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (35.0, 41.0, 22.5), "E", (139.0, 41.0, 30.0)
    return encode(two_tone(), "JPEG", exif=exif.tobytes(), quality=95)


def png_with_icc_and_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "wallet balance 12.5 BTC")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(Image.new("RGB", (40, 30), (10, 200, 10)), "PNG", pnginfo=info, icc_profile=icc)


def webp() -> bytes:
    return encode(Image.new("RGBA", (50, 40), (0, 0, 0, 128)), "WEBP")


def heic() -> bytes:
    return encode(two_tone(120, 60), "HEIF", quality=80)


def gif() -> bytes:
    return encode(Image.new("P", (10, 10)), "GIF")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb(side: int = 60000) -> bytes:
    """A tiny valid-looking PNG whose header claims side×side pixels (3.6 billion)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * 3 * side
    compressed = zlib.compress(row * 4, 9)  # only a few rows: the header is what matters
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", compressed) + _chunk(b"IEND", b"")


def truncated_png() -> bytes:
    data = encode(Image.effect_noise((256, 256), 64).convert("RGB"), "PNG")
    return data[: len(data) // 2]


def html_polyglot() -> bytes:
    return png() + b"<html><script>alert(document.cookie)</script></html>"


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
