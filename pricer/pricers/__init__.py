"""Every pricer behind one interface, by name: what turns a text into a price.

base (the Pricer protocol, Estimate, the checks of what a caller passes) and estimates (reading a
price off the Llama's next-token distribution) at the bottom; a folder per kind above them:
llama/ (the 4-bit Llama and its adapter), cpu/ (the linear model shipped in the repo), chat/ (the
OpenAI-compatible client, frontier, RAG, fine-tuning files and job); ensemble (the others
combined); registry on top, the one module that names and builds them. A kind imports base,
estimates, pricer.data, pricer.tokenizer, pricer.metrics and the ground floor, never another kind
or the registry; nothing here imports pricer.evaluation, the CLI or gradio.

This file only re-exports the interface and the registry: `from pricer import pricers;
pricers.get("cpu").price([...])`.
"""

from pricer.pricers.base import Estimate, Pricer, ProgressFn, check_estimator, check_texts
from pricer.pricers.registry import (
    DEFAULT,
    FALLBACK,
    REGISTRY,
    PricerOptions,
    availability,
    default_name,
    get,
    lineup,
    member_lookup,
    names,
    runnable,
)

__all__ = ["DEFAULT", "FALLBACK", "REGISTRY", "Estimate", "Pricer", "PricerOptions", "ProgressFn", "availability",
           "check_estimator", "check_texts", "default_name", "get", "lineup", "member_lookup", "names", "runnable"]
