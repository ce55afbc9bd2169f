"""Synthetic signals for the voice tests: tones and silence as mono PCM16."""

from __future__ import annotations

import numpy as np


def tone(ms: float, rate: int = 16_000, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    n = int(rate * ms / 1000)
    t = np.arange(n) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype("<i2").tobytes()


def silence(ms: float, rate: int = 16_000) -> bytes:
    return b"\x00\x00" * int(rate * ms / 1000)


def dominant_frequency(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def speech_like(ms: float, rate: int = 16_000, pitch: float = 150.0) -> bytes:
    """A harmonic-rich buzz that webrtcvad classifies as voiced (a pure tone is not reliably)."""
    n = int(rate * ms / 1000)
    t = np.arange(n) / rate
    wave = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 12))
    return (np.asarray(wave) * 4000).astype("<i2").tobytes()
