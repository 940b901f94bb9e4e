"""The sampling pipeline against transformers' logits warpers, built independently here.

References: `LogitsProcessorList([TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper])`
in `generate`'s order, a plain softmax, an argmax, and entropy written out by hand.
"""

import math

import pytest
import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from visualizer.engine.limits import InputError
from visualizer.engine.records import step_record
from visualizer.engine.sampling import SamplingSettings, distribution, entropy_bits, pick
from visualizer.engine.template import render_conversation

CONVERSATIONS = [
    [{"role": "user", "content": "If I travel to Madrid in October, should I bring a coat?"}],
    [{"role": "user", "content": "Escribe un poema corto sobre el otoño."}],
]
SETTINGS = [
    (0.7, 50, 0.9),
    (1.0, 50, None),
    (1.3, None, 0.8),
    (0.5, 5, None),
    (2.0, None, None),
    (0.9, 1, None),
    (1.0, None, 0.05),
]


@pytest.fixture(scope="module")
def real_logits(loaded):
    """Next-token logits of the real model after each conversation's prompt."""
    rows = []
    for messages in CONVERSATIONS:
        ids = loaded.tokenizer.encode(render_conversation(loaded.tokenizer, messages).text)
        with torch.no_grad():
            rows.append(loaded.model(torch.tensor([ids])).logits[0, -1].float())
    return rows


def reference_scores(logits, temperature, top_k, top_p):
    warpers = [TemperatureLogitsWarper(temperature)]
    if top_k is not None:
        warpers.append(TopKLogitsWarper(top_k=top_k))
    if top_p is not None:
        warpers.append(TopPLogitsWarper(top_p=top_p))
    ids = torch.zeros((1, 0), dtype=torch.long)
    return LogitsProcessorList(warpers)(ids, logits.clone().unsqueeze(0)).squeeze(0)


