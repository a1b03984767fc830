"""Encoders: one small protocol (texts + role + task -> float32 array) with backends behind it."""

from __future__ import annotations

from harness.encoders.base import Encoder, EncoderConfig, build_encoder

__all__ = ["Encoder", "EncoderConfig", "build_encoder"]
