// Builds widget/dist/parley.js: one minified, self-contained IIFE (the widget, and the audio
// worklets it loads from its own URL), then prints its size raw and gzipped.
//   node build.mjs           build
//   node build.mjs --check   build to memory and fail if dist/parley.js differs (CI)
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { gzipSync } from "node:zlib";

const check = process.argv.includes("--check");
const LIMIT_GZ = 40 * 1024;
const out = new URL("./dist/parley.js", import.meta.url);

const result = await build({
  entryPoints: [new URL("./src/main.ts", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  legalComments: "none",
  charset: "utf8",
  write: false,
  // Deterministic output: the same sources give the same bytes (CI compares them).
  sourcemap: false,
});
const code = result.outputFiles[0].contents;
const gz = gzipSync(code, { level: 9 }).length;
console.log(`parley.js: ${code.length} bytes, ${gz} bytes gzipped (limit ${LIMIT_GZ})`);
if (gz > LIMIT_GZ) {
  console.error("the widget is over its gzipped size budget");
  process.exit(1);
}
if (check) {
  let committed = null;
  try { committed = readFileSync(out); } catch { /* missing */ }
  if (committed === null || Buffer.compare(committed, Buffer.from(code)) !== 0) {
    console.error("widget/dist/parley.js differs from a fresh build: run `make widget` and commit it");
    process.exit(1);
  }
  console.log("widget/dist/parley.js matches its sources");
} else {
  mkdirSync(new URL("./dist/", import.meta.url), { recursive: true });
  writeFileSync(out, code);
}
