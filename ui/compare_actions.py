"""Handlers of the Compare tab: greedy vs sampled in lockstep, and prompt A vs prompt B, on the Workspace.

Greedy vs sampled is the workspace's `Lockstep` (one batched forward pass per step; the sampled
branch takes the Decoder tab's settings, and the tab says which). Opening the tab shows both
branches' next-token distributions before any step. A vs B is `Workspace.start_pair`: both
greedy, streamed token by token, and at the end both distributions at the first token where the
outputs part. Runs take one session turn per step (`interactive=False`) and stop on the page's
Stop flag, as the Decoder's run does.
What is left out: layout and wiring (`tab_compare.py`), HTML (the view modules).
"""

import gradio as gr

from .bars import next_token_chart
from .decoder_views import compare_settings_html, divergence_html, generated_chips_html
from .paint_order import stamp
from .views import status_html


class CompareActions:
    def __init__(self, ctx, page, ui):
        """`ui`: the tab's components (greedy_chart, sampled_chart, greedy_text, sampled_text,
        divergence, settings, status, json_a, json_b, pair_steps, text_a, text_b, chart_a, chart_b,
        pair_divergence)."""
        self.ctx, self.page, self.ui = ctx, page, ui

    def lockstep_outputs(self):
        ui = self.ui
        return [ui.greedy_chart, ui.sampled_chart, ui.greedy_text, ui.sampled_text, ui.divergence, ui.settings,
                ui.status]

    def pair_outputs(self):
        ui = self.ui
        return [ui.text_a, ui.text_b, ui.chart_a, ui.chart_b, ui.pair_divergence, ui.status]

    # Greedy vs sampled.
    def show(self, values: dict, request: gr.Request):
        return self._act(values, request, lambda lockstep: None)

    def step(self, values: dict, request: gr.Request):
        return self._act(values, request, lambda lockstep: lockstep.step())

    def reset(self, values: dict, request: gr.Request):
        return self._act(values, request, lambda lockstep: lockstep.reset())

    def run(self, values: dict, request: gr.Request):
        texts, holder = self.ctx.texts(request), {}

        def begin():
            with self.page.open(values, request) as session:
                holder["lockstep"] = session.workspace.lockstep()
                holder["lockstep"].start()
                session.data["stop"] = False
                return {self.ui.status: status_html(texts["running"])}
        yield self.page.answer(request, self.ui.status, begin)
        lockstep, ended = holder.get("lockstep"), False
        while lockstep is not None:
            def one():
                nonlocal ended
                with self.page.existing(values, request) as session:
                    replaced = session.workspace.existing_lockstep is not lockstep
                    if session.data.get("stop") or lockstep.finished or replaced:
                        ended = True
                        return None
                    lockstep.step(interactive=False)
                    return stamp(self._lockstep_view(lockstep, texts, charts=True), session)
            update = self.page.answer(request, self.ui.status, one)
            if ended or self.ui.status in update:
                if self.ui.status in update:
                    yield update
                break
            yield update
        if lockstep is not None:
            yield self._act(values, request, lambda ignored: None, sync=False, end_run=True)

    def _act(self, values, request, action, sync=True, end_run=False):
        texts = self.ctx.texts(request)

        def act():
            with self.page.open(values, request, sync=sync) as session:
                lockstep = session.workspace.lockstep()
                action(lockstep)
                if end_run:
                    session.data["stop"] = False
                cut = any(branch.stop == "max_tokens" for branch in lockstep.branches)
                done = texts["compare_done_max" if cut else "compare_done"] if lockstep.finished else ""
                return stamp({**self._lockstep_view(lockstep, texts, charts=True),
                              self.ui.status: status_html(done, "done" if done else "info",
                                                          pending=max(0, session.waiting_changes - 1), texts=texts)},
                             session)
        return self.page.answer(request, self.ui.status, act)

    def _lockstep_view(self, lockstep, texts, charts):
        ui = self.ui
        greedy, sampled = lockstep.branches
        divergence = lockstep.divergence
        view = {
            ui.greedy_text: generated_chips_html(greedy.records, texts, divergence),
            ui.sampled_text: generated_chips_html(sampled.records, texts, divergence),
            ui.divergence: divergence_html(divergence, greedy.records, sampled.records, texts),
            ui.settings: compare_settings_html(sampled.settings, texts),
        }
        if charts:
            previews = lockstep.preview() if not all(b.records for b in lockstep.branches) else (None, None)
            for branch, preview, chart, name in ((greedy, previews[0], ui.greedy_chart, "compare_greedy"),
                                                 (sampled, previews[1], ui.sampled_chart, "compare_sampled")):
                record = branch.records[-1] if branch.records else preview
                view[chart] = next_token_chart(record, branch.settings, texts, title=texts[name],
                                               position=len(branch.records) + 1)
        return view

    # Prompt A vs prompt B.
    def pair(self, values: dict, request: gr.Request):
        ui, texts, holder = self.ui, self.ctx.texts(request), {}

        def begin():
            with self.page.open(values, request) as session:
                pair = session.workspace.start_pair(values.get(ui.json_a), values.get(ui.json_b),
                                                    values.get(ui.pair_steps))
                pair.start()
                session.data["stop"] = False
                holder["pair"] = pair
                return {ui.text_a: "", ui.text_b: "", ui.chart_a: "", ui.chart_b: "",
                        ui.pair_divergence: status_html(texts["running"]), ui.status: status_html("")}
        yield self.page.answer(request, ui.status, begin)
        pair, ended = holder.get("pair"), False
        if pair is None:
            return
        while True:
            def one():
                nonlocal ended
                with self.page.existing(values, request) as session:
                    if session.data.get("stop") or pair.finished or session.workspace.pair is not pair:
                        ended = True
                        return None
                    pair.step(interactive=False)
                    return self._pair_view(pair, texts)
            update = self.page.answer(request, ui.status, one)
            if ended or ui.status in update:
                if ui.status in update:
                    yield update
                break
            yield update

        def finish():
            with self.page.existing(values, request) as session:
                session.data["stop"] = False
                return {**self._pair_view(pair, texts), **self._pair_charts(pair, texts)}
        yield self.page.answer(request, ui.status, finish)

    def _pair_view(self, pair, texts):
        ui = self.ui
        branch_a, branch_b = pair.branches
        divergence = pair.divergence
        return {
            ui.text_a: generated_chips_html(branch_a.records, texts, divergence),
            ui.text_b: generated_chips_html(branch_b.records, texts, divergence),
            ui.pair_divergence: divergence_html(divergence, branch_a.records, branch_b.records, texts),
        }

    def _pair_charts(self, pair, texts):
        """Both next-token distributions where the outputs part (or at their last tokens)."""
        ui, divergence = self.ui, pair.divergence
        charts = {}
        for branch, chart, name in zip(pair.branches, (ui.chart_a, ui.chart_b), ("compare_a", "compare_b")):
            records = branch.records
            if not records:
                charts[chart] = ""
                continue
            record = records[min(divergence, len(records) - 1)] if divergence is not None else records[-1]
            title = texts[name] + (f" · {texts['at_divergence']}" if divergence is not None else "")
            charts[chart] = next_token_chart(record, branch.settings, texts, title=title)
        return charts
