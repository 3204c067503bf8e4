"""The app's edge: one small gradio builder per tab, over the pricer core (which never imports gradio)."""

GPU_QUEUE = "gpu"  # the gradio concurrency_id shared by every event that runs the model (one at a time)