@pytest.mark.parametrize("row", [0, 1])
@pytest.mark.parametrize("temperature,top_k,top_p", SETTINGS)
def test_sampled_distribution_equals_transformers_warpers(real_logits, row, temperature, top_k, top_p):
    logits = real_logits[row]
    untouched = logits.clone()
    settings = SamplingSettings(temperature=temperature, top_k=top_k, top_p=top_p)
    dist = distribution(logits, settings)
    assert torch.equal(logits, untouched)

    scores = reference_scores(logits, temperature, top_k, top_p)
    torch.testing.assert_close(dist.sampled, torch.softmax(scores, dim=-1), atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(dist.raw, torch.softmax(logits, dim=-1), atol=1e-7, rtol=1e-5)
    removed = torch.isinf(scores)
    assert torch.equal(dist.cut, removed)
    assert torch.all(dist.sampled[removed] == 0)
    assert dist.sampled.sum().item() == pytest.approx(1.0, abs=1e-5)
    if top_k is not None:
        assert int((~dist.cut).sum()) <= top_k
    if top_k is None and top_p is None:
        assert not dist.cut.any()


def test_low_temperature_cuts_nothing(real_logits):
    # At T=0.1 most probabilities underflow to 0, but no warper removed any token.
    dist = distribution(real_logits[0], SamplingSettings(temperature=0.1))
    assert int((dist.sampled == 0).sum()) > 1000
    assert not dist.cut.any()
    record = step_record(_NoTextTokenizer(), dist, int(torch.argmax(dist.raw)), 10, **_FIELDS)
    assert not any(candidate.cut for candidate in record.top + record.top_raw)


def test_greedy_pick_is_the_argmax_of_the_raw_logits(real_logits):
    greedy = SamplingSettings()
    assert greedy.greedy
    for logits in real_logits:
        dist = distribution(logits, greedy)
        assert pick(dist, greedy, generator=None) == int(torch.argmax(logits))
        assert torch.equal(dist.sampled, dist.raw)
        assert not dist.cut.any()


def test_top_k_one_sampling_always_picks_the_argmax(real_logits):
    settings = SamplingSettings(temperature=1.5, top_k=1, seed=3)
    generator = torch.Generator().manual_seed(3)
    dist = distribution(real_logits[1], settings)
    assert {pick(dist, settings, generator) for _ in range(20)} == {int(torch.argmax(real_logits[1]))}


class _NoTextTokenizer:
    def token_bytes(self, token_id):
        return f"t{token_id}".encode()


_FIELDS = dict(index=1, forced=False, greedy=False, cache_before=0, cache_after=1, ms=0.0)


def test_record_top_lists_are_sorted_and_consistent(loaded, real_logits):
    settings = SamplingSettings(temperature=0.7, top_k=50, top_p=0.9)
    logits = real_logits[0]
    dist = distribution(logits, settings)
    raw = torch.softmax(logits, dim=-1)
    sampled = torch.softmax(reference_scores(logits, 0.7, 50, 0.9), dim=-1)
    chosen = int(torch.argsort(raw, descending=True)[2])
    record = step_record(loaded.tokenizer, dist, chosen, 10, **_FIELDS)

    assert [c.id for c in record.top_raw] == torch.topk(raw, 10).indices.tolist()
    raw_probs = [c.raw_prob for c in record.top_raw]
    assert raw_probs == sorted(raw_probs, reverse=True)
    for candidate in record.top_raw + record.top:
        assert candidate.raw_prob == pytest.approx(float(raw[candidate.id]), abs=1e-6)
        assert candidate.prob == pytest.approx(float(sampled[candidate.id]), abs=1e-6)
        assert candidate.cut == (float(sampled[candidate.id]) == 0.0)
        assert candidate.text == loaded.tokenizer.decode([candidate.id])
    top_probs = [c.prob for c in record.top]
    assert top_probs == sorted(top_probs, reverse=True) and all(p > 0 for p in top_probs)
    assert {c.id for c in record.top} <= set(torch.nonzero(sampled).flatten().tolist())
    assert record.rank == 3 and record.id == chosen
    assert record.raw_prob == pytest.approx(float(raw[chosen]), abs=1e-6)
    assert record.prob == pytest.approx(float(sampled[chosen]), abs=1e-6)
    assert record.entropy == pytest.approx(_entropy(sampled.tolist()), abs=1e-3)
    assert record.raw_entropy == pytest.approx(_entropy(raw.tolist()), abs=1e-3)
    assert record.entropy < record.raw_entropy


def test_cut_distribution_lists_only_kept_tokens(loaded, real_logits):
    dist = distribution(real_logits[0], SamplingSettings(temperature=1.0, top_k=3))
    record = step_record(loaded.tokenizer, dist, int(torch.argmax(dist.raw)), 10, **_FIELDS)
    assert len(record.top) == 3 and not any(c.cut for c in record.top)
    assert len(record.top_raw) == 10 and [c.cut for c in record.top_raw] == [False] * 3 + [True] * 7


def _entropy(probs):
    return -sum(p * math.log2(p) for p in probs if p > 0)


def test_entropy_bits_by_hand():
    assert entropy_bits(torch.tensor([0.5, 0.25, 0.25, 0.0])) == pytest.approx(1.5)
    assert entropy_bits(torch.tensor([1.0, 0.0])) == pytest.approx(0.0)
    assert entropy_bits(torch.full((8,), 1 / 8)) == pytest.approx(3.0)
    probs = [0.7, 0.2, 0.1]
    assert entropy_bits(torch.tensor(probs)) == pytest.approx(_entropy(probs), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs,words",
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
        (dict(temperature=1, seed=-1), "seed"),
    ],
)
def test_from_user_refuses_bad_values(kwargs, words):
    with pytest.raises(InputError, match=words):
        SamplingSettings.from_user(49152, **kwargs)


def test_from_user_off_values_and_greedy():
    settings = SamplingSettings.from_user(49152, temperature=0.7, top_k=0, top_p=1.0, seed=9)
    assert settings == SamplingSettings(temperature=0.7, top_k=None, top_p=None, seed=9)
    assert len(settings.processors()) == 1  # the temperature alone
    assert SamplingSettings.from_user(49152, temperature="0.5", top_k="40", top_p="0.95") == SamplingSettings(
        temperature=0.5, top_k=40, top_p=0.95, seed=0
    )
    assert SamplingSettings.from_user(49152, top_k=49152).top_k == 49152
    assert SamplingSettings.from_user(49152).greedy
    assert SamplingSettings.from_user(49152, temperature=0.7, greedy=True).greedy
