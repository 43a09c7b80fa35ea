"""The [conditions, target] format and the AR + NAR model on a tiny random config."""

from __future__ import annotations

import pytest
import torch

from tokgen.errors import ConfigError, InvalidInputError
from tokgen.lm.config import LMConfig
from tokgen.lm.generate import Budget, generate_codes
from tokgen.lm.model import CodecLM
from tokgen.lm.sampling import SamplingParams, filter_logits, generators_for, guide
from tokgen.lm.transformer import KVCache
from tokgen.tasks import (
    Kind,
    SequenceFormat,
    Special,
    build_sequence,
    builtin_task,
    collate,
    load_task,
)

K, V, E = 4, 32, 384
FMT = SequenceFormat(K, E)


def tiny_model(seed: int = 0) -> CodecLM:
    torch.manual_seed(seed)
    config = LMConfig(
        num_codebooks=K, cardinality=V, d_model=32, n_heads=2, ar_layers=2, nar_layers=2,
        dropout=0.0, extra_markers=0,
    )  # fmt: skip
    return CodecLM(config).eval()


def codes(frames: int, seed: int) -> torch.Tensor:
    return torch.randint(0, V, (K, frames), generator=torch.Generator().manual_seed(seed))


def caption(seed: int) -> torch.Tensor:
    return torch.randn(E, generator=torch.Generator().manual_seed(seed))


def prefix(task: str, seed: int):
    values = {
        "tts": {"text": [3, 1, 4, 1, 5][: 2 + seed % 4], "prompt_audio": codes(6 + seed, seed)},
        "tta": {"text": caption(seed)},
        "lass": {"text": caption(seed), "audio": codes(5 + seed, seed)},
        "continuation": {"audio": codes(4 + seed, seed)},
    }[task]
    index = ["tts", "tta", "lass", "continuation"].index(task)
    return build_sequence(builtin_task(task), index, values, None, FMT)


def test_tts_sequence_layout_and_loss_mask():
    seq = build_sequence(
        builtin_task("tts"), 0, {"text": [7, 8], "prompt_audio": codes(3, 0)}, codes(2, 1),
        FMT,
    )  # fmt: skip
    s, t, a, g = Kind.SPECIAL, Kind.TEXT, Kind.AUDIO, Kind.TARGET
    assert seq.kinds.tolist() == [s, s, t, t, s, a, a, a, s, g, g, s]
    assert seq.ids.tolist() == [
        Special.FIRST_TASK, Special.MARK_TEXT, 7, 8, Special.MARK_AUDIO, 0, 0, 0,
        Special.SEP, 0, 0, Special.EOS,
    ]  # fmt: skip
    assert torch.equal(seq.codes[5:8].T, codes(3, 0))
    assert torch.equal(seq.codes[9:11].T, codes(2, 1))
    assert (seq.codes[:5] == -1).all() and seq.target_start == 9 and seq.eos
    batch = collate([seq])
    assert batch.target_mask()[0].nonzero().flatten().tolist() == [9, 10]


@pytest.mark.parametrize("task", ["tta", "lass", "continuation"])
def test_duration_tasks_have_no_eos_and_optional_conditions_drop(task):
    seq = build_sequence(builtin_task(task), 1, {**_values(task)}, codes(3, 2), FMT)
    assert seq.kinds[-1] == Kind.TARGET and not seq.eos
    assert (seq.kinds == Kind.TARGET).sum() == 3
    if task == "continuation":  # the caption is optional
        assert (seq.kinds == Kind.EMBEDDING).sum() == 0
        assert Special.MARK_EMBEDDING not in seq.ids[seq.kinds == Kind.SPECIAL].tolist()


def _values(task):
    return {
        "tta": {"text": caption(0)},
        "lass": {"text": caption(0), "audio": codes(4, 0)},
        "continuation": {"audio": codes(4, 0)},
    }[task]


def test_loss_is_on_the_target_only():
    model = tiny_model()
    target = codes(3, 1)
    seq = build_sequence(
        builtin_task("tts"), 0, {"text": [1, 2], "prompt_audio": codes(4, 0)}, target,
        FMT,
    )  # fmt: skip
    batch = collate([seq, prefix("tta", 0)])  # the second row: padding and no target
    start = seq.target_start  # 10
    losses = model.losses(batch, torch.tensor([2, 1]))
    # AR: positions start-1 .. start+2 predict the 3 target frames' first codebook, then EOS
    logits = model.ar_logits(batch)[0, start - 1 : start + 3]
    labels = torch.tensor([*target[0].tolist(), model.eos])
    torch.testing.assert_close(losses["ar"], torch.nn.functional.cross_entropy(logits, labels))
    # NAR stage 2: codebook 2 of the target frames only
    nar = model.nar_logits(batch, torch.tensor([2, 1]))[0, start : start + 3]
    torch.testing.assert_close(losses["nar"], torch.nn.functional.cross_entropy(nar, target[2]))


def test_bad_sequences():
    with pytest.raises(InvalidInputError, match="unknown condition"):
        build_sequence(builtin_task("tta"), 1, {"audio": codes(2, 0)}, None, FMT)
    with pytest.raises(InvalidInputError, match="embedding"):
        build_sequence(builtin_task("tta"), 1, {"text": torch.zeros(5)}, None, FMT)
    with pytest.raises(InvalidInputError, match="integer codes"):
        build_sequence(
            builtin_task("continuation"),
            3,
            {"audio": torch.zeros(K, 3)},
            None,
            FMT,
        )
    with pytest.raises(InvalidInputError, match="unknown task"):
        builtin_task("karaoke")


