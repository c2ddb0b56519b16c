// The JavaScript host of the browser executor: what the QuickJS executor provides from Rust
// (seeded random, Math, logs, outcome), then the prelude, the job and the virtual-time loop.
// Evaluated as one async function call in a fresh page; resolves to the JSON of
// {outcome, logs}.
async function (seedHex, timestamp, prelude, code, input, options) {
  // What the host uses after the job has run is taken now, before it runs: the job may replace
  // globals or add getters and `toJSON` to prototypes. The report is built from null-prototype
  // objects and serialized by hand, quoting only strings (whose quoting no `toJSON` affects).
  const realSetTimeout = setTimeout;
  const HostPromise = Promise;
  const quote = JSON.stringify;
  const toStr = String;
  const ErrorClass = Error;
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
  const out = { __proto__: null, outcome: null };
  const logs = { __proto__: null };
  let logCount = 0;
  const report = () => {
    const o = out.outcome;
    let text = '{"outcome":';
    if (o === null) text += 'null';
    else if (o.ok !== undefined) text += '{"ok":' + quote(toStr(o.ok)) + '}';
    else text += '{"kind":' + quote(toStr(o.kind)) + ',"json":' + quote(toStr(o.json)) + '}';
    text += ',"logs":[';
    for (let i = 0; i < logCount; i++) {
      const l = logs[i];
      text += (i ? ',' : '') + '{"level":' + quote(l.level) + ',"message":' + quote(l.message) + '}';
    }
    return text + ']}';
  };
  const m = Math;
  const unary = {};
  for (const n of ['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh',
    'acosh', 'atanh', 'exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'cbrt']) unary[n] = m[n];
  globalThis.__host = {
    timestamp,
    random: () => Number(next() >> 11n) * 2 ** -53,
    libm1: unary,
    libm2: { pow: m.pow, atan2: m.atan2, hypot: m.hypot },
    // No fuel here: V8 runs until the wall-clock cap (browser jobs are not replicated).
    charge: () => false,
    workPerTick: 1,
    log: (level, message) => {
      logs[logCount++] = { __proto__: null, level: toStr(level), message: toStr(message) };
    },
    succeed: (json) => { if (out.outcome === null) out.outcome = { __proto__: null, ok: json }; },
    fail: (kind, json) => {
      if (out.outcome === null) out.outcome = { __proto__: null, ok: undefined, kind, json };
    },
  };
    // No network APIs (requests are dead-ended by launch flags as well).
  for (const name of ['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'WebTransport', 'RTCPeerConnection']) {
    delete globalThis[name];
  }
  if (navigator.sendBeacon) navigator.sendBeacon = undefined;
  const host = (0, eval)(prelude);
  const syntax = host.syntaxError(code);
  if (syntax !== null) {
    out.outcome = { __proto__: null, ok: undefined, kind: 'syntax', json: syntax };
    return report();
  }
  try {
    (0, eval)(code);
  } catch (e) {
    const isError = e instanceof ErrorClass;
    const message = isError ? toStr(e.message) : toStr(e);
    const stack = isError ? toStr(e.stack || '') : '';
    const json = '{"message":' + quote(message) + ',"stack":' + quote(stack) + '}';
    out.outcome = { __proto__: null, ok: undefined, kind: 'threw', json };
    return report();
  }
  host.start(input, options);
  const wait = (ms) => new HostPromise((resolve) => realSetTimeout(resolve, ms));
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
  return report();
}
