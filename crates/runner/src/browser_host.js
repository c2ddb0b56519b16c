// The JavaScript host of the browser executor: what the QuickJS executor provides from Rust
// (seeded random, Math, logs, outcome), then the prelude, the job and the virtual-time loop.
// Evaluated as one async function call in a fresh page; resolves to the JSON of
// {outcome, logs}.
async function (seedHex, timestamp, prelude, code, input, options) {
  const realSetTimeout = setTimeout;
  const M64 = (1n << 64n) - 1n;
  const rotl = (x, k) => ((x << BigInt(k)) | (x >> BigInt(64 - k))) & M64;
  // xoshiro256** seeded through SplitMix64, word by word, exactly as runner/src/rng.rs.
  const s = [];
  for (let i = 0; i < 4; i++) {
    let w = 0n;
    for (let b = 7; b >= 0; b--) w = (w << 8n) | BigInt(parseInt(seedHex.substr((i * 8 + b) * 2, 2), 16));
    let z = (w + 0x9E3779B97F4A7C15n * BigInt(i + 1)) & M64;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & M64;
    s.push(z ^ (z >> 31n));
  }
  function next() {
    const result = (rotl((s[1] * 5n) & M64, 7) * 9n) & M64;
    const t = (s[1] << 17n) & M64;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
  }
  const out = { outcome: null, logs: [] };
  const m = Math;
  const unary = {};
  for (const n of ['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh',
    'acosh', 'atanh', 'exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'cbrt']) unary[n] = m[n];
  globalThis.__host = {
    timestamp,
    random: () => Number(next() >> 11n) * 2 ** -53,
    libm1: unary,
    libm2: { pow: m.pow, atan2: m.atan2, hypot: m.hypot },
    log: (level, message) => { out.logs.push({ level, message }); },
    succeed: (json) => { if (!out.outcome) out.outcome = { ok: json }; },
    fail: (kind, json) => { if (!out.outcome) out.outcome = { kind, json }; },
  };
    // No network APIs (requests are dead-ended by launch flags as well).
  for (const name of ['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'WebTransport', 'RTCPeerConnection']) {
    delete globalThis[name];
  }
  if (navigator.sendBeacon) navigator.sendBeacon = undefined;
  const host = (0, eval)(prelude);
  const syntax = host.syntaxError(code);
  if (syntax !== null) {
    out.outcome = { kind: 'syntax', json: syntax };
    return JSON.stringify(out);
  }
  try {
    (0, eval)(code);
  } catch (e) {
    const message = e instanceof Error ? String(e.message) : String(e);
    const stack = e instanceof Error ? String(e.stack || '') : '';
    out.outcome = { kind: 'threw', json: JSON.stringify({ message, stack }) };
    return JSON.stringify(out);
  }
  host.start(input, options);
    const wait = (ms) => new Promise((resolve) => realSetTimeout(resolve, ms));
  // A page has real events too (loads, layout): when no virtual timer is left, the job gets up
  // to SETTLE_MS of real time to call back before it counts as finished without a result.
  const SETTLE_MS = 200;
  let idle = 0;
  for (;;) {
    await wait(0); // runs every microtask the job queued
    if (host.isDone()) break;
    if (host.fireTimer()) {
      idle = 0;
      continue;
    }
    if (idle >= SETTLE_MS) break;
    idle += 10;
    await wait(10);
  }
  return JSON.stringify(out);
}
