"""``tokgen train codec``: reconstruction + multi-scale mel + VQ commitment (+ MS-STFT GAN)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from tokgen.codecs import Codec, build_codec
from tokgen.codecs.registry import codec_config
from tokgen.codecs.vocos_decoder import VocosDecoder
from tokgen.data.audio_segments import AudioSegmentDataset
from tokgen.errors import ConfigError
from tokgen.training.config import CodecTrainConfig
from tokgen.training.discriminators import MagnitudeDiscriminator
from tokgen.training.losses import (
    CompressedComplexSTFTLoss,
    MultiScaleMelLoss,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_hinge_loss,
    spectral_magnitude_loss,
)
from tokgen.training.trainer import MODEL_DIR, Trainer, Updater, complete_checkpoints


class CodecTask:
    """One codec training step; the discriminator (if enabled) is updated first."""

    def __init__(self, config: CodecTrainConfig, codec: Codec) -> None:
        self.config = config
        self.codec = codec
        self.mel_loss = MultiScaleMelLoss(codec.sample_rate, n_mels=config.loss.mel_bins)
        self.complex_loss = CompressedComplexSTFTLoss()
        self.magnitude_discriminator = (
            config.discriminator.enabled and config.discriminator.kind == "magnitude"
        )
        if config.loss.frame_magnitude > 0:
            _require_vocos(codec, "loss.frame_magnitude")
        self.frozen = [_codec_part(codec, name) for name in config.freeze]
        for part in self.frozen:
            part.requires_grad_(False)
        self.discriminator = _discriminator(config, codec)

    def modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {"codec": self.codec}
        if self.discriminator is not None:
            modules["discriminator"] = self.discriminator
        return modules

    def _num_codebooks(self) -> int | None:
        """Quantizer dropout: a random K in ``[min_codebooks, max]`` for a share of batches.

        Drawn from torch's RNG, which the trainer seeds and checkpoints (exact resume).
        """
        settings = self.config.quantizer
        if settings.dropout <= 0 or torch.rand(()) >= settings.dropout:
            return None
        high = self.codec.max_codebooks
        return int(torch.randint(min(settings.min_codebooks, high), high + 1, ()))

    def train_step(self, wav: torch.Tensor, step: int, update: Updater) -> dict[str, float]:
        """``wav [B, C, S]`` -> one update of each module; returns scalar logs."""
        codec = update.modules["codec"]
        for part in self.frozen:
            part.eval()  # no EMA codebook updates: the codes stay exactly as they were
        out = codec(wav, self._num_codebooks())
        weights = self.config.loss
        self.mel_loss.to(wav.device)
        self.complex_loss.to(wav.device)
        l1 = (out.audio - wav).abs().mean()
        loss = weights.l1 * l1 + weights.commitment * out.commitment_loss
        logs = {"l1": l1.item(), "commitment": out.commitment_loss.item()}
        if weights.mel > 0:
            mel = self.mel_loss(out.audio, wav)
            loss = loss + weights.mel * mel
            logs["mel"] = mel.item()
        target = None  # the decoder's STFT frames of the input, when a loss compares them
        if weights.frame_magnitude > 0 or self.magnitude_discriminator:
            target = self.codec.decoder.stft(wav.flatten(0, 1)).abs()  # [B*C, bins, F]
        if weights.frame_magnitude > 0:
            frame_magnitude = spectral_magnitude_loss(out.magnitude, target)
            loss = loss + weights.frame_magnitude * frame_magnitude
            logs["frame_magnitude"] = frame_magnitude.item()
        if weights.complex_stft > 0:
            complex_stft = self.complex_loss(out.audio, wav)
            loss = loss + weights.complex_stft * complex_stft
            logs["complex_stft"] = complex_stft.item()
        adversarial = (
            "discriminator" in update.modules and step >= self.config.discriminator.start_step
        )
        if adversarial:
            disc = update.modules["discriminator"]
            real, fake = (
                (target, out.magnitude) if self.magnitude_discriminator else (wav, out.audio)
            )
            real_logits, _ = disc(real)
            fake_logits, _ = disc(fake.detach())
            d_loss = discriminator_hinge_loss(real_logits, fake_logits)
            update("discriminator", d_loss)
            with torch.no_grad():  # the real maps are only targets for feature matching
                _, real_maps = disc(real)
            fake_logits, fake_maps = disc(fake)
            adv = generator_hinge_loss(fake_logits)
            feat = feature_matching_loss(real_maps, fake_maps)
            loss = loss + weights.adversarial * adv + weights.feature * feat
            logs |= {"disc": d_loss.item(), "adv": adv.item(), "feat": feat.item()}
        update("codec", loss)
        logs["loss"] = loss.item()
        return logs


def _discriminator(config: CodecTrainConfig, codec: Codec) -> nn.Module | None:
    """The recipe's discriminator, or None when it is disabled."""
    settings = config.discriminator
    if not settings.enabled:
        return None
    if settings.kind == "magnitude":
        _require_vocos(codec, "discriminator.kind=magnitude")
        return MagnitudeDiscriminator(settings.filters)
    if settings.kind != "ms_stft":
        raise ConfigError(
            f"discriminator.kind must be 'ms_stft' or 'magnitude', got {settings.kind!r}."
        )
    from encodec.msstftd import MultiScaleSTFTDiscriminator

    discriminator = MultiScaleSTFTDiscriminator(
        filters=settings.filters, in_channels=codec.channels, out_channels=codec.channels
    )
    _own_buffer_storage(discriminator)
    return discriminator


