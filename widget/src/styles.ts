// The widget's stylesheet, adopted by its shadow root as a constructable stylesheet (no <style>
// element, so a strict style-src needs no exception). Colours come from the bot's appearance
// through custom properties set with the CSSOM, which CSP allows.

export const CSS = `
:host { all: initial; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
button, textarea { font: inherit; }
button { cursor: pointer; border: 0; border-radius: 8px; }
:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.launcher { position: fixed; bottom: max(20px, env(safe-area-inset-bottom)); z-index: 2147483000;
  display: flex; align-items: center; gap: 8px; padding: 12px 18px; border-radius: 999px;
  background: var(--p-primary); color: var(--p-text); box-shadow: 0 4px 16px rgb(0 0 0 / .25); font-weight: 600; }
.right .launcher, .right .panel { right: max(20px, env(safe-area-inset-right)); }
.left .launcher, .left .panel { left: max(20px, env(safe-area-inset-left)); }
.launcher img, header img { width: 28px; height: 28px; border-radius: 50%; object-fit: cover; }
.panel { position: fixed; bottom: max(20px, env(safe-area-inset-bottom)); z-index: 2147483001;
  width: 380px; max-width: calc(100vw - 40px); height: 600px; max-height: calc(100vh - 40px);
  display: flex; flex-direction: column; background: #fff; border-radius: 14px; overflow: hidden;
  box-shadow: 0 12px 40px rgb(0 0 0 / .3); transition: opacity .15s ease, transform .15s ease; }
.panel[hidden] { display: none; }
header { display: flex; align-items: center; gap: 10px; padding: 12px 14px; background: var(--p-primary); color: var(--p-text); }
header h2 { flex: 1; margin: 0; font-size: 16px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
header button { background: transparent; color: var(--p-text); padding: 6px 10px; border: 1px solid currentColor; }
header .x { border: 0; font-size: 20px; line-height: 1; }
.log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; }
.msg { max-width: 88%; }
.msg.user { align-self: flex-end; }
.bubble { padding: 9px 12px; border-radius: 12px; background: #f1f3f5; overflow-wrap: anywhere; }
.user .bubble { background: var(--p-primary); color: var(--p-text); }
.bubble p { margin: 0 0 6px; } .bubble p:last-child { margin: 0; }
.bubble ul, .bubble ol { margin: 4px 0; padding-left: 20px; }
.bubble a { color: #1d4ed8; } .user .bubble a { color: inherit; }
.bubble code { background: rgb(0 0 0 / .07); padding: 0 3px; border-radius: 4px; }
.sources { margin: 4px 0 0; padding: 0; list-style: none; font-size: 13px; color: #4b5563; }
.sources li::before { content: "↗ "; }
.sources a { color: #1d4ed8; }
.rate { display: flex; gap: 4px; margin-top: 4px; }
.rate button { background: transparent; color: #4b5563; padding: 2px 8px; border: 1px solid #d0d7de; }
.rate button[aria-pressed="true"] { background: #e8eefc; color: #1d4ed8; border-color: #1d4ed8; }
.starters { display: flex; flex-wrap: wrap; gap: 6px; }
.starters button { background: #fff; color: #1d4ed8; border: 1px solid #1d4ed8; border-radius: 999px; padding: 4px 10px; font-size: 13px; }
.alert:empty { display: none; }
.alert { margin: 0 14px 8px; padding: 8px 10px; border-radius: 8px; background: #fdecea; color: #8a1c12; font-size: 14px; }
.alert button { margin-left: 8px; background: #8a1c12; color: #fff; padding: 3px 10px; }
.call { padding: 10px 14px; border-top: 1px solid #e5e7eb; display: flex; flex-direction: column; gap: 8px; }
.call[hidden] { display: none; }
.call .status { font-size: 13px; color: #4b5563; margin: 0; }
.meter { height: 6px; background: #e5e7eb; border-radius: 3px; overflow: hidden; }
.meter span { display: block; height: 100%; width: var(--level, 0%); background: #15803d; transition: width .08s linear; }
.captions { min-height: 2.9em; margin: 0; font-size: 14px; }
.captions .who { font-weight: 600; }
.call .row { display: flex; gap: 8px; }
.call .row button { flex: 1; padding: 8px; background: #f1f3f5; color: #1f2328; }
.call .row .hang { background: #b91c1c; color: #fff; }
form { display: flex; gap: 8px; padding: 10px 14px; border-top: 1px solid #e5e7eb; }
textarea { flex: 1; resize: none; border: 1px solid #8c959f; border-radius: 8px; padding: 8px; max-height: 120px; color: #1f2328; background: #fff; }
form button { background: var(--p-primary); color: var(--p-text); padding: 0 14px; }
button:disabled, textarea:disabled { opacity: .6; cursor: not-allowed; }
@media (max-width: 520px) {
  .right .panel, .left .panel { inset: 0; width: 100%; max-width: none; height: 100%; max-height: none; border-radius: 0;
    padding: env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left); }
}
@media (prefers-reduced-motion: reduce) {
  * { transition: none !important; animation: none !important; }
}
`;
