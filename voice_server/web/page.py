"""The demo page at ``/``: the widget for the demo bot and the snippet that put it there, served
under a strict Content-Security-Policy (the same one the browser tests hold the widget to)."""

from __future__ import annotations

import html
import secrets

from voice_server.web.bundle import SCRIPT_PATH, WidgetBundle


def embed_tag(
    base_url: str, bot_id: str, key: str, bundle: WidgetBundle | None, nonce: str | None = None
) -> str:
    """The ``<script>`` tag a website pastes: the versioned URL with its SRI hash when the
    bundle is known (cacheable for a year), else the plain URL."""
    base = base_url.rstrip("/")
    attrs = [f'src="{html.escape(base + (bundle.versioned_path if bundle else SCRIPT_PATH))}"']
    if bundle is not None:
        attrs += [f'integrity="{bundle.integrity}"', 'crossorigin="anonymous"']
    if nonce:
        attrs.append(f'nonce="{nonce}"')
    attrs += [f'data-bot-id="{html.escape(bot_id)}"', f'data-key="{html.escape(key)}"', "async"]
    return f"<script {' '.join(attrs)}></script>"


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'nonce-{nonce}'",  # parley.js and its audio worklets
            f"style-src 'nonce-{nonce}'",  # the page's own <style>; the widget adopts its sheet
            "connect-src 'self'",  # chat, config, the voice WebSocket (same host)
            "img-src 'self' data:",
            "media-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def demo_page(*, tag: str, snippet: str, nonce: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>Parley demo</title>
<link rel="icon" href="data:,">
<style nonce="{nonce}">
  body {{ font: 16px/1.55 system-ui, sans-serif; color: #1f2328; max-width: 46rem;
         margin: 3rem auto; padding: 0 1.25rem; }}
  h1 {{ font-size: 1.9rem; margin-bottom: .25rem; }}
  pre {{ background: #f6f8fa; padding: 1rem; overflow-x: auto; border-radius: 8px;
        white-space: pre-wrap; word-break: break-all; }}
  code {{ font-size: .85rem; }}
</style>
</head>
<body>
<main>
<h1>Parley demo</h1>
<p>This server runs a demo bot that knows a little about Parley itself. Press
<strong>Talk to Parley</strong> at the bottom right, then <strong>Call</strong> to talk to it, or
type a question. No keys and no account needed: speech recognition, the voice and the answers
run offline on this machine.</p>
<h2>Put it on your website</h2>
<p>This is the snippet that puts the widget on this page. Your own bot's snippet comes from
<code>GET /v1/bots/{{bot_id}}/embed</code>; paste it before <code>&lt;/body&gt;</code>.</p>
<pre><code>{html.escape(snippet)}</code></pre>
<p>The API is documented at <a href="/schema">/schema</a>.</p>
</main>
{tag}
</body>
</html>
"""
