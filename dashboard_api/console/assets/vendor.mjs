// Copies the pinned npm files the console serves into ../static/vendor (committed), so the
// server needs no network and no build at run time. Run after changing package.json.
import { copyFileSync, mkdirSync } from "node:fs";

const out = new URL("../static/vendor/", import.meta.url);
mkdirSync(out, { recursive: true });
const files = [
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
];
for (const [from, to] of files) {
  copyFileSync(new URL(`./node_modules/${from}`, import.meta.url), new URL(to, out));
}
