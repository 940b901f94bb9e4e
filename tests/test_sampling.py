"""The sampling pipeline on SmolLM2's real logits, against transformers' processors built independently here.

References: `LogitsProcessorList([RepetitionPenalty, Temperature, TopK, TopP, MinP])` in `generate`'s
order, a plain softmax, entropy written out by hand, ranks counted from the softmax.
"""

import math

import pytest
import torch
from transformers import (LogitsProcessorList, MinPLogitsWarper, RepetitionPenaltyLogitsProcessor,
                          TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)

from visualizer.engine.errors import InputError
from visualizer.engine.records import step_records, summarize
from visualizer.engine.sampling import SamplingSettings, warp_rows
from visualizer.engine.template import render_conversation

CONVERSATIONS = [
    [{"role": "user", "content": "If I travel to Madrid in October, should I bring a coat?"}],
    [{"role": "user", "content": "Escribe un poema corto sobre el otoño."}],
]
SETTINGS = [  # temperature, top_k, top_p, min_p, repetition_penalty
    (0.7, 50, 0.9, None, None),
    (1.0, 50, None, None, 1.3),
    (1.3, None, 0.8, 0.05, None),
    (0.5, 5, None, None, None),
    (2.0, None, None, 0.1, 1.1),
    (0.9, 1, None, None, None),
    (1.0, None, 0.05, None, None),
]


@pytest.fixture(scope="module")
def real(loaded):
    """Next-token logits of the real model after each conversation's prompt, and the prompt ids."""
    rows = []
    for messages in CONVERSATIONS:
        ids = loaded.tokenizer.encode(render_conversation(loaded.tokenizer, messages).text)
        with torch.no_grad():
            rows.append((loaded.model(torch.tensor([ids])).logits[0, -1].float(), ids))
    return rows


def reference_scores(logits, ids, temperature, top_k, top_p, min_p, penalty):
    processors = [RepetitionPenaltyLogitsProcessor(penalty)] if penalty else []
    processors.append(TemperatureLogitsWarper(temperature))
    processors += [TopKLogitsWarper(top_k=top_k)] if top_k else []
    processors += [TopPLogitsWarper(top_p=top_p)] if top_p else []
    processors += [MinPLogitsWarper(min_p=min_p)] if min_p else []
    return LogitsProcessorList(processors)(torch.tensor([ids]), logits.clone().unsqueeze(0)).squeeze(0)


def settings_of(temperature, top_k, top_p, min_p, penalty):
    values = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=penalty)
    return SamplingSettings.from_user(49152, greedy=False, **values)


@pytest.mark.parametrize("row", [0, 1])
@pytest.mark.parametrize("knobs", SETTINGS)
def test_sampled_distribution_equals_transformers_processors(real, row, knobs):
    logits, ids = real[row]
    untouched = logits.clone()
    scores = warp_rows(logits.unsqueeze(0), [settings_of(*knobs)], [ids])[0]
    assert torch.equal(logits, untouched)
    expected = reference_scores(logits, ids, *knobs)
    torch.testing.assert_close(torch.softmax(scores, -1), torch.softmax(expected, -1), atol=1e-7, rtol=1e-5)
    assert torch.equal(torch.isneginf(scores), torch.isneginf(expected))
    if knobs[1]:
        assert int((~torch.isneginf(scores)).sum()) <= knobs[1]


def test_low_temperature_cuts_nothing(loaded, real):
    # At T=0.1 most probabilities underflow to 0, but no warper removed any token.
    logits, ids = real[0]
    settings = settings_of(0.1, None, None, None, None)
    scores = warp_rows(logits.unsqueeze(0), [settings], [ids])
    assert int((torch.softmax(scores, -1) == 0).sum()) > 1000 and not torch.isneginf(scores).any()
    summary = summarize(logits.unsqueeze(0), scores, torch.tensor([int(torch.argmax(logits))]), 10)
    record = step_records(loaded.tokenizer, summary, [_fields()])[0]
    assert record.kept == 49152 and not any(c.cut for c in record.top + record.top_raw)


def _fields(top_n=10):
    return dict(top_n=top_n, max_new_tokens=100, index=1, forced=False, greedy=False, cache_before=0,
                cache_after=1, ms=0.0, batch_rows=1)


