"""Handlers of the Decoder tab: each wires the tab's components to one Workspace / Decoder call.

Every handler is `f(values: dict, request)` -> {component: value}: it opens this page's session
(`shared.PageSession`, which restores a fresh session from what the browser kept), acts on the
workspace's decoder and returns the views of the new state (pure functions of its records). When
more actions of the same page wait behind one (quick clicks and key presses), only the last paints:
Gradio may apply the answers of concurrent events out of order, and an earlier answer applied last
showed one token too few; a refused action answers with the current state too, so the last answer
always has everything. A Stop waiting behind does not count (it paints nothing).
What the chart shows: the last step's distribution (chosen token highlighted), or, before the
first step, after an undo or a reset, and whenever a sampling control moves, the preview of the
next position under the current settings (no forward pass: the next logits are kept). A force
acts where the chart points: it replaces the shown step, or takes the shown next position.
Run to end (and Step ×10) streams: per token only the chart, the step panel, the generated
chips (append-only HTML, so one chip on the wire) and what the browser keeps (a reload mid-run
loses no token; Gradio's diff sends the appended id, and the generator's state when sampling),
the output panel and timeline every `FULL_EVERY` tokens, and a full update at the end. Each token
is taken in its own session turn with `interactive=False`, so clicks (this page's Stop, other
attendees' steps) go first; Stop sets a flag the loop reads before each token, so it stops within
one step and the end shows every token. A Step ×10 click while this page's Step ×10 runs adds ten
steps to it (the running burst is marked in the session's data, cleared however it ends).
What is left out: layout and wiring (`tab_decoder.py`), HTML (the view modules).
"""

import time

import gradio as gr

from visualizer.engine.errors import InputError

from .bars import candidate_label, chart_candidates, next_token_chart
from .charts import timeline_html
from .decoder_views import chip_html, generated_chips_html, output_panel_html, stats_html, stop_message
from .paint_order import stamp
from .views import status_html

FULL_EVERY = 32  # streamed tokens between full updates of the output panel and the timeline
BURST = 10  # tokens of Step ×10


def _release(session, burst):
    """A page's running Step ×10 is over: clicks start a new one. Only `burst`'s own mark goes (a later
    burst's stays); `session` None (gone) or `burst` None (a Run to end) changes nothing."""
    if session is not None and burst is not None and session.data.get("burst") is burst:
        session.data.update(burst=None, burst_more=0)


