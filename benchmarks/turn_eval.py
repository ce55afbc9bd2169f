"""Score turn-taking policies on the labelled set of :mod:`benchmarks.turn_set` (issue 15).

Runs the sans-I/O core the server runs (``UtteranceSegmenter`` + ``TurnController`` with a
``TurnTaking``), fed 20 ms frames on a fake clock: time is stream time, so a file takes no wall
time and the figures do not depend on how busy the machine is. STT is an oracle with zero
latency, as the WebSocket benchmarks' vendor fakes: when a chunk is cut, the partial transcript
becomes the labelled words of the speech that ended before the cut. The latency line is the
end-of-turn decision (speech end to the decided end of turn); on the WebSocket with
zero-latency fakes the first reply audio follows it by the pipeline's few ms.

    python -m benchmarks.turn_eval [--seed 15] [--policy old old400 evidence]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.turn_set import Case, build
from voice_server.voice.endpointing import EvidenceEndOfTurn
from voice_server.voice.engine.listener import TurnTaking
from voice_server.voice.policies import MinSpeechBargeIn, SilenceEndOfTurn
from voice_server.voice.silero import SileroVad
from voice_server.voice.turn import BargeIn, TurnController, UserSpeechStarted, UserTurnEnded
from voice_server.voice.vad import SegmenterConfig, SpeechChunk, UtteranceSegmenter, WebRtcVad

FRAME_MS = 20
FRAME_BYTES = 16_000 // 1000 * FRAME_MS * 2

POLICIES: dict[str, Callable[[], TurnTaking]] = {
    "old": lambda: TurnTaking(WebRtcVad(2), SilenceEndOfTurn(700), MinSpeechBargeIn(300)),
    "old400": lambda: TurnTaking(WebRtcVad(2), SilenceEndOfTurn(400), MinSpeechBargeIn(300)),
    "evidence": lambda: TurnTaking(WebRtcVad(2), EvidenceEndOfTurn(), MinSpeechBargeIn(300)),
    "silero": lambda: TurnTaking(SileroVad(), SilenceEndOfTurn(700), MinSpeechBargeIn(300)),
    "silero+evidence": lambda: TurnTaking(SileroVad(), EvidenceEndOfTurn(), MinSpeechBargeIn(300)),
}


@dataclass
class Run:
    """What the core did with one file."""

    started: list[float] = field(default_factory=list)  # user speech start (stream ms)
    ended: list[UserTurnEnded] = field(default_factory=list)
    barge_ins: list[float] = field(default_factory=list)  # stream ms the bot was stopped


def run(case: Case, turn_taking: TurnTaking) -> Run:
    segmenter = UtteranceSegmenter(SegmenterConfig(), turn_taking.vad, turn_taking.end_of_turn)
    turns = TurnController(turn_taking.barge_in)
    if case.bot_speaking is not None:
        turns.bot_turn()
        turns.reply_speaking()
    out = Run()
    pcm = case.pcm
    for i in range(len(pcm) // FRAME_BYTES):
        at = i * FRAME_MS
        for vad_event in segmenter.feed(pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES], at):
            if isinstance(vad_event, SpeechChunk) and not vad_event.final:
                words = [s.words for s in case.speech if s.end_ms <= vad_event.end_ms]
                segmenter.hint = turns.hint = " ".join(w for w in words if w)
            for event in turns.feed(vad_event):
                match event:
                    case UserSpeechStarted(at_ms=started):
                        out.started.append(started)
                    case BargeIn():
                        out.barge_ins.append(at + FRAME_MS)
                    case UserTurnEnded():
                        out.ended.append(event)
                        turns.reply_finished()  # answered at once: listening again
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def score(cases: list[Case], make: Callable[[], TurnTaking]) -> dict[str, str]:
    by_kind: dict[str, list[tuple[Case, Run]]] = {}
    for case in cases:
        by_kind.setdefault(case.kind, []).append((case, run(case, make())))
    rows: dict[str, str] = {}

    pauses = by_kind["pause"]
    cut = [c for c, r in pauses if any(e.decided_ms < c.speech[-1].start_ms for e in r.ended)]
    cut_mid = sum(1 for c in cut if c.detail["split"] == "mid")
    rows["questions with a 350-700 ms pause inside, cut off"] = (
        f"{len(cut)}/{len(pauses)} (mid-clause {cut_mid}, after a full stop {len(cut) - cut_mid})"
    )
    waits = [
        e.decided_ms - c.speech[-1].end_ms
        for c, r in pauses
        for e in r.ended
        if e.decided_ms >= c.speech[-1].end_ms
    ][: len(pauses)]
    rules: dict[str, int] = {}
    for _, r in pauses:
        for e in r.ended:
            rules[e.rule] = rules.get(e.rule, 0) + 1
    rows["speech end -> end of turn decided, p50 / p90"] = (
        f"{_pct(waits, 0.5):.0f} / {_pct(waits, 0.9):.0f} ms (rules: "
        + ", ".join(f"{k} {v}" for k, v in sorted(rules.items()))
        + ")"
    )
    bc = by_kind["backchannel"]
    rows["backchannels (300-400 ms) that stop the bot"] = (
        f"{sum(1 for _, r in bc if r.barge_ins)}/{len(bc)}"
    )
    nb = by_kind["noise_bot"]
    rows["coughs, clicks, knocks that stop the bot"] = (
        f"{sum(1 for _, r in nb if r.barge_ins)}/{len(nb)}"
    )
    for noisy in (False, True):
        runs = [(c, r) for c, r in by_kind["interrupt"] if c.detail["noisy"] is noisy]
        # Stopped by this speech: a barge-in after the speech began (noise may stop it earlier).
        stops = [
            min(b for b in r.barge_ins if b >= c.speech[0].start_ms) - c.speech[0].start_ms
            for c, r in runs
            if any(b >= c.speech[0].start_ms for b in r.barge_ins)
        ]
        early = sum(1 for c, r in runs if any(b < c.speech[0].start_ms for b in r.barge_ins))
        p95 = _pct(stops, 0.95)
        line = f"real interruptions detected, stop p95 from speech start ({_noisy(noisy)})"
        rows[line] = f"{len(stops)}/{len(runs)}; {'-' if p95 is None else f'{p95:.0f} ms'}" + (
            f"; {early} stopped by the noise before the speech" if early else ""
        )
    onset = by_kind["onset"]
    taken = [
        r.started[0] - c.noise_onset_ms
        for c, r in onset
        if r.started and c.noise_onset_ms is not None
    ]
    rows["noise onset on a quiet line taken as the caller speaking"] = (
        f"{len(taken)}/{len(onset)}"
        + (f", median {statistics.median(taken):.0f} ms after onset" if taken else "")
    )
    ni = by_kind["noise_idle"]
    rows["coughs and knocks while the bot is idle that became user turns"] = (
        f"{sum(1 for _, r in ni if r.ended)}/{len(ni)}"
    )
    return rows


def _noisy(noisy: bool) -> str:
    return "noisy" if noisy else "clean"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--policy", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    args = parser.parse_args()
    cases = asyncio.run(build(args.seed))
    results = {name: score(cases, POLICIES[name]) for name in args.policy}
    lines = next(iter(results.values()))
    print("| | " + " | ".join(args.policy) + " |")
    print("|---|" + "---|" * len(args.policy))
    for line in lines:
        print(f"| {line} | " + " | ".join(results[p][line] for p in args.policy) + " |")


if __name__ == "__main__":
    main()
