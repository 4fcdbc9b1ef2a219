"""minilm_embed embeds each distinct text once per process and gives the model's own vectors."""

import numpy as np

from glimpse_assets.providers import minilm_embedder
from glimpse_assets.providers.minilm_embedder import encode
from glimpse_assets.quality.similarity import minilm_embed

WEATHER = "Heavy rain from the west all evening, with gusts on the bridges."
SUMMARY = "Rides crossing the bridges after six were slow in the rain."


def test_repeated_texts_get_the_models_vectors_in_order():
    rows = minilm_embed([SUMMARY, WEATHER, SUMMARY])

    expected = encode([SUMMARY, WEATHER])
    assert rows.shape == (3, 384)
    np.testing.assert_allclose(rows, expected[[0, 1, 0]], atol=1e-6)


def test_a_text_embedded_before_is_not_embedded_again(monkeypatch):
    # A spy on the model call (the real one runs): the question is what it is asked.
    minilm_embed([WEATHER])
    asked: list[list[str]] = []
    original = minilm_embedder.encode

    def counting(texts, *args, **kwargs):
        asked.append(list(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(minilm_embedder, "encode", counting)
    rows = minilm_embed([WEATHER, "A new sentence about trams.", WEATHER])

    assert asked == [["A new sentence about trams."]]
    np.testing.assert_array_equal(rows[0], rows[2])


def test_no_texts_give_no_rows():
    assert minilm_embed([]).shape == (0, 384)
