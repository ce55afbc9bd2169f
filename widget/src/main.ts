// Entry point. In a page: read the <script> tag's attributes, define <parley-chat>, mount it
// and expose window.Parley. In an AudioWorkletGlobalScope (the widget loads this same file as
// its worklet module): register the audio processors.

import { inWorkletScope, registerProcessors } from "./voice/worklets";
import { ParleyChat, type WidgetOptions } from "./widget";

interface ParleyApiGlobal {
  open(): void;
  close(): void;
  startCall(): Promise<void>;
  endCall(): Promise<void>;
  on(event: string, handler: (detail: unknown) => void): () => void;
  element: ParleyChat;
}

function boot(): void {
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script) return;
  const d = script.dataset;
  const botId = d.botId ?? d.parleyBot ?? "";
  const key = d.key ?? d.parleyKey ?? "";
  if (!botId || !key) {
    console.warn("parley.js: data-bot-id and data-key are required");
    return;
  }
  const opts: WidgetOptions = {
    base: d.server ?? new URL(script.src).origin,
    botId,
    key,
    lang: d.lang ?? null,
    nonce: script.nonce || script.getAttribute("nonce") || "",
    moduleUrl: script.src,
    launcher: d.launcher !== "false",
  };
  if (!customElements.get("parley-chat")) customElements.define("parley-chat", ParleyChat);
  const mount = () => {
    let el = document.querySelector("parley-chat") as ParleyChat | null;
    if (!el) {
      el = document.createElement("parley-chat") as ParleyChat;
      document.body.append(el);
    }
    el.configure(opts);
    const api: ParleyApiGlobal = {
      open: () => el!.open(),
      close: () => el!.close(),
      startCall: () => el!.startCall(),
      endCall: () => el!.endCall(),
      on: (event, handler) => {
        const listener = (e: Event) => handler((e as CustomEvent).detail);
        el!.addEventListener(`parley:${event}`, listener);
        return () => el!.removeEventListener(`parley:${event}`, listener);
      },
      element: el,
    };
    (window as unknown as { Parley: ParleyApiGlobal }).Parley = api;
    if (d.open === "true") el.open();
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
}

if (inWorkletScope()) registerProcessors();
else boot();
