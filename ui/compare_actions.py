"""Handlers of the Compare tab: greedy vs sampled in lockstep, and prompt A vs prompt B, on the Workspace.

Greedy vs sampled is the workspace's `Lockstep` (one batched forward pass per step; the sampled
branch takes the Decoder tab's settings, and the tab says which). Opening the tab shows both
branches' next-token distributions before any step. A vs B is `Workspace.start_pair`: both
greedy, streamed token by token, and at the end both distributions at the first token where the
outputs part. Runs take one session turn per step (`interactive=False`) and stop on the page's
Stop flag, as the Decoder's run does, or on Reset (a new lockstep); a view drawn during a run says it runs.
What is left out: layout and wiring (`tab_compare.py`), HTML (the view modules).
"""

import gradio as gr

from .bars import next_token_chart
from .decoder_views import compare_settings_html, divergence_html, generated_chips_html
from .paint_order import stamp
from .views import error_html, status_html


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
        return self._act(values, request, lambda workspace: None)

    def step(self, values: dict, request: gr.Request):
        return self._act(values, request, lambda workspace: workspace.lockstep().step())

    def reset(self, values: dict, request: gr.Request):
        """Both branches from the start: a new lockstep, so a run going on ends (it went on from the start)."""
        return self._act(values, request, lambda workspace: workspace.drop_lockstep())

    def run(self, values: dict, request: gr.Request):
        texts, holder = self.ctx.texts(request), {}

        def begin():
            with self.page.open(values, request) as session:
                holder["lockstep"] = session.workspace.lockstep()
                holder["lockstep"].start()
                session.data.update(stop=False, lockstep_run=holder["lockstep"])  # a view meanwhile says it runs
                return {self.ui.status: status_html(texts["running"])}
        yield self.page.answer(request, self.ui.status, begin)
        lockstep, ended, stopped = holder.get("lockstep"), False, False
        try:
            while lockstep is not None:
                def one():
                    nonlocal ended, stopped
                    with self.page.existing(values, request) as session:
                        stopped = bool(session.data.get("stop"))
                        if stopped or lockstep.finished or session.workspace.existing_lockstep is not lockstep:
                            ended = True  # (another lockstep: a Reset, or a new conversation)
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
                yield self._act(values, request, lambda workspace: None, sync=False, run=lockstep, stopped=stopped)
        finally:  # also when Gradio closes the generator (a cancel, the page gone): without taking a turn
            session = self.ctx.store.get(getattr(request, "session_hash", None))
            if session is not None and session.data.get("lockstep_run") is lockstep:
                session.data.pop("lockstep_run", None)

    def _act(self, values, request, action, sync=True, run=None, stopped=False):
        """`action(workspace)`, then the lockstep's view; `run`: the lockstep of a run that ends here
        (`stopped` by the page's Stop)."""
        texts = self.ctx.texts(request)

        def act():
            with self.page.open(values, request, sync=sync) as session:
                action(session.workspace)
                kept = session.workspace.existing_lockstep  # None: the action dropped it (Reset)
                lockstep = session.workspace.lockstep()
                # made anew on another prompt: the answers so far went without a word (found by hand)
                prompt_changed = kept is not None and lockstep is not kept and any(b.records for b in kept.branches)
                if run is not None:
                    session.data["stop"] = False
                    if session.data.get("lockstep_run") is run:
                        session.data.pop("lockstep_run")
                message, kind = "", "info"
                if lockstep.finished:
                    cut = any(branch.stop == "max_tokens" for branch in lockstep.branches)
                    message, kind = texts["compare_done_max" if cut else "compare_done"], "done"
                elif stopped and run is lockstep:
                    message, kind = texts["stopped"].format(count=len(lockstep.branches[0].records)), "done"
                elif session.data.get("lockstep_run") is lockstep:  # the tab opened again during its run
                    message = texts["running"]
                elif prompt_changed:
                    message = texts["compare_prompt_changed"]
                return stamp({**self._lockstep_view(lockstep, texts, charts=True),
                              self.ui.status: status_html(message, kind, pending=max(0, session.waiting_clicks - 1),
                                                          texts=texts)},
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
            conversations = []
            for box, name in ((ui.json_a, "compare_a"), (ui.json_b, "compare_b")):  # a refusal names its box
                messages, refused = self.ctx.editor_conversation(values.get(box), request)
                if refused:
                    return {ui.status: error_html(f"{texts[name]}: {refused}", texts)}
                conversations.append(messages)
            with self.page.open(values, request) as session:
                pair = session.workspace.start_pair(*conversations, values.get(ui.pair_steps))
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
