// Parley's HTTP API as the widget uses it: the bot's public config, text chat over SSE,
// feedback and voice session tokens. Every failure becomes an ApiError with a kind the UI turns
// into a message; nothing here touches the DOM.

import { SseParser } from "./sse";

export type ErrorKind =
  | "origin" // 403: the key may not be used from this page's origin
  | "key" // 401: unknown or revoked key
  | "quota" // 402: the plan's limit is reached
  | "rate" // 429: too many requests; retryAfter says when to retry
  | "busy" // all voice lines in use
  | "invalid" // 400: e.g. a message that is too long
  | "unavailable" // 503 `unavailable`: the bot cannot take calls now (plan or visitor allowance)
  | "network" // offline or unreachable
  | "server"; // anything else

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly retryAfter: number | null = null,
    readonly status = 0,
  ) {
    super(message);
  }
}

export function kindForStatus(status: number, code?: string): ErrorKind {
  if (code === "quota_exceeded" || status === 402) return "quota";
  if (status === 401) return "key";
  if (status === 403) return "origin";
  if (status === 429 || code === "rate-limited" || code === "rate_limited") return "rate";
  if (status === 400 || status === 413 || status === 422) return "invalid";
  if (code === "unavailable") return "unavailable";
  return "server";
}

export interface Appearance {
  primary_color?: string;
  text_color?: string;
  position?: "bottom-right" | "bottom-left";
  title?: string;
  avatar_url?: string | null;
  launcher_text?: string;
}

export interface PublicBot {
  id: string;
  name: string;
  greeting: string;
  language: string;
  appearance: Appearance;
  starter_questions: string[];
}

export interface Citation {
  title: string;
  url: string | null;
}

export interface ChatHandlers {
  conversation(id: string): void;
  delta(text: string): void;
  done(result: { text: string; messageId: string | null; citations: Citation[] }): void;
}

export class ParleyApi {
  constructor(
    readonly base: string,
    readonly botId: string,
    readonly key: string,
  ) {}

  private async request(path: string, init: RequestInit, keyHeader = true): Promise<Response> {
    let response: Response;
    const headers: Record<string, string> = keyHeader ? { "X-Parley-Key": this.key } : {};
    try {
      response = await fetch(this.base + path, {
        ...init,
        credentials: "omit",
        headers: { ...headers, ...((init.headers as Record<string, string>) ?? {}) },
      });
    } catch {
      throw new ApiError("network", "network unreachable");
    }
    if (!response.ok) throw await problem(response);
    return response;
  }

  async publicConfig(): Promise<PublicBot> {
    // The key in the query keeps this GET a "simple" request: no CORS preflight on page load.
    const path = `/v1/bots/${this.botId}/public?key=${encodeURIComponent(this.key)}`;
    return (await (await this.request(path, { method: "GET" }, false)).json()) as PublicBot;
  }

  /** A short-lived single-use voice token, or null when this server has no token endpoint. */
  async sessionToken(): Promise<string | null> {
    try {
      const r = await this.request(`/v1/bots/${this.botId}/sessions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ transport: "websocket" }),
      });
      const body = (await r.json()) as { token?: string };
      return body.token ?? null;
    } catch (err) {
      if (err instanceof ApiError && err.message === "404") return null;
      // 503 here: the bot cannot take calls now (plan or the visitor's allowance; no details).
      if (err instanceof ApiError && err.status === 503) throw new ApiError("unavailable", err.message);
      throw err;
    }
  }

  async feedback(messageId: string, rating: "up" | "down"): Promise<void> {
    await this.request("/v1/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message_id: messageId, rating }),
    });
  }

  async chat(
    message: string,
    conversationId: string | null,
    visitorId: string,
    handlers: ChatHandlers,
    signal: AbortSignal,
  ): Promise<void> {
    const body: Record<string, string> = { message, visitor_id: visitorId };
    if (conversationId) body.conversation_id = conversationId;
    const response = await this.request(`/v1/bots/${this.botId}/chat`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal,
    });
    if (!response.body) throw new ApiError("server", "no body");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    let finished = false;
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch {
          throw new ApiError("network", "stream broken");
        }
        if (chunk.done) break;
        for (const ev of parser.feed(chunk.value)) {
          const data = JSON.parse(ev.data) as Record<string, unknown>;
          if (ev.event === "conversation") handlers.conversation(String(data.conversation_id ?? data.id));
          else if (ev.event === "delta") handlers.delta(String(data.text ?? ""));
          else if (ev.event === "done") {
            finished = true;
            handlers.done({
              text: String(data.text ?? ""),
              messageId: (data.message_id as string | undefined) ?? null,
              citations: citations(data.citations),
            });
          } else if (ev.event === "error") {
            const status = Number(data.status ?? 500);
            throw new ApiError(
              kindForStatus(status, data.code as string | undefined),
              String(data.detail ?? "error"),
              typeof data.retry_after_s === "number" ? data.retry_after_s : null,
            );
          }
        }
      }
    } finally {
      reader.releaseLock();
    }
    if (!finished) throw new ApiError("network", "the answer was cut off");
  }
}

function citations(value: unknown): Citation[] {
  if (!Array.isArray(value)) return [];
  const seen = new Set<string>();
  const out: Citation[] = [];
  for (const c of value as Record<string, unknown>[]) {
    const title = String(c.title ?? c.document_title ?? "Source");
    const url = typeof c.url === "string" && /^https?:\/\//.test(c.url) ? c.url : null;
    const key = `${title}|${url}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ title, url });
    }
  }
  return out;
}

async function problem(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  const retry = Number(response.headers.get("Retry-After") ?? body.retry_after_s ?? NaN);
  // Problem documents name their kind in `type` (…/unavailable); socket errors use `code`.
  const slug = typeof body.type === "string" ? body.type.split("/").pop() : undefined;
  const kind = kindForStatus(response.status, (body.code as string | undefined) ?? slug);
  // 404/405 on the token route: a server from before session tokens (the caller falls back).
  const missing = response.status === 404 || response.status === 405;
  const message = missing ? "404" : String(body.detail ?? body.title ?? response.status);
  return new ApiError(kind, message, Number.isFinite(retry) ? retry : null, response.status);
}
