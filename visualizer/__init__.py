"""LLM Internals Visualizer engine: conversation -> plain text -> tokens -> step-by-step decoding.

This package never imports gradio: the web app (`ui/`, `app.py`), the CLI (`python -m
visualizer`), the tests and the benchmarks all drive the same engine.
"""
