"""The app's edge: one small gradio builder per tab, over the pricer core (which never imports gradio)."""
