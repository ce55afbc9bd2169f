"""A labelled spoken set for turn-taking (issue 15): the kinds of the issue's table, generated.

Every case is 16 kHz mono PCM16 with exact labels: the spans where the caller speaks (or a
noise sounds), where the bot is speaking, and the words of each span. Speech is eSpeak NG
(the library bundled by ``espeakng-loader``) in several voices and rates, trimmed to its voiced
extent so that the labels are exact to the sample; noises are synthesized. Deterministic for a
seed; nothing is written to the repo (``--out DIR`` writes WAVs and a labels JSON to look at).

    python -m benchmarks.turn_set --out /tmp/turnset       # write the set
    python -m benchmarks.turn_eval                          # generate in memory and score

The texts are not the ones the policies were written against; change ``--seed`` to draw other
voices, rates, pauses and noise levels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from voice_server.voice.providers.base import VoiceOptions
from voice_server.voice.providers.espeak_tts import EspeakTTS

RATE = 16_000
VOICES = ("en-us+klatt", "en-us", "en+f3", "en-gb", "en-us+m3", "en+f2")
LEAD_MS = 600  # quiet line before the first sound
TAIL_MS = 2500  # quiet line after the last sound: longer than any fallback

# A question cut where people pause: mid-clause (ends on a word that needs more) and after a
# comma (the first part sounds final on its own). Each part is spoken as its own sentence, so
# its contour falls as if the caller had finished.
PAUSED: tuple[tuple[str, str, str], ...] = (
    ("mid", "Can I book a table for", "four people on Friday evening?"),
    ("mid", "I would like to change the address on my", "account, please."),
    ("mid", "Is it possible to pay with a card and", "get the receipt by email?"),
    ("mid", "What is the price of the", "blue jacket in medium?"),
    ("mid", "Do you deliver to the", "north side of the city?"),
    ("mid", "My order number is, um", "four five seven two."),
    ("mid", "Could you tell me if the", "pharmacy is open late tonight?"),
    ("mid", "I bought a lamp last week but", "it does not turn on."),
    ("mid", "How long does it take to get from the station to", "the museum?"),
    ("mid", "Can you send me the forms and", "the list of documents I need?"),
    ("comma", "Hello.", "what time do you close on Sunday?"),
    ("comma", "I have a question about my bill.", "why was I charged twice?"),
    ("comma", "Yes, the booking is for tomorrow.", "can I add one more person?"),
    ("comma", "So I moved house last month.", "do I need to tell you the new address?"),
    ("comma", "Okay, thanks.", "and what about parking near the hotel?"),
    ("comma", "I tried to log in this morning.", "it says my password is wrong."),
    ("comma", "Well, it is for my daughter.", "can she use my membership card?"),
    ("comma", "The parcel arrived today.", "but the box was damaged."),
    ("comma", "Right.", "is breakfast included in the price?"),
    ("comma", "I need a taxi.", "to the airport at six in the morning."),
)
BACKCHANNELS = ("mm-hmm", "okay", "yeah", "uh-huh", "right", "sure", "yes", "I see")
INTERRUPTIONS = (
    "Wait.",
    "No, stop, that is wrong.",
    "Sorry, can I ask something else?",
    "Hold on a second.",
    "Actually I meant the other branch.",
    "No no, I need it for Tuesday, not Thursday.",
    "Excuse me, you misheard me.",
    "Stop please.",
    "Can you repeat the last part more slowly?",
    "That is not what I asked, I asked about the opening hours on Saturday.",
)
NOISES = ("cough", "double_cough", "click", "knock", "knocks", "keys") * 2


@dataclass
class Span:
    kind: str  # "speech" or "noise"
    start_ms: float
    end_ms: float
    words: str = ""


@dataclass
class Case:
    """One file: what is in it, and what the turn-taking should do with it."""

    name: str
    kind: str  # pause | question | backchannel | noise_bot | noise_idle | interrupt | onset
    spans: list[Span]
    bot_speaking: tuple[float, float] | None = None  # the bot's reply plays over this span
    noise_onset_ms: float | None = None  # background noise from here to the end
    detail: dict[str, object] = field(default_factory=dict)
    pcm: bytes = b""

    @property
    def speech(self) -> list[Span]:
        return [s for s in self.spans if s.kind == "speech"]

    def labels(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("pcm")
        return data


class _Voice:
    def __init__(self) -> None:
        self._tts = EspeakTTS()

    async def say(self, text: str, voice: str, speed: float) -> np.ndarray:
        options = VoiceOptions(voice=voice, speed=speed)
        chunks = [c async for c in self._tts.synthesize(text, sample_rate=RATE, options=options)]
        audio = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float32)
        return _trim(audio)

    async def aclose(self) -> None:
        await self._tts.aclose()


def _trim(audio: np.ndarray) -> np.ndarray:
    """Cut eSpeak's leading and trailing silence: the labels are the voiced extent."""
    loud = np.flatnonzero(np.abs(audio) > 300)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0] : loud[-1] + 1]


