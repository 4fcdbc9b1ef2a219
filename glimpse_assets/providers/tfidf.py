"""TF-IDF vectors of short texts, as scikit-learn's `TfidfVectorizer` makes them with its
defaults (lowercase, word tokens by a regular expression, English stop words removed, raw counts,
smoothed idf = ln((1 + n) / (1 + df)) + 1, each row scaled to unit length), in numpy.

Why our own code and not scikit-learn's: the texts are a day's articles or a handful of sentences
(tens of documents, hundreds of terms), where the arithmetic takes about a millisecond, while
`import sklearn.feature_extraction.text` takes 1.3 to 1.5 s on the benchmark machine (it loads
scipy.stats and sklearn's validation machinery), more than every other step of an offline news and
rides day together (BENCHMARKS.md, "One offline day"). The rule is small and fixed, and the suite
checks it against scikit-learn itself (glimpse_assets_tests/test_offline_providers.py): the same
terms, the same weights to 1e-12, and the same rankings, keywords and key sentences.

The weights are computed sparse (`sparse_tfidf`: a big day has thousands of articles and tens of
thousands of terms), and made dense only for the few texts the extractive composer weighs
(`tfidf`). Row lengths are summed in column order, one term after another, as scikit-learn's
sparse row normalisation does, so that the weights agree to the last bit where they can.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

# scikit-learn's ENGLISH_STOP_WORDS (BSD-3-Clause), from the Glasgow Information Retrieval Group's
# list: 318 words.
_STOP_WORDS = """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone
    anything anyway anywhere are around as at back be became because become becomes becoming
    been before beforehand behind being below beside besides between beyond bill both bottom
    but by call can cannot cant co con could couldnt cry de describe detail do done down due
    during each eg eight either eleven else elsewhere empty enough etc even ever every
    everyone everything everywhere except few fifteen fifty fill find fire first five for
    former formerly forty found four from front full further get give go had has hasnt have
    he hence her here hereafter hereby herein hereupon hers herself him himself his how
    however hundred i ie if in inc indeed interest into is it its itself keep last latter
    latterly least less ltd made many may me meanwhile might mill mine more moreover most
    mostly move much must my myself name namely neither never nevertheless next nine no
    nobody none noone nor not nothing now nowhere of off often on once one only onto or
    other others otherwise our ours ourselves out over own part per perhaps please put
    rather re same see seem seemed seeming seems serious several she should show side since
    sincere six sixty so some somehow someone something sometime sometimes somewhere still
    such system take ten than that the their them themselves then thence there thereafter
    thereby therefore therein thereupon these they thick thin third this those though three
    through throughout thru thus to together too top toward towards twelve twenty two un
    under until up upon us very via was we well were what whatever when whence whenever
    where whereafter whereas whereby wherein whereupon wherever whether which while whither
    who whoever whole whom whose why will with within without would yet you your yours
    yourself yourselves
"""
ENGLISH_STOP_WORDS = frozenset(_STOP_WORDS.split())
# scikit-learn's default token pattern: words of two or more word characters.
WORD_TOKENS = r"(?u)\b\w\w+\b"


class EmptyVocabularyError(ValueError):
    """Nothing but stop words, numbers or symbols: no term to weigh (scikit-learn raises a
    ValueError too)."""


@dataclass(frozen=True)
class TfidfMatrix:
    terms: list[str]  # sorted, as scikit-learn's get_feature_names_out
    weights: np.ndarray  # (documents, terms), float64, each non-zero row of unit length


@dataclass(frozen=True)
class SparseTfidf:
    """The same weights, only the non-zero ones, laid out as a CSR matrix (scipy's and
    scikit-learn's layout): a day of thousands of articles has tens of thousands of terms, and
    its dense matrix would take gigabytes to hold mostly zeros."""

    terms: list[str]
    indptr: np.ndarray  # row i's entries are [indptr[i], indptr[i + 1])
    indices: np.ndarray  # each entry's term column, ascending within a row
    data: np.ndarray  # each entry's weight, float64

    def dense(self) -> np.ndarray:
        weights = np.zeros((len(self.indptr) - 1, len(self.terms)), dtype=np.float64)
        weights[self._rows(), self.indices] = self.data
        return weights

    def summed_similarity(self) -> np.ndarray:
        """Each row's dot product with every other row, summed, without the rows x rows matrix:
        x_i . (sum of all rows) - x_i . x_i."""
        rows, count = self._rows(), len(self.indptr) - 1
        total = np.bincount(self.indices, weights=self.data, minlength=len(self.terms))
        with_all = np.bincount(rows, weights=self.data * total[self.indices], minlength=count)
        with_itself = np.bincount(rows, weights=self.data * self.data, minlength=count)
        return with_all - with_itself

    def _rows(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))


def sparse_tfidf(documents: list[str], token_pattern: str = WORD_TOKENS) -> SparseTfidf:
    """The TF-IDF weights of `documents`, non-zero entries only; EmptyVocabularyError when no
    term is left."""
    tokenise = re.compile(token_pattern).findall
    tokens = [
        [t for t in tokenise(document.lower()) if t not in ENGLISH_STOP_WORDS]
        for document in documents
    ]
    terms = sorted({t for document in tokens for t in document})
    if not terms:
        raise EmptyVocabularyError("empty vocabulary: only stop words, numbers or symbols")
    column = {term: index for index, term in enumerate(terms)}
    indptr = np.zeros(len(documents) + 1, dtype=np.int64)
    indices, counts = [], []
    for row, document in enumerate(tokens):
        found = Counter(column[t] for t in document)
        for term in sorted(found):
            indices.append(term)
            counts.append(found[term])
        indptr[row + 1] = len(indices)
    indices = np.array(indices, dtype=np.int64)
    # Smoothed idf, computed in scikit-learn's order: (n + 1) / (df + 1), log, + 1.
    df = np.bincount(indices, minlength=len(terms)).astype(np.float64) + 1.0
    idf = np.full_like(df, len(documents) + 1, dtype=np.float64)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    data = np.array(counts, dtype=np.float64) * idf[indices]
    for start, end in pairwise(indptr):
        if end > start:
            row = data[start:end]
            row /= np.sqrt(np.cumsum(row * row)[-1])  # cumsum: strictly in order
    return SparseTfidf(terms, indptr, indices, data)


def tfidf(documents: list[str], token_pattern: str = WORD_TOKENS) -> TfidfMatrix:
    """The TF-IDF matrix of `documents`; EmptyVocabularyError when no term is left."""
    matrix = sparse_tfidf(documents, token_pattern)
    return TfidfMatrix(matrix.terms, matrix.dense())