def _require_vocos(codec: Codec, setting: str) -> None:
    """Losses on STFT frames need a decoder that predicts them."""
    if not isinstance(getattr(codec, "decoder", None), VocosDecoder):
        raise ConfigError(f"{setting} needs a codec with `decoder: vocos`.")


def codec_from_recipe(spec: object) -> Codec:
    """The ``codec:`` entry of a recipe: a registry name or a full config mapping."""
    if isinstance(spec, str):
        return build_codec(codec_config(spec))
    if isinstance(spec, dict):
        return build_codec(spec, source="recipe [codec]")
    raise ConfigError("the recipe's codec entry must be a codec name or a config mapping.")


def _own_buffer_storage(module: nn.Module) -> None:
    """Give every buffer its own storage: torch's periodic Hann window is a view of a
    one-longer tensor, which safetensors refuses to load into, so a GAN run could not
    resume from its checkpoint."""
    for part in module.modules():
        for name, buffer in list(part.named_buffers(recurse=False)):
            part.register_buffer(
                name, buffer.clone(), persistent=name not in part._non_persistent_buffers_set
            )


def _codec_part(codec: Codec, name: str) -> nn.Module:
    part = getattr(codec, name, None)
    if not isinstance(part, nn.Module):
        raise ConfigError(
            f"freeze: the codec has no part {name!r}; parts: "
            f"{[n for n, _ in codec.named_children()]}."
        )
    return part


def _load_initial_weights(codec: Codec, path: str, parts: list[str] | None) -> None:
    """Start from a saved codec's weights, all of them or only ``parts`` (for instance
    ``[encoder, quantizer]`` under a new decoder); a checkpoint in out_dir still wins."""
    from tokgen.codecs.registry import load_codec

    source = load_codec(path)
    if parts is None:
        if source.config != codec.config:
            raise ConfigError(
                f"init_from={path!r} holds a different architecture than the recipe's codec; "
                "train it with the same codec entry, or name the shared init_parts."
            )
        codec.load_state_dict(source.state_dict())
        return
    if source.token_config != codec.token_config:
        raise ConfigError(
            f"init_parts: {path!r} makes different tokens than the recipe's codec "
            "(only decoder settings may differ)."
        )
    for name in parts:
        _codec_part(codec, name).load_state_dict(_codec_part(source, name).state_dict())


def train_codec(config: CodecTrainConfig) -> Path:
    """Train (or resume) a codec; returns the exported ``out_dir/model`` directory."""
    torch.manual_seed(config.run.seed)
    codec = codec_from_recipe(config.codec)
    if config.init_from is not None and not complete_checkpoints(config.run.out_dir):
        _load_initial_weights(codec, config.init_from, config.init_parts)  # resuming skips it
    dataset = AudioSegmentDataset(
        config.data.train, codec.sample_rate, codec.channels, config.data.segment_seconds
    )
    if dataset.segment % codec.hop_length:
        raise ConfigError(
            f"data.segment_seconds={config.data.segment_seconds} is not a whole number of "
            f"{codec.hop_length}-sample frames at {codec.sample_rate} Hz."
        )
    task = CodecTask(config, codec)
    trainer = Trainer(
        config.run,
        config.optim,
        task.modules(),
        dataset,
        batch_size=config.data.batch_size,
        num_workers=config.data.num_workers,
        config=asdict(config),
    )
    export = Path(config.run.out_dir) / MODEL_DIR
    trainer.fit(task.train_step, on_save=lambda t: t.unwrap("codec").save_pretrained(export))
    return export
