"""The Gradio chat demo of intentmeta (``intentmeta demo`` / ``make demo``)."""
