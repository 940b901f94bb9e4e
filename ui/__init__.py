"""The Gradio web app: tabs and their wiring (layout modules) and event handlers (handler modules).

Only wiring lives here; every computation is an engine call into `visualizer/`.
"""
