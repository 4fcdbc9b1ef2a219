"""Evaluations of model outputs, as plain functions a domain's asset checks call (shared: no
domain is imported here; each function takes plain values and an embedding function).

- `score.Score`: one measured figure (value, threshold, passed, details) and its metadata;
  `score.aggregate`: a day of several outputs (each scored alone) as one score.
- `retrieval`: recall@k and MRR of search results over a labelled query set.
- `queries`: the labelled query set shipped in `data/search_queries.json`, and its rule.
- `grounding`: each sentence of a summary or answer supported by a source sentence; citations;
  length limits.
- `agreement`: an image prompt against the digest it illustrates; word bounds, forbidden phrases.
- `variety`: no two texts of a day alike.
- `judge`: an optional model grade (1-5) through the text provider; skipped offline.
- `checks.check_result`: scores as one asset check result.
- `similarity`: cosine similarity through an `embed(texts)` function (MiniLM by default).

numpy, onnxruntime and tokenizers load when a function that needs them runs, never at import.
"""
