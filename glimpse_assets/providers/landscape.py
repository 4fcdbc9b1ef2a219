"""The offline image provider's drawing: a deterministic Pillow landscape seeded by the prompt
(not a generative model).

The prompt's SHA-256 seeds the palette and the shapes: a sky gradient, a sun, layered hills and
soft lights. The same prompt always gives the same PNG bytes; different prompts differ.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _gradient(size: int, top: tuple[int, ...], bottom: tuple[int, ...]) -> Image.Image:
    """A vertical gradient: one column of colours, widened (each row is one colour)."""
    t = np.linspace(0.0, 1.0, size, dtype=np.float64)[:, None]
    rows = (1 - t) * np.array(top, dtype=np.float64) + t * np.array(bottom, dtype=np.float64)
    column = rows.round().astype(np.uint8)[:, None, :]
    return Image.fromarray(column, "RGB").resize((size, size), Image.Resampling.NEAREST)


def _hill(size: int, rng: random.Random, base: float, height: float) -> list[tuple[float, float]]:
    waves = [
        (rng.uniform(0.5, 3.0), rng.uniform(0, 6.283), rng.uniform(0.3, 1.0)) for _ in range(3)
    ]
    points = []
    for step in range(65):
        x = size * step / 64
        wobble = sum(a * np.sin(f * 6.283 * step / 64 + p) for f, p, a in waves) / 3
        points.append((x, size * (base - height * wobble)))
    return [*points, (size, size), (0, size)]


def render_prompt_image(prompt: str, size: int = 1024) -> Image.Image:
    seed = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    hue = rng.random()
    image = _gradient(size, _colour(hue, 0.45, 0.9), _colour(hue + 0.08, 0.25, 1.0))

    # Transparent pixels carry the light's own colour, so blurring does not darken the edges.
    glow = Image.new("RGBA", (size, size), (*_colour(hue + 0.5, 0.2, 1.0), 0))
    draw = ImageDraw.Draw(glow)
    for _ in range(rng.randint(10, 18)):
        x, y, r = (
            rng.uniform(0, size),
            rng.uniform(0, size * 0.6),
            rng.uniform(size * 0.02, size * 0.08),
        )
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*_colour(hue + 0.5, 0.2, 1.0), 60))
    sun_x, sun_y, sun_r = rng.uniform(0.2, 0.8) * size, rng.uniform(0.15, 0.35) * size, size * 0.09
    draw.ellipse(
        (sun_x - sun_r, sun_y - sun_r, sun_x + sun_r, sun_y + sun_r),
        fill=(*_colour(hue + 0.12, 0.6, 1.0), 230),
    )
    lay_lights(image, glow, size / 200)

    # Opaque hills drawn in turn, each over the last: what compositing opaque layers gives.
    draw = ImageDraw.Draw(image)
    layers = rng.randint(3, 5)
    for layer in range(layers):
        depth = (layer + 1) / layers
        colour = _colour(hue + 0.3 + 0.05 * layer, 0.35 + 0.3 * depth, 0.85 - 0.45 * depth)
        draw.polygon(_hill(size, rng, 0.5 + 0.12 * layer, 0.12 - 0.015 * layer), fill=colour)
    return image


def lay_lights(image: Image.Image, glow: Image.Image, radius: float) -> None:
    """Blur `glow` and lay it over `image`, in place, within the box around the lights only.

    Away from the lights the glow is fully transparent and stays so when blurred, and blurring
    a box with a margin wider than the blur reaches gives the same pixels inside it as blurring
    the whole picture (the blur sees the same transparent pixels beyond the lights either way);
    so the work is the lights' box, not the whole picture."""
    bounds = glow.getbbox()
    if bounds is None:
        return
    margin = math.ceil(6 * radius) + 2
    left, top, right, bottom = bounds
    box = (
        max(left - margin, 0),
        max(top - margin, 0),
        min(right + margin, image.width),
        min(bottom + margin, image.height),
    )
    lit = image.crop(box).convert("RGBA")
    lit.alpha_composite(glow.crop(box).filter(ImageFilter.GaussianBlur(radius)))
    image.paste(lit.convert("RGB"), box[:2])


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