def _ms(samples: int) -> float:
    return samples * 1000 / RATE


def _n(ms: float) -> int:
    return int(round(ms * RATE / 1000))


def _level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
    return audio if rms == 0 else audio * (32768 * 10 ** (dbfs / 20) / rms)


def _stretch(audio: np.ndarray, target_ms: float) -> np.ndarray:
    """Resample to a length (a backchannel of 300-400 ms); the pitch moves a little."""
    n = _n(target_ms)
    return np.interp(np.linspace(0, audio.size - 1, n), np.arange(audio.size), audio)


def _noise_burst(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A cough, a click, a knock or keys: short, loud, broadband or thumping; no words."""
    if kind in ("cough", "double_cough"):
        parts = []
        for _ in range(2 if kind == "double_cough" else 1):
            dur = rng.uniform(0.18, 0.32)
            t = np.arange(_n(dur * 1000)) / RATE
            env = np.exp(-t / (dur / 4)) * (1 - np.exp(-t / 0.01))
            white = rng.normal(size=t.size)
            # A throat resonance: smooth the noise (a low-passed burst) plus a weak voiced buzz.
            smooth = np.convolve(white, np.ones(6) / 6, mode="same")
            buzz = 0.3 * np.sin(2 * np.pi * rng.uniform(120, 220) * t)
            parts.append((smooth + buzz) * env)
            parts.append(np.zeros(_n(rng.uniform(120, 200))))
        return _level(np.concatenate(parts[:-1]), -14)
    if kind == "click":
        click = np.zeros(_n(rng.uniform(15, 40)))
        click[: _n(3)] = rng.normal(size=_n(3))
        return _level(click, -12)
    hits = {"knock": 1, "knocks": 3, "keys": 6}[kind]
    parts = []
    for _ in range(hits):
        dur = rng.uniform(0.06, 0.12)
        t = np.arange(_n(dur * 1000)) / RATE
        if kind == "keys":
            tone = rng.normal(size=t.size) * np.sin(2 * np.pi * 3000 * t)
        else:
            tone = np.sin(2 * np.pi * rng.uniform(90, 180) * t) + 0.3 * rng.normal(size=t.size)
        parts.append(tone * np.exp(-t / (dur / 5)))
        parts.append(np.zeros(_n(rng.uniform(90, 180))))
    return _level(np.concatenate(parts[:-1]), -12)


def _background(rng: np.random.Generator, n: int, dbfs: float) -> np.ndarray:
    """Street/fan noise: brown-ish noise with a mains hum and a slow level wobble."""
    white = rng.normal(size=n)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(800) / 800, mode="same")  # no DC drift
    t = np.arange(n) / RATE
    hum = 0.2 * np.sin(2 * np.pi * 50 * t) * brown.std()
    babble = np.convolve(white, np.ones(3) / 3, mode="same") * brown.std() * 0.5
    wobble = 1 + 0.3 * np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 6.28))
    return _level((brown + hum + babble) * wobble, dbfs)


class _Builder:
    def __init__(self, name: str, kind: str) -> None:
        self.case = Case(name, kind, [])
        self._audio: list[np.ndarray] = []
        self._at = 0

    def gap(self, ms: float) -> None:
        self._audio.append(np.zeros(_n(ms)))
        self._at += _n(ms)

    def add(self, audio: np.ndarray, kind: str, words: str = "") -> Span:
        span = Span(kind, _ms(self._at), _ms(self._at + audio.size), words)
        self._audio.append(audio)
        self._at += audio.size
        self.case.spans.append(span)
        return span

    def done(self, rng: np.random.Generator, noise_at_ms: float | None, noise_db: float) -> Case:
        audio = np.concatenate(self._audio)
        if noise_at_ms is not None:
            start = _n(noise_at_ms)
            audio[start:] += _background(rng, audio.size - start, noise_db)
        self.case.noise_onset_ms = noise_at_ms
        self.case.pcm = np.clip(audio, -32768, 32767).astype("<i2").tobytes()
        return self.case


def _words(text: str) -> str:
    return " ".join(w.strip(".,?!").lower() for w in text.split())


async def build(seed: int = 15) -> list[Case]:
    rand = random.Random(seed)
    rng = np.random.default_rng(seed)
    voice = _Voice()
    cases: list[Case] = []

    def pick() -> tuple[str, float]:
        return rand.choice(VOICES), rand.choice((0.85, 1.0, 1.15, 1.3))

    speech_db = -20.0
    try:
        for i, (split, first, second) in enumerate(PAUSED):
            name, speed = pick()
            b = _Builder(f"pause-{i:02d}", "pause")
            b.gap(LEAD_MS)
            b.add(_level(await voice.say(first, name, speed), speech_db), "speech", _words(first))
            pause = rand.uniform(350, 700)
            b.gap(pause)
            b.add(_level(await voice.say(second, name, speed), speech_db), "speech", _words(second))
            b.gap(TAIL_MS)
            b.case.detail = {"split": split, "pause_ms": round(pause), "voice": name}
            b.case.detail["speed"] = speed
            cases.append(b.done(rng, None, -60))

        for i, text in enumerate(BACKCHANNELS):
            name, speed = pick()
            b = _Builder(f"backchannel-{i}", "backchannel")
            b.gap(LEAD_MS + rand.uniform(0, 800))
            target = rand.uniform(300, 400)
            said = _stretch(await voice.say(text, name, speed), target)
            b.add(_level(said, speech_db), "speech", _words(text))
            b.gap(TAIL_MS)
            b.case.bot_speaking = (0.0, _ms(b._at))
            b.case.detail = {"ms": round(target), "voice": name}
            cases.append(b.done(rng, None, -60))

        for where in ("bot", "idle"):
            for i, noise in enumerate(NOISES):
                b = _Builder(f"noise-{where}-{i:02d}", f"noise_{where}")
                b.gap(LEAD_MS + rand.uniform(0, 800))
                b.add(_noise_burst(rng, noise), "noise", "")
                b.gap(TAIL_MS)
                if where == "bot":
                    b.case.bot_speaking = (0.0, _ms(b._at))
                b.case.detail = {"noise": noise}
                cases.append(b.done(rng, None, -60))

        for noisy in (False, True):
            for i, text in enumerate(INTERRUPTIONS):
                name, speed = pick()
                b = _Builder(f"interrupt-{'noisy' if noisy else 'clean'}-{i}", "interrupt")
                b.gap(LEAD_MS + 1500)
                said = await voice.say(text, name, speed)
                if said.size > _n(3000):
                    said = said[: _n(3000)]
                b.add(_level(said, speech_db), "speech", _words(text))
                b.gap(TAIL_MS)
                b.case.bot_speaking = (0.0, _ms(b._at))
                snr = rand.uniform(8, 15)
                b.case.detail = {"noisy": noisy, "snr_db": round(snr, 1) if noisy else None}
                cases.append(b.done(rng, 700.0 if noisy else None, speech_db - snr))

        for i in range(8):
            b = _Builder(f"onset-{i}", "onset")
            b.gap(6000)
            b.case.detail = {"noise_db": -20 - 3 * i}
            cases.append(b.done(rng, rand.uniform(1500, 3000), -20.0 - 3 * i))
    finally:
        await voice.aclose()
    return cases


def write(cases: list[Case], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for case in cases:
        with wave.open(str(out / f"{case.name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(case.pcm)
    (out / "labels.json").write_text(json.dumps([c.labels() for c in cases], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    cases = asyncio.run(build(args.seed))
    write(cases, args.out)
    print(f"{len(cases)} cases in {args.out}")


if __name__ == "__main__":
    main()