class DecoderActions:
    def __init__(self, ctx, page, ui):
        """`ui`: the tab's components (chart, candidates, generated, output_panel, stats, timeline,
        status, typed)."""
        self.ctx, self.page, self.ui = ctx, page, ui
        self.saved = page.shared.saved_decoding

    def outputs(self):
        ui = self.ui
        return [ui.chart, ui.candidates, ui.generated, ui.output_panel, ui.stats, ui.timeline, ui.status, self.saved]

    # Events that change the tokens.
    def step(self, values: dict, request: gr.Request):
        def step(decoder, session):
            decoder.step()
            session.data["view"] = "step"
        return self._act(values, request, step)

    def undo(self, values: dict, request: gr.Request):
        def undo(decoder, session):
            decoder.undo()
            session.data["view"] = "preview"
        return self._act(values, request, undo)

    def reset(self, values: dict, request: gr.Request):
        def reset(decoder, session):
            decoder.reset()
            session.data["view"] = "preview"
            session.data.get("running", set()).clear()  # the page's runs end (one went on from the start)
        return self._act(values, request, reset)

    def force_candidate(self, values: dict, request: gr.Request):
        def force(decoder, session):
            token_id = values.get(self.ui.candidates)
            if token_id is None:
                return self.ctx.texts(request)["pick_candidate"], "error"
            self._force_shown(decoder, session, token_id)
        return self._act(values, request, force)

    def force_typed(self, values: dict, request: gr.Request):
        def force(decoder, session):
            self._force_shown(decoder, session, session.workspace.lookup_token(values.get(self.ui.typed)))
        return self._act(values, request, force)

    def force_bar(self, values: dict, request: gr.Request, event: gr.EventData):
        token_id = getattr(event, "token", None) if event is not None else None
        return self._act(values, request, lambda decoder, session: self._force_shown(decoder, session, token_id))

    # Events that only show.
    def show(self, values: dict, request: gr.Request):
        """The current state (the tab was opened, a display setting changed)."""
        return self._act(values, request, lambda decoder, session: None, tokens_changed=False)

    def rewarp(self, values: dict, request: gr.Request):
        """A sampling control moved: the next position's distribution under the new settings, and
        in greedy mode the warpers greyed out."""
        def preview(decoder, session):
            session.data["view"] = "preview"
        controls = self.page.shared.controls
        return {**controls.interactivity(values.get(controls.mode)),
                **self._act(values, request, preview, tokens_changed=False)}  # always a dict of components

    # Streaming.
    def run(self, values: dict, request: gr.Request):
        yield from self._stream(values, request, None)

    def burst(self, values: dict, request: gr.Request):
        """Step ×10; a click while this page's Step ×10 runs adds ten steps to it (no second stream)."""
        yield from self._stream(values, request, BURST)

    def _stream(self, values, request, limit):
        texts, ui = self.ctx.texts(request), self.ui
        holder = {}
        burst = object() if limit is not None else None  # this stream, while it is the page's running burst
        mark = object()  # this stream, while it runs: a view drawn meanwhile (the tab opened again) says so

        def begin():
            with self.page.open(values, request) as session:
                if burst is not None and session.data.get("burst") is not None and not session.data.get("stop"):
                    session.data["burst_more"] = session.data.get("burst_more", 0) + limit
                    return None  # the running burst takes these steps on
                decoder = session.workspace.decoder()
                decoder.start()
                session.data.update(stop=False, view="step")
                session.data.setdefault("running", set()).add(mark)
                if burst is not None:
                    session.data.update(burst=burst, burst_more=0)
                holder["decoder"] = decoder
                return {ui.status: status_html(texts["running"])}
        first = self.page.answer(request, ui.status, begin)
        yield first
        decoder = holder.get("decoder")
        if decoder is None:
            return
        try:
            made, started, stopped, ended = 0, time.perf_counter(), False, False
            chips = [len(decoder.records), generated_chips_html(decoder.records, texts)]  # grown one chip per token
            while True:
                def one():
                    nonlocal made, stopped, ended, limit
                    with self.page.existing(values, request) as session:
                        if burst is not None:
                            limit += session.data.pop("burst_more", 0)
                        stopped = bool(session.data.get("stop")) or session.workspace.existing_decoder is not decoder \
                            or mark not in session.data.get("running", ())  # a Reset ended it
                        if stopped or decoder.stop or (limit is not None and made >= limit):
                            ended = True  # decided under the session's turn: a later click starts its own burst
                            _release(session, burst)
                            return None
                        record = decoder.step(interactive=False)
                        made += 1
                        rate = made / (time.perf_counter() - started)
                        update = self._token_update(decoder, record, texts, rate, chips)
                        # What the browser keeps, every token: a reload mid-run brings back every token made.
                        update[self.saved] = self.page.saved_decoding(session.workspace, values, tokens_changed=True)
                        if made % FULL_EVERY == 0:
                            update.update(self._panels(decoder, texts))
                        return stamp(update, session)
                update = self.page.answer(request, ui.status, one)
                if ended or ui.status in update:  # the end, a Stop, or an error (kept on screen)
                    break
                yield update
            final = self._finish(values, request, decoder, made, stopped, mark)
            yield {**final, **update} if ui.status in update else final
        finally:  # failed, or closed by Gradio (a cancel, the page gone): without taking a turn, as
            # Gradio closes a generator on its event loop, which must not wait for this session
            session = self.ctx.store.get(getattr(request, "session_hash", None))
            _release(session, burst)
            if session is not None:
                session.data.get("running", set()).discard(mark)

    def _finish(self, values, request, decoder, made, stopped, mark):
        texts = self.ctx.texts(request)

        def finish():
            with self.page.existing(values, request) as session:
                session.data.get("running", set()).discard(mark)
                stop_at = session.data.pop("stop_at", None)
                session.data["stop"] = False
                view = self._view(decoder, session, texts, values, tokens_changed=True)
                if stopped and not decoder.stop and decoder.records:  # (none after a Reset: its preview)
                    after = len(decoder.generated) - stop_at if stop_at is not None else ""
                    view[self.ui.status] = status_html(texts["stopped"].format(count=made), "done",
                                                       data={"made-after-stop": after})
                return stamp(view, session)
        return self.page.answer(request, self.ui.status, finish)

    # Helpers.
    def _act(self, values, request, action, tokens_changed=True):
        texts = self.ctx.texts(request)

        def act():
            with self.page.open(values, request) as session:
                decoder = session.workspace.decoder()
                try:
                    message = action(decoder, session)
                except InputError as error:  # refused, nothing changed: said over the current state
                    message = f'{texts["error"]}: {self.ctx.error_text(error, request)}', "error"
                if tokens_changed and session.waiting_clicks > 1:
                    return None  # another action of this page waits behind this one: its answer paints
                return stamp(self._view(decoder, session, texts, values, message, tokens_changed), session,
                             marked=self.ui.generated)
        return self.page.answer(request, self.ui.status, act)

    def _force_shown(self, decoder, session, token_id):
        """Force `token_id` where the chart points: in place of the shown step, or at the next position."""
        if token_id is None:
            return
        if self._shows_step(decoder, session):
            decoder.undo()
        decoder.force(token_id)
        session.data["view"] = "step"

    @staticmethod
    def _shows_step(decoder, session):
        return bool(decoder.records) and (session.data.get("view", "step") == "step" or bool(decoder.stop))

    def _view(self, decoder, session, texts, values, message=None, tokens_changed=True):
        """Every output for the decoder's current state."""
        ui = self.ui
        message, kind = message if isinstance(message, tuple) else (message, None)
        records = decoder.records
        shown = records[-1] if self._shows_step(decoder, session) else decoder.preview()
        if not message:
            if decoder.stop:
                message, kind = stop_message(decoder.stop, texts, records and records[-1].forced), "done"
            elif session.data.get("running"):  # a run goes on (this view: the tab opened again, a setting)
                message = texts["running"]
            elif not records and session.workspace.tokens_set_aside:
                message, kind = texts["prompt_changed"].format(count=session.workspace.tokens_set_aside), "info"
            elif not records:
                message, kind = texts["preview"], "info"
        pending = max(0, session.waiting_clicks - 1)  # a Stop or a run's token behind: not counted
        return {
            **self._panels(decoder, texts),
            ui.chart: self._chart(decoder, shown, texts),
            ui.candidates: gr.update(choices=[(candidate_label(c), c.id) for c in chart_candidates(shown)], value=None),
            ui.generated: generated_chips_html(records, texts),
            ui.stats: self._stats(decoder, records[-1] if records else None, texts),
            ui.status: status_html(message, kind or "info", pending, texts),
            self.saved: self.page.saved_decoding(session.workspace, values, tokens_changed),
        }

    def _token_update(self, decoder, record, texts, rate, chips):
        """What one streamed token changes. `chips`: [records drawn, their HTML], grown by this
        token's chip (rebuilt if another event changed the tokens meanwhile)."""
        ui, records = self.ui, decoder.records
        if chips[0] == len(records) - 1:
            chips[1] += chip_html(record, texts)
        else:
            chips[1] = generated_chips_html(records, texts)
        chips[0] = len(records)
        return {
            ui.chart: self._chart(decoder, record, texts),
            ui.stats: self._stats(decoder, record, texts, rate),
            ui.generated: chips[1],
        }

    def _panels(self, decoder, texts):
        ids, tokenizer = decoder.generated, decoder.branch.tokenizer
        return {
            self.ui.output_panel: output_panel_html(ids, tokenizer.decode(ids),
                                                    tokenizer.decode(ids, skip_special_tokens=True), texts),
            self.ui.timeline: timeline_html(decoder.records, texts),
        }

    @staticmethod
    def _chart(decoder, record, texts):
        return next_token_chart(record, decoder.branch.settings, texts, position=len(decoder.records) + 1,
                                clickable=True)

    @staticmethod
    def _stats(decoder, record, texts, rate=None):
        return stats_html(record, len(decoder.prompt_ids), texts, rate,
                          (len(decoder.generated), decoder.branch.max_new_tokens))

