"""The RAG pricer: the frontier pricer's chat model, shown the 5 most similar training items and
their prices before the question, as the course's week-8 FrontierAgent asked GPT-4o-mini
($55.55 on the 250 test items, against $79.58 without the context).

The request, word for word the course's (`make_context` + `messages_for`): the system message
"You estimate prices of items. Reply only with the price, no explanation"; the user message
"To provide some context, here are some other items that might be similar to the item you need
to estimate.\\n\\n", then per similar item "Potentially related product:\\n{text}\\nPrice is
${price:.2f}\\n\\n", then "And now the question for you:\\n\\nHow much does this cost?\\n\\n{text}";
and "Price is $" as the assistant's prefill; seed 42, max_tokens 5. The product text is the
prompt without its question and `Price is $` (pricer.pricers.chat.rag_index.description), the text the index
embedded for every training item.

Same client, cache, limits and reading of the reply as FrontierPricer (it is one, with other
messages). The similar items come from the index of pricer.pricers.chat.rag_index (PRICER_RAG_DATA), which
never returns a training copy of the product asked about; each product's items are kept so the
Predict tab can show them (`details`). It does not build the index.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pricer.data.items import PREFIX, SYSTEM_PROMPT
from pricer.pricers.chat import client, embeddings, rag_index
from pricer.pricers.chat.frontier import FrontierPricer
from pricer.pricers.chat.rag_index import K, Neighbour, RagIndex

CONTEXT = "To provide some context, here are some other items that might be similar to the item you need to estimate.\n\n"
QUESTION = "And now the question for you:\n\nHow much does this cost?\n\n"
REMEMBERED = 4096  # products whose similar items are kept in memory between a batch and its messages


def context(neighbours: Sequence[Neighbour]) -> str:
    """The course's `make_context`: each similar item's text and price."""
    return CONTEXT + "".join(f"Potentially related product:\n{n.text}\nPrice is ${n.price:.2f}\n\n" for n in neighbours)


def messages(product: str, neighbours: Sequence[Neighbour]) -> client.Messages:
    """The course's RAG request for one product text and its similar items."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": context(neighbours) + QUESTION + product},
        {"role": "assistant", "content": PREFIX},
    ]


class RagPricer(FrontierPricer):
    """The frontier pricer with the k most similar training items as context."""

    name = "rag"

    def __init__(self, model: str | None = None, *, index: str | os.PathLike | RagIndex | None = None, k: int = K,
                 **options: Any) -> None:
        super().__init__(model, **options)
        self.k = k
        self._index = index if isinstance(index, RagIndex) else None
        self._folder = index.folder if isinstance(index, RagIndex) else Path(index).expanduser() if index else None
        self._found: OrderedDict[str, list[Neighbour]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        """Where the index is: the one given, else PRICER_RAG_DATA's (read when asked)."""
        return self._folder or rag_index.default_folder()

    @property
    def label(self) -> str:
        """`gpt-4o-mini + 5 similar items (rag)`, with the server's host when it is not OpenAI's."""
        return f"{self.model} + {self.k} similar items ({self.name}{client.host_note()})"

    def available(self) -> str | None:
        """Every reason at once: the frontier pricer's, the embedding package's, and why there is
        no index to search (joined by "; and "). Loads nothing."""
        reasons = [super().available(), embeddings.unavailable()]
        problem = rag_index.missing(self.folder)
        if problem is not None:
            how = rag_index.build_command(out=self._folder)
            reasons.append(f"no RAG index built: run `{how}`" if problem.startswith("no RAG index")
                           else f"{problem}: run `{how}`")
        return "; and ".join(r for r in reasons if r) or None

    def index(self) -> RagIndex:
        """The index, loaded on first use."""
        with self._lock:
            if self._index is None:
                self._index = RagIndex.load(self.folder)
            return self._index

    def retrieve(self, prompts: Sequence[str]) -> list[list[Neighbour]]:
        """The k most similar training items of each prompt, best first; all new prompts of a
        batch are embedded and searched together, and remembered for `messages` and `details`."""
        with self._lock:
            known = {p: self._found[p] for p in prompts if p in self._found}
        todo = list(dict.fromkeys(p for p in prompts if p not in known))
        if todo:
            known.update(zip(todo, self.index().search(todo, self.k), strict=True))
        with self._lock:
            for p in dict.fromkeys(prompts):
                self._found[p] = known[p]
                self._found.move_to_end(p)
            while len(self._found) > max(REMEMBERED, len(prompts)):
                self._found.popitem(last=False)
        return [known[p] for p in prompts]

    def messages(self, prompt: str) -> client.Messages:
        """The course's RAG request for one prompt (a dataset prompt or a pasted product)."""
        return messages(rag_index.description(prompt), self.retrieve([prompt])[0])

    def price(self, prompts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        """FrontierPricer.price, after retrieving the similar items of the whole batch at once."""
        self.retrieve(prompts)
        return super().price(prompts, *args, **kwargs)

    def estimate(self, prompts: Sequence[str]) -> Any:
        """FrontierPricer.estimate (tokens and cost, nothing sent), retrieving the batch at once."""
        self.retrieve(prompts)
        return super().estimate(prompts)

    def details(self, prompt: str) -> dict[str, Any]:
        """What to show beside the estimate: the similar items (title, price, similarity)."""
        return {"retrieved": [n.to_json() for n in self.retrieve([prompt])[0]]}

    def cache_key(self, estimator: str | None = None) -> str:
        """Identity for the evaluation cache: server, model, k and the index's build (read from its
        manifest: nothing is loaded)."""
        index = self._index.key if self._index is not None else rag_index.folder_key(self.folder)
        blob = json.dumps([self.name, client.base_url(), self.model, self.k, index])
        return f"{self.name}:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"
