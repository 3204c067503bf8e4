"""The Evaluate tab (placeholder until its issue lands)."""

import gradio as gr


def build() -> None:
    gr.Markdown("Coming soon.")
