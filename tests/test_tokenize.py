"""Offline tokenization: shards round trip, batching = single encoding, resume, failures, CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import tone
from safetensors import safe_open

from tokgen.cli import main
from tokgen.codecs import build_codec
from tokgen.data import tokenize
from tokgen.data.token_corpus import TokenCorpus
from tokgen.data.tokenize import encode_batch, tokenize_manifest
from tokgen.errors import CodesError, InvalidInputError

# (seconds, sample rate): short clips share a window size, long ones (> 2 s) use 2 s windows
CLIPS = [(0.3, 16_000), (0.55, 22_050), (0.8, 16_000), (1.1, 16_000), (1.3, 22_050)]
CLIPS += [(2.2, 16_000), (2.45, 16_000), (2.9, 22_050), (3.1, 16_000)]


def _write_wav(root: Path, name: str, seconds: float, rate: int, freq: float) -> dict:
    sf.write(root / name, tone(seconds, rate, freq=freq).T.numpy(), rate)
    return {"path": name, "duration": round(seconds * rate) / rate, "sample_rate": rate}


def _write_manifest(root: Path, rows: list[dict]) -> Path:
    path = root / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """Nine tones at two sample rates and a mixture of two sources, in tmp_path/data."""
    root = tmp_path / "data"
    root.mkdir()
    rows = [
        {"id": f"tone-{i}", "kind": "speech", **_write_wav(root, f"t{i}.wav", s, r, 120 + 30 * i)}
        for i, (s, r) in enumerate(CLIPS)
    ]
    sources = [_write_wav(root, f"m-s{j}.wav", 1.7, 16_000, 300 + 200 * j) for j in range(2)]
    mixture = _write_wav(root, "m.wav", 1.7, 16_000, 500)
    rows.append({"id": "mix-0", "kind": "mixture", **mixture, "sources": sources})
    return _write_manifest(root, rows)


def _single(codec, path: Path) -> torch.Tensor:
    return codec.encode(str(path))[0]  # [K, F]


def _equal_fraction(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    equal = sum(int((a == b).all(0).sum()) for a, b in pairs)
    return equal / sum(a.shape[-1] for a, _ in pairs)


def _contents(folder: Path) -> dict[str, object]:
    """Every file of a token folder: text as is, shards as their tensors and metadata."""
    contents: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as handle:
                tensors = {k: handle.get_tensor(k).tolist() for k in handle.keys()}  # noqa: SIM118
                contents[path.name] = (handle.metadata(), tensors)
        else:
            contents[path.name] = path.read_text()
    return contents


def test_encode_batch_equals_single_encoding(debug_codec):
    clips = [tone(s, freq=100 + 20 * i) for i, (s, _) in enumerate(CLIPS)]  # [C, T] at 16 kHz
    codes = encode_batch(debug_codec, clips)
    singles = [debug_codec.encode(c, sample_rate=16_000)[0] for c in clips]
    assert [c.shape for c in codes] == [s.shape for s in singles]
    assert [c.shape[-1] for c in codes] == [math.ceil(c.shape[-1] / 320) for c in clips]
    assert _equal_fraction(list(zip(codes, singles))) >= 0.99


def test_round_trip_through_shards(debug_codec, manifest, tmp_path):
    out = tmp_path / "tokens"
    report = tokenize_manifest(
        debug_codec, manifest, out, batch_size=4, shard_size=4, progress=False
    )
    assert (report.done, report.skipped, report.failed, report.shards_written) == (10, 0, 0, 3)
    corpus = TokenCorpus(out)
    corpus.check_codec(debug_codec)
    assert len(corpus) == 10 and report.frames == sum(row["frames"] for row in corpus.rows)
    pairs = []
    for i, row in enumerate(corpus.rows):
        codes = corpus.codes(i)  # [K, F]
        assert codes.dtype == torch.long and codes.shape == (4, row["frames"])
        expected_samples = math.ceil(row["duration"] * 16_000 - 1e-6)  # resampled to 16 kHz
        assert row["decode_length"] == expected_samples
        assert row["frames"] == math.ceil(expected_samples / 320)
        wav = debug_codec.decode(codes, length=row["decode_length"])
        assert wav.shape == (1, 1, expected_samples)
        pairs.append((codes, _single(debug_codec, manifest.parent / row["path"])))
    assert _equal_fraction(pairs) >= 0.99


def test_header_manifest_and_shard_fields(debug_codec, manifest, tmp_path):
    out = tmp_path / "tokens"
    tokenize_manifest(debug_codec, manifest, out, num_codebooks=2, progress=False)
    header = json.loads((out / "tokens.json").read_text())
    assert header["codec"] == "tokgen-codec-debug"
    assert header["config_hash"] == debug_codec.config_hash
    assert (header["num_codebooks"], header["cardinality"]) == (2, 64)
    assert (header["frame_rate"], header["sample_rate"]) == (50.0, 16_000)
    assert header["manifest"] == str(manifest.resolve())
    rows = [json.loads(line) for line in (out / "tokens.jsonl").read_text().splitlines()]
    assert rows[0]["id"] == "tone-0" and rows[0]["kind"] == "speech"
    assert {"shard", "offset", "frames", "decode_length"} <= set(rows[0])
    assert "shard" not in rows[-1]["sources"][0]  # sources not tokenized without with_sources
    with safe_open(str(out / rows[0]["shard"]), framework="pt") as handle:
        metadata = handle.metadata()
        codes, offsets = handle.get_tensor("codes"), handle.get_tensor("offsets")
    assert codes.dtype == torch.int16 and codes.shape == (2, offsets[-1])
    assert offsets.dtype == torch.int64 and len(offsets) == len(rows) + 1
    assert metadata["config_hash"] == debug_codec.config_hash
    assert (metadata["codec"], metadata["num_codebooks"]) == ("tokgen-codec-debug", "2")
    assert (metadata["frame_rate"], metadata["sample_rate"]) == ("50.0", "16000")


def test_with_sources(debug_codec, manifest, tmp_path):
    out = tmp_path / "tokens"
    tokenize_manifest(debug_codec, manifest, out, with_sources=True, progress=False)
    corpus = TokenCorpus(out)
    index = len(corpus) - 1
    mixture = corpus.rows[index]
    assert mixture["id"] == "mix-0" and len(mixture["sources"]) == 2
    for j, source in enumerate(mixture["sources"]):
        assert source["frames"] == mixture["frames"] and source["shard"] == mixture["shard"]
        single = _single(debug_codec, manifest.parent / source["path"])
        assert _equal_fraction([(corpus.source_codes(index, j), single)]) >= 0.99
    tokenize_manifest(debug_codec, manifest, tmp_path / "plain", progress=False)
    with pytest.raises(InvalidInputError, match="--with-sources"):
        TokenCorpus(tmp_path / "plain").source_codes(index, 0)


def test_resume_after_interruption_gives_the_same_corpus(
    debug_codec, manifest, tmp_path, monkeypatch
):
    reference, out = tmp_path / "reference", tmp_path / "tokens"
    tokenize_manifest(debug_codec, manifest, reference, shard_size=3, progress=False)

    calls = []
    real = tokenize.encode_batch

    def crash_on_fourth_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # in the middle of the second shard
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(tokenize, "encode_batch", crash_on_fourth_batch)
    with pytest.raises(KeyboardInterrupt):
        tokenize_manifest(debug_codec, manifest, out, shard_size=3, batch_size=2, progress=False)
    monkeypatch.undo()
    assert not (out / "tokens.jsonl").exists()
    (out / ".shard-00001.safetensors.partial").write_bytes(b"half a shard")

    report = tokenize_manifest(debug_codec, manifest, out, shard_size=3, progress=False)
    assert (report.skipped, report.done, report.shards_written) == (3, 7, 3)
    assert _contents(out) == _contents(reference)  # the temporary file is gone too

    (out / "shard-00002.safetensors").unlink()
    report = tokenize_manifest(debug_codec, manifest, out, shard_size=3, progress=False)
    assert (report.skipped, report.done, report.shards_written) == (7, 3, 1)
    assert _contents(out) == _contents(reference)


def test_failures_are_reported_and_the_rest_tokenized(debug_codec, manifest, tmp_path, capsys):
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    (manifest.parent / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt not really")
    rows[1] = {**rows[1], "id": "corrupt", "path": "corrupt.wav"}
    rows[2] = {**rows[2], "id": "too-long", "duration": rows[2]["duration"] + 0.5}
    rows[3] = {**rows[3], "id": "missing", "path": "nowhere.wav"}
    _write_manifest(manifest.parent, rows)

    out = tmp_path / "tokens"
    report = tokenize_manifest(debug_codec, manifest, out, shard_size=4, progress=False)
    reasons = {failure.id: failure.reason for failure in report.failures}
    assert report.failed == 3 and report.done == 7
    assert "cannot read" in reasons["corrupt"]
    assert "manifest says" in reasons["too-long"]
    assert "not found" in reasons["missing"]
    assert [row["id"] for row in TokenCorpus(out).rows] == [
        row["id"] for row in rows if row["id"] not in reasons
    ]
    again = tokenize_manifest(debug_codec, manifest, out, shard_size=4, progress=False)
    assert again.failed == 3 and again.shards_written == 1  # the shard with failures is retried

    args = ["data", "tokenize", "--codec", "tokgen-codec-debug"]
    assert main([*args, "--manifest", str(manifest), "--out", str(tmp_path / "cli")]) == 1
    err = capsys.readouterr().err
    assert "3 rows failed" in err and "corrupt:" in err and "too-long:" in err


ROW = '{"id": "a", "path": "a.wav", "duration": 1}\n'


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no rows"),
        (ROW + '{"id": "b",', r"train\.jsonl:2: not valid JSON"),
        ('{"id": "a", "path": "a.wav"}', "duration"),
        (ROW + ROW, "appears twice"),
        ('["a.wav"]', "JSON object"),
    ],
)
def test_bad_manifest_is_refused(debug_codec, tmp_path, text, match):
    path = tmp_path / "train.jsonl"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=match):
        tokenize_manifest(debug_codec, path, tmp_path / "out", progress=False)
    with pytest.raises(InvalidInputError, match="not found"):
        tokenize_manifest(debug_codec, tmp_path / "none.jsonl", tmp_path / "out", progress=False)


def test_a_retrained_decoder_keeps_the_tokens_valid(debug_codec, manifest, tmp_path):
    out = tmp_path / "tokens"
    tokenize_manifest(debug_codec, manifest, out, progress=False)
    tuned = build_codec(debug_codec.config)
    tuned.load_state_dict(debug_codec.state_dict())
    with torch.no_grad():
        for parameter in tuned.decoder.parameters():
            parameter.add_(0.1)
    report = tokenize_manifest(tuned, manifest, out, progress=False)  # accepted: a resume
    assert report.failed == 0 and report.done == 0 and report.skipped > 0
    TokenCorpus(out).check_codec(tuned)


def test_other_codec_is_refused(debug_codec, manifest, tmp_path):
    out = tmp_path / "tokens"
    tokenize_manifest(debug_codec, manifest, out, progress=False)
    retrained = build_codec(debug_codec.config)  # same architecture, other weights
    with pytest.raises(InvalidInputError, match="weights_hash"):
        tokenize_manifest(retrained, manifest, out, progress=False)
    with pytest.raises(InvalidInputError, match="num_codebooks: 4 -> 2"):
        tokenize_manifest(debug_codec, manifest, out, num_codebooks=2, progress=False)
    other = build_codec(dataclasses.replace(debug_codec.config, name="other", bins=32))
    with pytest.raises(InvalidInputError, match="config_hash"):
        tokenize_manifest(other, manifest, out, progress=False)
    with pytest.raises(CodesError, match="config hash"):
        TokenCorpus(out).check_codec(other)
    with pytest.raises(CodesError, match="another 'tokgen-codec-debug' encoder"):
        TokenCorpus(out).check_codec(retrained)


def test_cli_happy_path(manifest, tmp_path, capsys):
    out = tmp_path / "tokens"
    args = ["data", "tokenize", "--codec", "tokgen-codec-debug", "--manifest", str(manifest)]
    assert main([*args, "--out", str(out), "--batch-size", "3", "--with-sources"]) == 0
    assert "10 rows tokenized" in capsys.readouterr().out
    corpus = TokenCorpus(out)
    assert len(corpus) == 10 and corpus.header.with_sources
    with pytest.raises(SystemExit) as exit_:
        main(["data", "tokenize", "--help"])
    assert exit_.value.code == 0
    assert "--with-sources" in capsys.readouterr().out
