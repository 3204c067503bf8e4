"""Judging pricers: runs over the test items, kept, compared and drawn.

runs (Run: a run's outcomes, metrics, CSV and JSON) at the bottom; cache (finished runs kept by
their identity); loop (`evaluate`: any pricer of the registry over the first N test items, in
batches, through the cache onto the leaderboard), guesses (scoring a file of guesses
made elsewhere), leaderboard (every run kept beside the course's published figures) and chart
(the scatter of truth against estimate) above it. It may import everything below it (the ground
floor, pricer.data, pricer.metrics, pricer.pricers); no pricer imports it, and it never imports
gradio or the CLI.

This file only re-exports: `from pricer import evaluation; evaluation.evaluate(...)`.
"""

from pricer.evaluation.cache import CACHE_VERSION, cache_key, cached, prune, remember
from pricer.evaluation.loop import PredictFn, cost_line, evaluate, run, run_label
from pricer.evaluation.runs import Run
from pricer.metrics import Metrics, Outcome, outcome, summarize

__all__ = ["CACHE_VERSION", "Metrics", "Outcome", "PredictFn", "Run", "cache_key", "cached", "cost_line", "evaluate",
           "outcome", "prune", "remember", "run", "run_label", "summarize"]
