"""The offline landscape's lights: blurred within their box, the same pixels as blurring the
whole picture (what the drawing did before it was made cheaper)."""

import random

import pytest
from PIL import Image, ImageDraw, ImageFilter

from glimpse_assets.providers.landscape import lay_lights


def lights(size: int, seed: int) -> Image.Image:
    """A transparent layer (of one colour) with a few soft lights, like the landscape's."""
    rng = random.Random(seed)
    glow = Image.new("RGBA", (size, size), (240, 220, 200, 0))
    draw = ImageDraw.Draw(glow)
    for _ in range(rng.randint(1, 6)):
        x, y, r = rng.uniform(0, size), rng.uniform(0, size * 0.6), rng.uniform(2, size * 0.1)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(250, 240, 180, rng.choice([60, 230])))
    return glow


def backdrop(size: int) -> Image.Image:
    image = Image.linear_gradient("L").resize((size, size)).convert("RGB")
    ImageDraw.Draw(image).rectangle((0, size // 2, size, size), fill=(30, 60, 90))
    return image


@pytest.mark.parametrize(("size", "seed"), [(256, 1), (256, 2), (200, 3), (64, 4), (1024, 5)])
def test_lights_blurred_in_their_box_match_blurring_the_whole_picture(size, seed):
    glow, radius = lights(size, seed), size / 200
    whole = Image.alpha_composite(
        backdrop(size).convert("RGBA"), glow.filter(ImageFilter.GaussianBlur(radius))
    ).convert("RGB")

    image = backdrop(size)
    lay_lights(image, glow, radius)

    assert image.tobytes() == whole.tobytes()


def test_no_lights_leave_the_picture_as_it_was():
    image = backdrop(64)

    lay_lights(image, Image.new("RGBA", (64, 64), (240, 220, 200, 0)), 0.32)

    assert image.tobytes() == backdrop(64).tobytes()
