"""PngImage: a picture stored, read back and published as the PNG bytes it was encoded to once.

Through the real IO manager and executor: the stored object is the value's own bytes (not encoded
again), an unannotated downstream input gets them back as a PngImage, an input annotated as a
Pillow image gets the pixels; and the post publishes the stored bytes as they are.
"""

import io

import dagster as dg
import pytest
from PIL import Image

from glimpse_assets.publish.assets import png_of
from glimpse_assets.storage import formats
from glimpse_assets.storage.formats import PngImage
from glimpse_assets_tests.support.stores import io_manager_at

DAY = "2026-03-02"
days = dg.DailyPartitionsDefinition(start_date="2026-03-01", timezone="UTC")


def make_picture() -> Image.Image:
    image = Image.new("RGB", (40, 30), (10, 20, 30))
    image.paste((200, 100, 50), (5, 5, 20, 12))
    return image


def fast_png(image: Image.Image) -> bytes:
    """An encoding Pillow's default would not give (level 1), so a re-encoding would show."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


PICTURE_PNG = fast_png(make_picture())
loaded: dict[str, object] = {}


@dg.asset(partitions_def=days)
def picture():
    return PngImage(PICTURE_PNG)


@dg.asset(partitions_def=days)
def picture_reader(picture) -> dict:
    loaded["stored"] = picture
    return {"read": 1}


@dg.asset(partitions_def=days)
def pixels_reader(picture: Image.Image) -> dict:
    loaded["pixels"] = picture
    return {"read": 1}


def test_a_png_image_is_stored_as_its_bytes_and_read_back_as_them(tmp_path):
    root = tmp_path / "storage"
    resources = {"io_manager": io_manager_at(str(root))}
    loaded.clear()

    result = dg.materialize(
        [picture, picture_reader, pixels_reader], partition_key=DAY, resources=resources
    )

    assert result.success
    assert (root / "picture" / f"{DAY}.png").read_bytes() == PICTURE_PNG
    stored = loaded["stored"]
    assert isinstance(stored, PngImage)
    assert (stored.png, stored.size, stored.format) == (PICTURE_PNG, (40, 30), "PNG")
    pixels = loaded["pixels"]
    assert isinstance(pixels, Image.Image)
    assert pixels.tobytes() == make_picture().tobytes()


def test_a_png_image_reads_its_size_from_the_header_and_decodes_its_pixels_on_demand():
    image = PngImage(PICTURE_PNG)

    assert (image.width, image.height) == (40, 30)
    assert image.image.tobytes() == make_picture().tobytes()
    assert image.image is image.image  # decoded once


def test_an_encoded_picture_keeps_the_pixels_it_was_encoded_from():
    picture = make_picture()

    image = PngImage.of(picture)

    assert image.image is picture
    assert formats.decode(image.png, formats.PNG).image.tobytes() == picture.tobytes()
    assert formats.encode(image, formats.PNG) == image.png
    assert formats.format_for_value(image) is formats.PNG


@pytest.mark.parametrize("data", [b"", b"GIF89a" + bytes(40), PICTURE_PNG[:20]])
def test_bytes_that_are_not_a_png_are_refused_in_one_line(data):
    with pytest.raises(ValueError) as error:
        PngImage(data)

    assert str(error.value) == (
        "not a PNG image: its first bytes are not a PNG signature and header"
    )


def test_the_post_publishes_a_stored_picture_as_it_was_stored():
    assert png_of(PngImage(PICTURE_PNG)) == PICTURE_PNG
    # A Pillow image is encoded (a provider or a test may hand one over).
    with Image.open(io.BytesIO(png_of(make_picture()))) as image:
        assert image.tobytes() == make_picture().tobytes()