def test_record_top_lists_are_sorted_and_consistent(loaded, real):
    logits, ids = real[0]
    knobs = (0.7, 50, 0.9, None, None)
    scores = warp_rows(logits.unsqueeze(0), [settings_of(*knobs)], [ids])
    raw = torch.softmax(logits, dim=-1)
    sampled = torch.softmax(reference_scores(logits, ids, *knobs), dim=-1)
    chosen = int(torch.argsort(raw, descending=True)[2])
    record = step_records(loaded.tokenizer, summarize(logits.unsqueeze(0), scores, torch.tensor([chosen]), 10),
                          [_fields()])[0]
    assert [c.id for c in record.top_raw] == torch.topk(raw, 10).indices.tolist()
    for candidate in record.top_raw + record.top:
        assert candidate.raw_prob == pytest.approx(float(raw[candidate.id]), abs=1e-6)
        assert candidate.prob == pytest.approx(float(sampled[candidate.id]), abs=1e-6)
        assert candidate.cut == (float(sampled[candidate.id]) == 0.0)
        assert candidate.text == loaded.tokenizer.decode([candidate.id])
    top_probs = [c.prob for c in record.top]
    assert top_probs == sorted(top_probs, reverse=True) and all(p > 0 for p in top_probs)
    assert record.rank == 3 and record.id == chosen
    assert record.raw_prob == pytest.approx(float(raw[chosen]), abs=1e-6)
    assert record.prob == pytest.approx(float(sampled[chosen]), abs=1e-6)
    assert record.entropy == pytest.approx(_entropy(sampled.tolist()), abs=2e-3)
    assert record.raw_entropy == pytest.approx(_entropy(raw.tolist()), abs=2e-3)
    assert record.kept == int((sampled > 0).sum())


def test_cut_distribution_lists_only_kept_tokens(loaded, real):
    logits, ids = real[0]
    scores = warp_rows(logits.unsqueeze(0), [settings_of(1.0, 3, None, None, None)], [ids])
    record = step_records(loaded.tokenizer, summarize(logits.unsqueeze(0), scores,
                                                      torch.tensor([int(torch.argmax(logits))]), 10), [_fields()])[0]
    assert len(record.top) == 3 and not any(c.cut for c in record.top)
    assert len(record.top_raw) == 10 and [c.cut for c in record.top_raw] == [False] * 3 + [True] * 7


def _entropy(probs):
    return -sum(p * math.log2(p) for p in probs if p > 0)


@pytest.mark.parametrize(
    "values,words",
    [
        (dict(temperature=0), "temperature"),
        (dict(temperature=-1), "temperature"),
        (dict(temperature=0.001), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(temperature="hot"), "temperature"),
        (dict(temperature=1, top_p=0), "top-p"),
        (dict(temperature=1, top_p=-0.5), "top-p"),
        (dict(temperature=1, top_p=1.5), "top-p"),
        (dict(temperature=1, top_k=49153), "top-k"),
        (dict(temperature=1, top_k=-1), "top-k"),
        (dict(temperature=1, top_k=2.5), "top-k"),
        (dict(temperature=1, min_p=1.5), "min-p"),
        (dict(temperature=1, repetition_penalty=0), "repetition-penalty"),
        (dict(temperature=1, seed=-1), "seed"),
    ],
)
def test_from_user_refuses_bad_values(values, words):
    with pytest.raises(InputError, match=words):
        SamplingSettings.from_user(49152, **values)


def test_from_user_off_values_and_greedy():
    settings = SamplingSettings.from_user(49152, temperature=0.7, top_k=0, top_p=1.0, seed=9)
    assert settings == SamplingSettings(greedy=False, seed=9, knobs=(("temperature", 0.7),))
    assert len(settings.processors()) == 1  # the temperature alone
    assert SamplingSettings.from_user(49152, temperature="0.5", top_k="40", top_p="0.95") == SamplingSettings(
        greedy=False, seed=0, knobs=(("temperature", 0.5), ("top_k", 40), ("top_p", 0.95)))
    assert SamplingSettings.from_user(49152, temperature=1.0, top_k=49152).get("top_k") == 49152
    assert SamplingSettings.from_user(49152).greedy
    assert SamplingSettings.from_user(49152, temperature=0.7, greedy=True).greedy
