"""``DurationTTS``: text + a voice prompt -> speech. Same ``generate("tts", ...)`` and output as
the LM. The vocoder parameters come from flite's own rendering moved to the prompt's voice
(``acoustics: flite``, :func:`convert_voice`) or from the duration TTS network given flite's
timed phones (``acoustics: network``); the codec's vocoder (WORLD) speaks them.

A checkpoint is a folder with ``config.json`` (``kind`` = :data:`KIND`, the network's
:class:`DurationTTSConfig`) and ``model.safetensors``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from tokgen.checks import number
from tokgen.codecs import Codec
from tokgen.codecs.world_vocoder import WorldSettings
from tokgen.errors import InvalidInputError
from tokgen.net_model import NetCheckpoint, NetModel
from tokgen.pipeline import (
    GenerationOutput,
    ModelInfo,
    _batch_size,
    _pick,
    audio_argument,
    refuse_sampling,
)
from tokgen.tasks import TaskSpec, builtin_task
from tokgen.text.phones import SAMPLE_RATE, PhoneSequence, flite_phones, flite_speak
from tokgen.threads import one_thread
from tokgen.tts.model import DurationTTSConfig, DurationTTSNet

KIND = "tokgen-duration-tts"
PROMPT_SECONDS = 3.0  # the prompt's last seconds give the voice (as in training)
DEFAULT_PROMPT = Path(__file__).resolve().parent.parent / "assets" / "sample_speech.wav"
FLITE_VOICES = (("kal16", 0.0), ("slt", 150.0))
"""The flite voices the ``flite`` acoustics render with, each from a prompt's median voiced
F0 (Hz) up: the male kal16 below 150 Hz, the female slt above (a converted kal16 missed
female voices; tts/README.md)."""


class DurationTTS(NetModel):
    """A loaded duration TTS: ``generate("tts", text, prompt_audio=...)``."""

    TASK, DOES = "tts", "speaks"

    @classmethod
    def spec(cls) -> TaskSpec:
        """The built-in ``tts`` with the prompt optional (the bundled voice by default) and
        read from its end (its last :data:`PROMPT_SECONDS`)."""
        spec = builtin_task("tts")
        conditions = tuple(
            replace(c, required=False, window="head", seconds=PROMPT_SECONDS)
            if c.name == "prompt_audio" else c
            for c in spec.conditions
        )  # fmt: skip
        return replace(spec, conditions=conditions)

    def __init__(self, net: DurationTTSNet, codec: Codec, name: str) -> None:
        super().__init__(net, codec, name)
        # the parametric codec's latent starts with ln F0 and voicing: give it the prompt's pitch
        self.match_pitch = getattr(codec.config, "backend", None) == "parametric"
        # and a coded envelope to sharpen (1: off); set the attribute to change it per model
        self.postfilter = net.config.postfilter if self.match_pitch else 1.0
        # "flite" or "network" (tokgen.tts.model.ACOUSTICS); set the attribute to compare them
        self.acoustics = net.config.acoustics
        self.flite_voices = FLITE_VOICES  # (("kal16", 0.0),) renders every voice from kal16

    @torch.inference_mode()
    @one_thread()  # 2.3x slower on two threads with another process on one core, else the same
    def generate(
        self,
        task: str,
        text: str | list[str] | None = None,
        *,
        prompt_audio: Any = None,
        sample_rate: int | None = None,
        speed: float | list[float] = 1.0,
        seed: int | list[int] | None = None,
        cfg_scale: float | None = None,
        duration: float | None = None,
        steps: int | None = None,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        progress: bool = False,
    ) -> GenerationOutput:
        """Speak ``text`` (one string or a list) in the voice of ``prompt_audio`` (a path,
        ``(tensor, rate)`` or a tensor with ``sample_rate``; default: the bundled sample
        voice). ``speed`` scales the speaking rate (1: flite's timing; for the network's
        acoustics moved to the prompt's voice by its duration head, where it has one). The output is
        deterministic: ``seed`` is accepted for the common API and changes nothing, and the
        LM's sampling options (temperature, top_k, top_p, cfg_scale) are refused, as are
        ``duration`` (the text and ``speed`` set it) and diffusion ``steps``. ``progress``
        shows a bar over the items' vocoding."""
        self.task(task)
        refuse_sampling(self.name, "it takes text, prompt_audio and speed", temperature=temperature,
                        top_k=top_k, top_p=top_p, cfg_scale=cfg_scale, steps=steps)  # fmt: skip
        if duration is not None:
            raise InvalidInputError(
                f"{self.name} speaks as long as the text takes: set speed= instead of duration."
            )
        if text is None:
            raise InvalidInputError("task 'tts' needs text= (the words to speak).")
        batch = _batch_size({"text": text, "prompt_audio": prompt_audio, "speed": speed})
        prompts = [self.prompt_latent(_pick(prompt_audio, i), sample_rate) for i in range(batch)]
        texts, speeds = [], []
        for i in range(batch):
            speeds.append(number("speed", _pick(speed, i), low=0.25, high=4.0))
            texts.append(_pick(text, i))
            if not isinstance(texts[-1], str):
                raise InvalidInputError(
                    f"text must be a string or a list of them, got {texts[-1]!r}."
                )
        if self.acoustics == "flite":
            speech = [self.converted_flite(i, t, p, s)
                      for i, (t, p, s) in enumerate(zip(texts, prompts, speeds))]  # fmt: skip
        else:
            speech = self.network_speech(texts, prompts, speeds)  # [1, D, F_i] each
        frames = [latent.shape[-1] for latent in speech]
        hop = self.codec.hop_length
        out = torch.zeros(batch, self.codec.channels, max(frames) * hop)
        codes = torch.full((batch, self.codec.num_codebooks, max(frames)), -1, dtype=torch.long)
        latents = torch.zeros(batch, self.config.latent_dim, max(frames))
        for i, f in enumerate(tqdm(frames, desc="vocode", unit="item", disable=not progress)):
            latent = speech[i]
            if self.match_pitch:
                latent = match_pitch(latent, prompts[i])
            if self.postfilter != 1.0:
                latent = sharpen_envelope(latent, self.postfilter, self.codec.settings)
            latents[i, :, :f] = latent[0]
            out[i, :, : f * hop] = self.codec.decode_latent(latent)[0]
            codes[i, :, :f] = self.codec.quantize_latent(latent)[0]
        return GenerationOutput(out, self.sample_rate, codes, [f * hop for f in frames], latents)

    def network_speech(
        self, texts: list[str], prompts: list[torch.Tensor], speeds: list[float]
    ) -> list[torch.Tensor]:
        """The network's latents ``[1, D, F_i]`` for ``texts`` in the prompts' voices, in one
        batch: flite's timed phones, their durations moved to each voice by the duration head
        (where the network has one) and divided by the speeds."""
        voices = torch.cat([self.net.voice(p) for p in prompts])  # [B, 2D]
        items = []
        for i, (words, rate) in enumerate(zip(texts, speeds)):
            phones = flite_phones(words)
            items.append((phones.ids, self.durations(phones, voices[i : i + 1], rate)))
            self._check_length(i, sum(items[-1][1]))
        phones = torch.zeros(len(items), max(len(ids) for ids, _ in items), dtype=torch.long)
        durations = torch.zeros_like(phones)  # [B, P]
        for i, (ids, lengths) in enumerate(items):
            phones[i, : len(ids)] = torch.tensor(ids)
            durations[i, : len(ids)] = torch.tensor(lengths)
        frames = [int(d.sum()) for d in durations]
        x = self.net(phones, durations, voices, max(frames))  # [B, D, F]
        return [self.net.denormalize(x[i : i + 1, :, :f]).float() for i, f in enumerate(frames)]

    def converted_flite(
        self, item: int, text: str, prompt: torch.Tensor, speed: float
    ) -> torch.Tensor:
        """flite's own rendering of ``text`` (the batch's ``item``; by the voice of
        :attr:`flite_voices` nearest the prompt's pitch) as the codec's latent ``[1, D, F]``,
        its frames resampled by ``speed`` and moved to the voice of ``prompt [1, D, Fp]`` by
        :func:`convert_voice`."""
        if voiced(prompt).sum() < 2:
            raise InvalidInputError(
                f"{self.name} takes the voice from the prompt's voiced speech, and this prompt "
                "has none (silence, or nothing with a pitch): give a few seconds of someone speaking."
            )
        _, wav = flite_speak(text, flite_voice(prompt, self.flite_voices))
        self._check_length(item, round(len(wav) / self.codec.hop_length / speed))
        source = self.codec.encode_latent(torch.from_numpy(wav)[None, None], SAMPLE_RATE).float()
        if speed != 1.0:
            frames = max(1, round(source.shape[-1] / speed))
            at = (torch.arange(frames) * speed).long().clamp(max=source.shape[-1] - 1)
            source = source[..., at]
        return convert_voice(source, prompt, self.net)

    def _check_length(self, item: int, frames: int) -> None:
        """Refuse speech of ``frames`` frames longer than the model's ``max_duration``."""
        if frames > self.config.max_duration * self.config.frame_rate:
            raise InvalidInputError(
                f"text item {item} would last {frames / self.config.frame_rate:.1f} s; "
                f"at most {self.config.max_duration:g} s at a time: split it into sentences."
            )

    def durations(self, phones: PhoneSequence, voice: torch.Tensor, speed: float) -> list[int]:
        """Frames per phone: flite's timing, rescaled to the voice ``[1, 2D]`` where the
        network has a duration head, divided by ``speed``."""
        scale = None
        if self.config.voice_durations:
            scale = self.net.duration_scale(torch.tensor([phones.ids]), voice)[0].float().exp()
            scale = scale.tolist()
        return phones.frame_durations(self.config.frame_rate, speed, scale)

    def prompt_latent(self, value: Any, sample_rate: int | None = None) -> torch.Tensor:
        """The latent ``[1, D, F]`` of a voice prompt's last :data:`PROMPT_SECONDS` (None:
        the bundled voice)."""
        value = str(DEFAULT_PROMPT) if value is None else value
        clip = audio_argument(
            "prompt_audio", value, sample_rate, self.codec, self.config.max_duration
        )
        keep = round(PROMPT_SECONDS * self.codec.sample_rate)
        return self.codec.encode_latent(clip.samples[:, :, -keep:], clip.sample_rate).float()


CHECKPOINT = NetCheckpoint(KIND, DurationTTSConfig, DurationTTSNet, "duration TTS")
save_tts = CHECKPOINT.save
load_tts_net = CHECKPOINT.load_net


def model_info(path: str | os.PathLike) -> ModelInfo:
    """What the duration TTS in ``path`` does, from its config alone."""
    config = CHECKPOINT.config(path)
    return ModelInfo({"tts": DurationTTS.spec()}, config.max_duration, options=("speed",))


def load_model(path: str | os.PathLike, name: str) -> DurationTTS:
    """The duration TTS in folder ``path`` with its codec."""
    from tokgen.codecs import load_codec

    net = load_tts_net(path)
    return DurationTTS(net, load_codec(net.config.codec), name)


def convert_voice(source: torch.Tensor, prompt: torch.Tensor, net: DurationTTSNet) -> torch.Tensor:
    """``source [1, D, F]`` (the codec's latent of one voice) moved to the voice of ``prompt
    [1, D, Fp]``: every channel's mean over the frames (the voice vectors of
    :meth:`DurationTTSNet.voice`) replaced by the prompt's, and ln F0's spread too; voicing
    (channel 1) kept, and the envelope's and aperiodicity's spread kept (their movement
    says the words: matching it to a 3 s prompt's cost intelligibility, tts/README.md).
    The classic statistics-matching voice conversion, on WORLD's parameters: no training,
    any voice."""
    d = source.shape[1]
    mean, std = (v[..., None] for v in net.voice(source).split(d, dim=-1))  # [1, D, 1] each
    target_mean, target_std = (v[..., None] for v in net.voice(prompt).split(d, dim=-1))
    x = net.normalize(source)
    moved = x - mean + target_mean
    pitch = (x[:, 0] - mean[:, 0]) / std[:, 0].clamp(min=1e-3)
    moved[:, 0] = pitch * target_std[:, 0] + target_mean[:, 0]
    moved[:, 1] = x[:, 1]
    return net.denormalize(moved)


def flite_voice(prompt: torch.Tensor, voices: tuple[tuple[str, float], ...]) -> str:
    """The last of ``voices`` ((name, lowest F0 in Hz), ascending) whose lowest F0 the median
    voiced F0 of ``prompt [1, D, Fp]`` reaches; the first if none does."""
    f0 = prompt[0, 0, voiced(prompt)].exp()  # channel 0 is ln F0
    median = float(f0.median()) if len(f0) else 0.0
    chosen = voices[0][0]
    for name, low in voices:
        if median >= low:
            chosen = name
    return chosen


def voiced(latent: torch.Tensor) -> torch.Tensor:
    """The voiced frames ``[F]`` of a parametric codec's latent ``[1, D, F]`` (channel 1)."""
    return latent[0, 1] >= 0.5


def match_pitch(latent: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
    """``latent [1, D, F]`` of the parametric codec (channel 0: ln F0, 1: voicing) with its
    voiced ln F0 moved to the mean and spread of the voiced frames of ``prompt [1, D, Fp]``
    (the spread ratio kept within 0.5-2); unchanged where either has under 2 voiced
    frames. The network gets the pitch roughly right; this makes it the prompt's."""
    ours, theirs = voiced(latent), voiced(prompt)
    if ours.sum() < 2 or theirs.sum() < 2:
        return latent
    f0, target = latent[0, 0, ours], prompt[0, 0, theirs]
    scale = (target.std() / f0.std().clamp(min=1e-4)).clamp(0.5, 2.0)
    out = latent.clone()
    out[0, 0, ours] = (f0 - f0.mean()) * scale + target.mean()
    return out


def sharpen_envelope(latent: torch.Tensor, beta: float, settings: WorldSettings) -> torch.Tensor:
    """``latent [1, D, F]`` with its coded envelope's coefficients from the second on times
    ``beta``: the mel-cepstral postfilter of HMM/parametric TTS, which deepens the formant
    peaks and valleys that an L1-trained predictor smooths (the level and tilt, coefficients
    0 and 1, stay)."""
    out = latent.clone()
    start, end = settings.pitch_dims + 2, settings.pitch_dims + settings.envelope_dims
    out[:, start:end] *= beta
    return out
