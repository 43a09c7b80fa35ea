"""The tokgen command: help for every command, encode/decode files, roundtrip, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import soundfile as sf

from tokgen.audio import SAMPLE_SPEECH as SAMPLE
from tokgen.cli import build_parser, main
from tokgen.codecs.token_file import load_tokens

COMMANDS = [
    "codecs", "encode", "decode", "roundtrip", "download", "data", "fit", "train", "bench",
    "eval", "generate",
]  # fmt: skip


def test_help_documents_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "tokgen.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in COMMANDS:
        assert command in result.stdout
    parser = build_parser()
    for argv in (
        ["train", "codec", "--help"],
        ["fit", "codec", "--help"],
        ["bench", "codec", "--help"],
        ["encode", "--help"],
        ["data", "build", "--help"],
        ["data", "tokenize", "--help"],
        ["data", "noisy", "--help"],
        ["data", "import", "--help"],
        ["data", "real-speech", "--help"],
        ["bench", "f0", "--help"],
        ["eval", "codec", "--help"],
        ["train", "lm", "--help"],
        ["bench", "tts", "--help"],
        ["generate", "--help"],
    ):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 0
    for task in ("tts", "tta", "lass", "continuation"):  # options from the shipped model's spec
        with pytest.raises(SystemExit) as exit_:
            main(["generate", task, "--help"])
        assert exit_.value.code == 0


def test_encode_decode_files(tmp_path, wav_file, capsys):
    tokens = tmp_path / "x.tokens"
    assert main(["encode", str(wav_file), "-o", str(tokens), "--codec", "tokgen-codec-debug"]) == 0
    loaded = load_tokens(tokens)
    assert loaded.codes.shape == (1, 4, 25) and loaded.num_samples == [8000]
    out = tmp_path / "y.wav"
    assert main(["decode", str(tokens), "-o", str(out)]) == 0  # codec name read from the file
    data, rate = sf.read(out)
    assert (len(data), rate) == (8000, 16_000)
    assert "tokgen-codec-debug" in capsys.readouterr().out


def test_encode_with_fewer_codebooks(tmp_path, wav_file):
    tokens = tmp_path / "x.tokens"
    main(
        [
            "encode",
            str(wav_file),
            "-o",
            str(tokens),
            "--codec",
            "tokgen-codec-debug",
            "--num-codebooks",
            "2",
        ]
    )
    assert load_tokens(tokens).codes.shape[1] == 2


def test_roundtrip_prints_what_it_did(tmp_path, capsys):
    out, picture = tmp_path / "r.wav", tmp_path / "r.png"
    argv = ["roundtrip", "--codec", "tokgen-codec-debug", "-o", str(out)]
    assert main([*argv, "--spectrogram", str(picture)]) == 0
    printed = capsys.readouterr().out
    for field in ("codec", "tokens", "speed", "log-mel distance", "output", "picture"):
        assert field in printed
    assert sf.info(out).frames == sf.info(SAMPLE).frames
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    assert (
        main(
            [
                "encode",
                str(tmp_path / "none.wav"),
                "-o",
                str(tmp_path / "t.tokens"),
                "--codec",
                "tokgen-codec-debug",
            ]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err
    assert main(["decode", str(tmp_path / "none.tokens"), "-o", str(tmp_path / "o.wav")]) == 2


def test_generate_every_task(tmp_path, wav_file, capsys):
    debug = ["--model", "tokgen-lm-debug", "--seed", "0"]
    runs = {
        "tts": ["tts", "Good morning.", "--prompt", str(wav_file), "--duration", "0.4"],
        "tta": ["tta", "rain on a tin roof", "--duration", "0.3"],
        "lass": ["lass", "the flute", "--audio", str(wav_file)],
        "continuation": ["continuation", "--audio", str(wav_file), "--duration", "0.2"],
    }
    for task, argv in runs.items():
        out = tmp_path / f"{task}.wav"
        assert main(["generate", *argv, "-o", str(out), *debug]) == 0, task
        assert sf.info(out).samplerate == 16_000
    assert sf.info(tmp_path / "lass.wav").frames == 8000  # as long as the mixture
    assert (
        main(["generate", "tta", "rain", "--duration", "99", "-o", str(tmp_path / "x.wav"), *debug])
        == 2
    )
    assert "duration must be between" in capsys.readouterr().err


def test_bench_codec_times_encode_and_decode(capsys):
    assert main(["bench", "codec", "tokgen-codec-debug", "--seconds", "0.5", "--repeats", "1"]) == 0
    table = capsys.readouterr().out
    assert "| tokgen-codec-debug | 0.5 s | 1 |" in table and "encode x realtime" in table


def test_a_new_command_is_one_module_and_one_registration(tmp_path, monkeypatch, capsys):
    import tokgen.cli

    (tmp_path / "toy_command.py").write_text(
        "def run(args):\n"
        "    print(f'hello {args.name}')\n"
        "\n"
        "def register(commands):\n"
        "    p = commands.add_parser('toy', help='a toy command')\n"
        "    p.add_argument('name')\n"
        "    p.set_defaults(func=run)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(tokgen.cli, "GROUPS", [*tokgen.cli.GROUPS, "toy_command"])
    assert main(["toy", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"
