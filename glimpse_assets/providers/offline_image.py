"""Offline images: a deterministic Pillow landscape seeded by the prompt, not an image model.
Pillow and numpy load when the first picture is drawn (see `landscape`)."""

from __future__ import annotations

import dagster as dg

from glimpse_assets.providers.base import ImageProvider, ImageResult

OFFLINE_IMAGE_METHOD = "procedural Pillow landscape seeded by the prompt's hash, not an image model"


class OfflineImageProvider(ImageProvider):
    """Deterministic, network-free pictures; their metadata says they are procedural."""

    def draw(
        self, context: dg.AssetExecutionContext, prompt: str, force: bool = False
    ) -> ImageResult:
        from glimpse_assets.providers.landscape import png_bytes, render_prompt_image

        picture = render_prompt_image(prompt, self.size)
        return ImageResult(
            png=png_bytes(picture),
            provider="offline",
            model="pillow-procedural",
            method=OFFLINE_IMAGE_METHOD,
            pixels=picture,
        )
