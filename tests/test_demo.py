"""The Gradio demo on the tiny debug model: every endpoint through ``gradio_client``, bad
uploads, and a real headless browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import shutil
import socket
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

gr = pytest.importorskip("gradio", reason="the demo extra: pip install -e '.[demo]'")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from demos.app import ASSETS, DemoLimits, build_demo, launch  # noqa: E402

SPEECH = ASSETS / "sample_speech.wav"
MIXTURE = ASSETS / "sample_mixture.wav"
CHROMIUM = shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def url():
    demo = build_demo("tokgen-lm-debug", limits=DemoLimits(max_upload_mb=2))
    port = free_port()
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def client(url):
    return Client(url, verbose=False)


def read(path: str) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(path)
    assert rate == 16_000 and audio.size > 0 and np.isfinite(audio).all()
    return audio, rate


def test_every_endpoint_returns_audio_and_a_picture(client):
    calls = {
        "/tts": ("Hello there.", handle_file(str(SPEECH))),
        "/tta": ("rain on a roof",),
        "/lass": ("a vibraphone playing", handle_file(str(MIXTURE))),
        "/continuation": (handle_file(str(SPEECH)),),
    }
    lengths = {}
    for api_name, args in calls.items():  # only the first inputs: the rest have defaults
        audio, picture = client.predict(*args, api_name=api_name)
        lengths[api_name] = len(read(audio)[0])
        assert Path(picture).suffix == ".png" and Path(picture).stat().st_size > 1000
    assert abs(lengths["/lass"] - sf.info(str(MIXTURE)).frames) < 320  # as long as the mixture
    tta, _ = client.predict("rain", 1.5, api_name="/tta")  # duration is the next input
    assert len(read(tta)[0]) == 1.5 * 16_000
    audio, _, info = client.predict(handle_file(str(SPEECH)), 2, api_name="/codec")
    assert len(read(audio)[0]) == sf.info(str(SPEECH)).frames and "2 codebooks" in info


def _silence(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(b"\0\0" * int(seconds * 8000))
    return path


def test_bad_uploads_give_a_readable_error_and_the_app_keeps_serving(client, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    long = _silence(tmp_path / "long.wav", 12.0)  # the debug model takes 10 s
    cases = [
        (text, "cannot read audio file notes.wav"),
        (empty, "empty.wav"),
        (long, "over the limit"),
    ]
    for path, message in cases:
        with pytest.raises(AppError, match=message) as caught:
            client.predict("Hi.", handle_file(str(path)), api_name="/tts")
        assert "/tmp/gradio" not in str(caught.value)  # the user's file name, not ours
        with pytest.raises(AppError):
            client.predict(handle_file(str(path)), api_name="/codec")
    with pytest.raises(AppError, match="this input is needed"):
        client.predict("Hi.", None, api_name="/tts")  # no voice prompt
    audio, _ = client.predict("rain", api_name="/tta")
    read(audio)


def test_uploads_over_the_size_limit_are_refused(client, tmp_path):
    big = _silence(tmp_path / "big.wav", 200.0)  # 3.2 MB against a 2 MB limit
    with pytest.raises(Exception, match=r"(?i)size|large|413"):
        client.predict(handle_file(str(big)), api_name="/codec")


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (scripts/install_system_deps.sh)"
)
def test_the_page_in_a_headless_browser(url, tmp_path):
    from playwright.sync_api import sync_playwright

    requests: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url, wait_until="networkidle")
        page.get_by_label("the words to speak").first.fill("Hello there.")
        page.locator("input[type=file]").first.set_input_files(str(SPEECH))
        page.get_by_role("button", name="Generate").first.click()
        page.locator("img[src*='tts-']").first.wait_for(timeout=60_000)  # the spectrogram
        players = page.locator("audio[src^='blob:']")  # in the players' shadow roots
        players.nth(1).wait_for(state="attached", timeout=10_000)  # the prompt's and the result's
        page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        page.get_by_role("tab", name="Codec").click()  # a bad upload: the error in the page
        bad = tmp_path / "bad.wav"
        bad.write_text("not audio")
        page.locator("input[type=file]").last.set_input_files(str(bad))
        page.get_by_role("button", name="Encode and decode").click()
        page.get_by_text("cannot read audio file bad.wav").first.wait_for(timeout=20_000)
        browser.close()
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    elsewhere = [r for r in requests if not r.startswith((url, "blob:", "data:"))]
    assert requests and elsewhere == []  # nothing left the machine


def test_tokgen_demo_serves_on_localhost_by_default(monkeypatch):
    import demos.app
    from tokgen.cli import main

    served = {}
    monkeypatch.setattr(demos.app, "launch", lambda demo, **kw: served.update(kw, demo=demo))
    argv = ["demo", "--model", "tokgen-lm-debug", "--codec", "tokgen-codec-debug", "--port", "7999"]
    assert main(argv) == 0
    assert served["host"] == "127.0.0.1" and served["port"] == 7999 and not served["share"]
    assert isinstance(served["demo"], gr.Blocks)


def test_a_diffusion_model_gets_its_own_settings_and_endpoints():
    demo = build_demo("tokgen-diffusion-debug")
    port = free_port()
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        audio, picture = client.predict("rain", 1.0, 3, api_name="/tta")  # duration, steps
        assert len(read(audio)[0]) == 16_000 and Path(picture).suffix == ".png"
        audio, _ = client.predict(handle_file(str(SPEECH)), "", 0.5, api_name="/continuation")
        assert len(read(audio)[0]) == 8_000
    finally:
        demo.close()


def test_a_duration_tts_gets_a_speed_setting_and_speaks(tmp_path):
    from tokgen.text.phones import flite_phones
    from tokgen.tts import DurationTTSConfig, DurationTTSNet, save_tts

    path = save_tts(DurationTTSNet(DurationTTSConfig(width=8, phone_layers=1, frame_layers=1)),
                    tmp_path / "tts")  # fmt: skip
    demo = build_demo(str(path))
    port = free_port()
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        audio, picture = client.predict("Hello.", handle_file(str(SPEECH)), 2.0, api_name="/tts")
        frames = sum(flite_phones("Hello.").frame_durations(50.0, speed=2.0))
        assert len(read(audio)[0]) == frames * 320 and Path(picture).suffix == ".png"
    finally:
        demo.close()


def test_a_separator_gets_no_settings_and_keeps_the_mixtures_length(tmp_path):
    from tokgen.separation import MaskNet, MaskNetConfig, save_separator

    path = save_separator(MaskNet(MaskNetConfig(width=8, layers=1)), tmp_path / "sep")
    demo = build_demo(str(path))
    port = free_port()
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        audio, picture = client.predict("a vibraphone", handle_file(str(MIXTURE)), api_name="/lass")
        assert len(read(audio)[0]) == sf.info(str(MIXTURE)).frames
        assert Path(picture).suffix == ".png"
    finally:
        demo.close()


def test_the_texture_continuation_gets_duration_and_seed_settings():
    demo = build_demo("tokgen-texture")
    port = free_port()
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        first = client.predict(handle_file(str(SPEECH)), 1.5, 3, api_name="/continuation")
        again = client.predict(handle_file(str(SPEECH)), 1.5, 3, api_name="/continuation")
        wav, rate = read(first[0])
        assert len(wav) == 1.5 * rate and Path(first[1]).suffix == ".png"
        assert (read(again[0])[0] == wav).all()  # the same seed, the same jumps
    finally:
        demo.close()
