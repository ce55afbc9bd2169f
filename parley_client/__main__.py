"""`python -m parley_client`: the README's walkthrough from a shell.

The server is $PARLEY_URL (default http://127.0.0.1:8000); the credential is $PARLEY_TOKEN (a
user access token, as printed by `signup`, or a secret key)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from parley_client.client import ParleyClient
from parley_client.errors import ParleyClientError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m parley_client", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    signup = commands.add_parser("signup", help="create an organisation; print its access token")
    signup.add_argument("email")
    signup.add_argument("password")
    signup.add_argument("organisation")
    bot = commands.add_parser("bot", help="create a bot; print its id")
    bot.add_argument("name")
    bot.add_argument("--greeting", default="")
    upload = commands.add_parser("upload", help="add a document and wait until it is ready")
    upload.add_argument("file", type=Path)
    upload.add_argument("--bot")
    ask = commands.add_parser("ask", help="ask a bot in text; the answer streams out")
    ask.add_argument("bot")
    ask.add_argument("message")
    speak = commands.add_parser("speak", help="the server's voice saying a text, to a WAV file")
    speak.add_argument("text")
    speak.add_argument("out", type=Path)
    talk = commands.add_parser("talk", help="ask a bot one spoken question from a WAV file")
    talk.add_argument("bot")
    talk.add_argument("wav", type=Path)
    talk.add_argument("--reply", type=Path, help="write the spoken answer to this WAV file")
    return parser


async def _run(args: argparse.Namespace) -> None:
    url = os.environ.get("PARLEY_URL", "http://127.0.0.1:8000")
    async with ParleyClient(url, api_key=os.environ.get("PARLEY_TOKEN")) as parley:
        if args.command == "signup":
            session = await parley.sign_up(args.email, args.password, args.organisation)
            print(session["access_token"])
        elif args.command == "bot":
            print((await parley.create_bot(args.name, greeting=args.greeting))["id"])
        elif args.command == "upload":
            data = await asyncio.to_thread(args.file.read_bytes)
            document = await parley.upload_document(args.file.name, data, bot_id=args.bot)
            ready = await parley.wait_for_document(document["id"])
            print(f"{ready['id']} {ready['status']}")
        elif args.command == "ask":
            async for event in parley.chat_stream(args.bot, args.message):
                if event.event == "delta":
                    print(event.data["text"], end="", flush=True)
                elif event.event == "error":
                    raise ParleyClientError(str(event.data.get("detail")))
            print()
        elif args.command == "speak":
            audio = await parley.speak(args.text)
            await asyncio.to_thread(args.out.write_bytes, audio)
            print(args.out)
        elif args.command == "talk":
            turn = await parley.talk(args.bot, args.wav)
            print(f"you: {turn.transcript}")
            print(f"bot: {turn.reply_text}")
            if args.reply:
                await asyncio.to_thread(args.reply.write_bytes, turn.reply_wav())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except ParleyClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
