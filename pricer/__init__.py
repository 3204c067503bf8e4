"""pricer: "The Price is Right" as a product.

A light package: importing it loads no model library. Heavy imports (torch, transformers,
datasets, peft, plotly) happen inside the functions that need them, so the CLI and the app
start fast. Layers, from raw data to a chart:

    readers -> items -> curate -> data -> finetune   (the data pipeline; readers: JSONL and CSV files)
    tokenizer -> tokens                           (what a tokenizer does to a text)
    estimates -> model -> pricers                 (the 4-bit Llama; every pricer behind one interface)
    pricers -> evaluation -> leaderboard, guesses (runs of any pricer by name, kept and compared)
    metrics -> chart                              (the course's metrics of a run, and its scatter)
    deploy                                        (spaces.yaml -> a running Space)

Nothing in this package imports gradio; the app (app.py, ui/) sits on top of it.
"""

__version__ = "0.1.0"
