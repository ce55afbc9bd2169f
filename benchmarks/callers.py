"""Run N callers against a running Parley and print their results as JSON (a separate process,
so that the callers' own work does not load the server's event loop).

    python -m benchmarks.callers --ws-url ws://... --bot-id ... --key ... --origin ... -n 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from dataclasses import asdict
from uuid import UUID

from benchmarks.caller import call
from benchmarks.speech import utterances


async def run(args: argparse.Namespace) -> list[dict[str, object]]:
    speech = await utterances()
    turns = speech[: args.turns]
    rng = random.Random(7)

    async def one(index: int) -> dict[str, object]:
        # Spread the starts over a second, as real callers do not arrive in lockstep.
        await asyncio.sleep(rng.random() * min(1.0, args.callers / 50))
        try:
            result = await call(args.ws_url, UUID(args.bot_id), turns, key=args.key,
                                origin=args.origin)  # fmt: skip
            return {"caller": index, **asdict(result)}
        except Exception as exc:
            return {"caller": index, "turns": [], "errors": [{"code": type(exc).__name__,
                                                               "message": str(exc)}]}  # fmt: skip

    return list(await asyncio.gather(*(one(i) for i in range(args.callers))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws-url", required=True)
    parser.add_argument("--bot-id", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("-n", "--callers", type=int, default=1)
    parser.add_argument("--turns", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
