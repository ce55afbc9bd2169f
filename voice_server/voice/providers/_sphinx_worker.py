"""A pocketsphinx decoder process: ``python -m voice_server.voice.providers._sphinx_worker``.

pocketsphinx holds the GIL while it decodes, so it runs in processes of its own, one decoder
each, driven by :mod:`voice_server.voice.providers.pocketsphinx_stt` over stdin/stdout:

    ready:    b"R" once the model is loaded
    request:  uint32 LE sample rate, uint32 LE byte count, then mono PCM16 little-endian
    response: status byte (b"0" text, b"1" error message), uint32 LE byte count, then UTF-8

The process ends when stdin closes.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import BinaryIO, Final

import numpy as np
from pocketsphinx import Decoder  # type: ignore[import-untyped]

from voice_server.voice.providers._pcm import resample

MODEL_RATE: Final = 16_000  # the bundled acoustic model's sample rate
# Fewer Gaussians per frame and a cap on active HMMs: about 1.5x faster than the defaults with
# the same words on our spoken test sentences, and a bounded worst case on noisy audio.
SEARCH: Final = {"topn": 2, "maxhmmpf": 3000}
# Digital silence (runs of exact zeros, as synthesized or padded audio has) upsets pocketsphinx's
# features; noise far below a microphone's own floor (about -78 dBFS) avoids that, deterministic.
DITHER_AMPLITUDE: Final = 4
# The decoder recognises the first and last words far better with some silence around them,
# and VAD chunks are cut tight.
EDGE_SILENCE: Final = b"\0\0" * (MODEL_RATE * 3 // 10)
HEADER: Final = struct.Struct("<II")
LENGTH: Final = struct.Struct("<I")


def dither(pcm16: bytes) -> bytes:
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.int32)
    noise = np.random.default_rng(0).integers(
        -DITHER_AMPLITUDE, DITHER_AMPLITUDE + 1, size=samples.size
    )
    return np.clip(samples + noise, -32768, 32767).astype("<i2").tobytes()


def decode(decoder: Decoder, pcm16: bytes, sample_rate: int) -> str:
    audio = pcm16 if sample_rate == MODEL_RATE else resample(pcm16, sample_rate, MODEL_RATE)
    decoder.start_utt()
    try:
        decoder.process_raw(dither(EDGE_SILENCE + audio + EDGE_SILENCE), False, True)
    finally:
        decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(requests: BinaryIO, responses: BinaryIO) -> None:
    decoder = Decoder(loglevel="FATAL", **SEARCH)
    responses.write(b"R")
    responses.flush()
    while (header := _read_exactly(requests, HEADER.size)) is not None:
        sample_rate, size = HEADER.unpack(header)
        pcm16 = _read_exactly(requests, size)
        if pcm16 is None:
            return
        try:
            status, payload = b"0", decode(decoder, pcm16, sample_rate).encode("utf-8")
        except Exception as exc:  # report it to the server; the decoder stays usable
            status, payload = b"1", f"{type(exc).__name__}: {exc}".encode()
        responses.write(status + LENGTH.pack(len(payload)) + payload)
        responses.flush()


def main() -> None:
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    responses = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, responses)


if __name__ == "__main__":
    main()
