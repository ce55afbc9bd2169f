// Installed in every test page before any of its scripts (Playwright init scripts are exempt
// from the page's CSP). It measures what a listener hears without knowing the widget's
// internals: every media element that plays a MediaStream is tapped by an AnalyserNode in a
// context of its own, and its level sampled every 5 ms. It also records the widget's events and
// reports CSP violations to the test.
(() => {
  const MAX_SAMPLES = 100000;
  const probe = { audio: [], events: [], taps: 0 };
  Object.defineProperty(window, "__parleyProbe", { value: probe });

  document.addEventListener("securitypolicyviolation", (e) => {
    const report = window.__reportCsp;
    if (typeof report === "function") {
      report(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    }
  });

  for (const name of ["open", "close", "call-start", "call-end", "interrupted", "transcript", "reply", "error"]) {
    document.addEventListener(`parley:${name}`, (e) => {
      probe.events.push({ t: performance.now(), type: name, detail: e.detail ?? null });
    }, true);
  }

  const tap = (el) => {
    const stream = el.srcObject;
    if (!(stream instanceof MediaStream) || el.__parleyTapped) return;
    el.__parleyTapped = true;
    probe.taps += 1;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 256; // about 5 ms at 48 kHz: a level per timer tick
    ctx.createMediaStreamSource(stream).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      if (probe.audio.length < MAX_SAMPLES) {
        probe.audio.push([performance.now(), Math.sqrt(sum / buf.length)]);
      }
    }, 5);
  };
  // When the fake microphone starts: Chromium plays its file from sample 0 at that moment, so
  // a recording's offsets become page times (speech end → first reply audio).
  const gum = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  if (gum) {
    navigator.mediaDevices.getUserMedia = function (...args) {
      return gum.apply(this, args).then((stream) => {
        if (probe.micOpenedAt === undefined) probe.micOpenedAt = performance.now();
        return stream;
      });
    };
  }
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function (...args) {
    try { tap(this); } catch (err) { console.warn("probe could not tap", err); }
    return play.apply(this, args);
  };
})();