def test_yaml_task(tmp_path):
    path = tmp_path / "enhance.yaml"
    path.write_text(
        "name: enhance_test\nkinds: [speech]\n"
        "conditions:\n  - {name: audio, type: audio, field: noisy_path}\n"
        "target: {field: path, length: duration}\n"
    )
    spec = load_task(path)
    assert spec.conditions[0].name == "audio" and spec.conditions[0].field == "noisy_path"
    with pytest.raises(InvalidInputError, match="unknown task"):  # loading registers nothing
        builtin_task("enhance_test")
    path.write_text("name: broken\nconditions:\n  - {name: a, type: video, field: x}\n")
    with pytest.raises(ConfigError, match="video"):
        load_task(path)
    path.write_text("name: broken\nconditions:\n  - {name: a, type: audio, feild: x}\n")
    with pytest.raises(ConfigError, match="unknown field"):
        load_task(path)


@pytest.mark.parametrize("capacity", [256, 2])  # 2: the buffers must grow
def test_kv_cache_matches_full_forward(capacity):
    model = tiny_model()
    items = [prefix("tts", 1), prefix("lass", 2)]
    batch = collate(items, pad_left=True)
    full = model.ar_logits(batch)
    cache = KVCache(capacity=capacity)
    split = batch.kinds.shape[1] - 3
    head = collate(items, pad_left=True)
    for name in ("kinds", "ids", "codes", "embeddings", "positions"):
        setattr(head, name, getattr(batch, name)[:, :split])
    first = model.ar_logits(head, cache)
    for name in ("kinds", "ids", "codes", "embeddings", "positions"):
        setattr(head, name, getattr(batch, name)[:, split:])
    rest = model.ar_logits(head, cache)
    assert cache.length == batch.kinds.shape[1] and cache.keys[0].shape[2] >= cache.length
    real = ~batch.padding
    together = torch.cat([first, rest], dim=1)
    torch.testing.assert_close(together[real], full[real], atol=1e-5, rtol=1e-5)


def test_generation_with_and_without_cache_is_identical():
    model = tiny_model()
    items = [prefix("tts", 0), prefix("tta", 1)]
    budgets = [Budget(9, stop_at_eos=True), Budget(7)]
    cached = generate_codes(model, items, budgets, generators_for(5, 2))
    uncached = generate_codes(model, items, budgets, generators_for(5, 2), use_cache=False)
    assert all(torch.equal(a, b) for a, b in zip(cached, uncached))
    assert cached[1].shape == (K, 7)
    assert cached[0].shape[0] == K and 1 <= cached[0].shape[1] <= 9


def test_seeded_golden_generation():
    model = tiny_model()
    out = generate_codes(model, [prefix("tta", 3)], [Budget(5)], generators_for(0, 1))
    assert out[0].tolist() == GOLDEN
    again = generate_codes(model, [prefix("tta", 3)], [Budget(5)], generators_for(0, 1))
    other = generate_codes(model, [prefix("tta", 3)], [Budget(5)], generators_for(1, 1))
    assert torch.equal(out[0], again[0]) and not torch.equal(out[0], other[0])


# tiny_model(seed 0), prefix("tta", 3), 5 frames, seed 0: the layout, sampler and RNG use
GOLDEN = [[22, 25, 8, 29, 18], [5, 18, 22, 18, 14], [23, 14, 7, 1, 7], [6, 14, 17, 4, 17]]


def test_cfg_scale_one_equals_unguided():
    model = tiny_model()
    items = [prefix("tta", 1), prefix("lass", 2)]
    uncond = [
        build_sequence(builtin_task("tta"), 1, {}, None, FMT),
        build_sequence(builtin_task("lass"), 2, {"audio": codes(7, 2)}, None, FMT),
    ]  # fmt: skip
    budgets = [Budget(6), Budget(4)]
    plain = generate_codes(model, items, budgets, generators_for(3, 2))
    scale_one = generate_codes(
        model, items, budgets, generators_for(3, 2), unconditional=uncond, cfg_scale=1.0
    )
    guided = generate_codes(
        model, items, budgets, generators_for(3, 2), unconditional=uncond, cfg_scale=3.0
    )
    assert all(torch.equal(a, b) for a, b in zip(plain, scale_one))
    assert not all(torch.equal(a, b) for a, b in zip(plain, guided))


def test_batched_equals_one_by_one():
    model = tiny_model()
    items = [prefix("tts", 0), prefix("continuation", 2), prefix("lass", 1)]
    budgets = [Budget(8, stop_at_eos=True), Budget(5), Budget(3)]
    batched = generate_codes(model, items, budgets, generators_for([4, 5, 6], 3))
    for i, item in enumerate(items):
        alone = generate_codes(model, [item], [budgets[i]], generators_for([4 + i], 1))
        assert torch.equal(batched[i], alone[0]), i


def test_sampling_filters_and_guidance():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert torch.isinf(filter_logits(logits, SamplingParams(top_k=2))).tolist() == [
        [True, False, False, True]
    ]
    nucleus = filter_logits(logits, SamplingParams(top_p=0.5))
    assert torch.isfinite(nucleus).sum() == 1 and nucleus[0, 1] == 3.0
    pair = torch.randn(2, 5)
    torch.testing.assert_close(guide(pair, 1.0), pair[:1].log_softmax(-1))
    with pytest.raises(InvalidInputError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(InvalidInputError, match="temperature"):
        SamplingParams(temperature=-1)
