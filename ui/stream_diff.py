"""Gradio's streaming diff, corrected for lists inside lists that shrink.

A generator event (the API's /run, the UI's Run to end) sends each answer after the first as edits
to the previous one, made by `gradio.utils.diff` and applied in order by both clients (gradio_client's
`apply_diff`, the browser's). Gradio 6.31 shifts the index of every "delete" it has collected so far,
those of inner lists too, so when a list of records holds lists that shrink by two or more (the steps
of two answers, each with its top candidates), its edits delete the wrong items: gradio_client fails
with "IndexError: list assignment index out of range" and the browser silently keeps stale items.
`diff` here writes the same edit language ("replace", "append", "add", "delete"), deleting a list's
surplus from its end, so no index needs shifting; `install()` puts it where Gradio looks it up.
What is left out: anything else Gradio streams (files, media chunks) - they do not go through diff.
"""

import gradio.utils


def diff(old, new):
    """Edits that turn `old` into `new` when applied in order; -> [[action, path, value], ...]."""
    return _edits(old, new, [])


def _edits(old, new, path):
    if old == new:
        return []
    if type(old) is not type(new):
        return [["replace", path, new]]
    if isinstance(old, str) and new.startswith(old):
        return [["append", path, new[len(old):]]]
    if isinstance(old, list):
        common = min(len(old), len(new))
        edits = [edit for i in range(common) for edit in _edits(old[i], new[i], path + [i])]
        edits += [["delete", path + [i], None] for i in reversed(range(common, len(old)))]
        edits += [["add", path + [i], new[i]] for i in range(common, len(new))]
        return edits
    if isinstance(old, dict):
        edits = [edit for key in old if key in new for edit in _edits(old[key], new[key], path + [key])]
        edits += [["delete", path + [key], None] for key in old if key not in new]
        edits += [["add", path + [key], new[key]] for key in new if key not in old]
        return edits
    return [["replace", path, new]]


def install():
    """Make Gradio's queue use `diff` for the answers of generator events (idempotent)."""
    gradio.utils.diff = diff
