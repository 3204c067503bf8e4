"""pricer: "The Price is Right" as a product.

A light package: importing it loads no model library. Heavy imports (torch, transformers,
datasets, peft, plotly) happen inside the functions that need them, so the CLI and the app
start fast. Floors, from the bottom up (each imports only its own and lower ones):

    errors, redact, atomic, config, gpu, web_paths, hub, manifest   the ground floor
    tokenizer/    what a tokenizer does to a text
    data/         raw record -> Item -> prompt -> pricer dataset
    metrics       the course's metrics of priced items
    pricers/      base and estimates; llama/, cpu/, chat/ side by side; ensemble/; registry
    evaluation/   runs of any pricer by name, cached, kept on the leaderboard, drawn
    deploy, cli_options, cli                                        the verbs on top

Nothing in this package imports gradio; the app (app.py, ui/) sits on top of it.
tests/test_layout.py holds these floors and checks every import against them.
"""

__version__ = "0.1.0"
