// The environment of a JsJob script under QuickJS. Evaluated once per job, before the job's
// code, with `__host` holding the host functions; it hides `__host` from the job and returns it
// (with the entry points added) to the host. Everything here is deterministic: the clock is
// the job's timestamp, randomness comes from the job's seed, transcendental Math comes from the
// host's pure-Rust libm, and timers run on virtual time.
(function (host) {
  'use strict';
  const g = globalThis;
  const stringify = JSON.stringify;
  const StringOf = String;
  const ErrorClass = Error;

    if (g.window !== g) g.window = g; // a browser's window is already the global (a getter)
  if (g.self !== g) g.self = g;
  // No garbage-collector observability.
  delete g.WeakRef;
  delete g.FinalizationRegistry;

  // Date: the job's timestamp, in UTC, whenever "now" is asked for.
  const RealDate = Date;
  const now = host.timestamp;
  function FixedDate(...args) {
    if (!new.target) return new RealDate(now).toString();
    return args.length === 0 ? new RealDate(now) : new RealDate(...args);
  }
  FixedDate.prototype = RealDate.prototype;
  Object.defineProperty(RealDate.prototype, 'constructor', { value: FixedDate, writable: true, configurable: true });
  FixedDate.now = function now_() { return now; };
  FixedDate.UTC = RealDate.UTC;
  FixedDate.parse = RealDate.parse;
  g.Date = FixedDate;

  // Math: seeded randomness, and libm from the host for every transcendental function.
  const M = g.Math;
  M.random = function random() { return host.random(); };
  for (const name of ['sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh',
    'acosh', 'atanh', 'exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'cbrt']) {
    const f = host.libm1[name];
    M[name] = { [name](x) { return f(+x); } }[name];
  }
  const pow = host.libm2.pow;
  const atan2 = host.libm2.atan2;
  const hypot2 = host.libm2.hypot;
  M.pow = function pow_(x, y) { return pow(+x, +y); };
  M.atan2 = function atan2_(y, x) { return atan2(+y, +x); };
  M.hypot = function hypot(...xs) {
    let r = 0;
    let nan = false;
    for (const x of xs) {
      const v = +x;
      if (v === Infinity || v === -Infinity) return Infinity;
      if (v !== v) nan = true;
      else r = hypot2(r, v);
    }
    return nan ? NaN : r;
  };

  // console: each call is one log entry, kept by the host.
  function show(v) {
    if (typeof v === 'string') return v;
    if (v instanceof ErrorClass) return StringOf(v);
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return StringOf(v);
    try {
      const s = stringify(v);
      return s === undefined ? StringOf(v) : s;
    } catch (e) {
      return StringOf(v);
    }
  }
  const console_ = {};
  for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
    console_[level] = function (...args) { host.log(level, args.map(show).join(' ')); };
  }
  g.console = console_;

  // Timers on virtual time: a 10 s timer fires at once, after earlier ones, in order.
  let clock = 0;
  let seq = 0;
  const timers = [];
  function addTimer(fn, delay, args, interval) {
    const id = ++seq;
    const d = Math.max(0, +delay || 0);
    timers.push({ id, at: clock + d, seq: id, fn, args, interval: interval ? d : -1 });
    return id;
  }
  function clear(id) {
    const i = timers.findIndex((t) => t.id === id);
    if (i >= 0) timers.splice(i, 1);
  }
  g.setTimeout = function setTimeout(fn, delay, ...args) { return addTimer(fn, delay, args, false); };
  g.setInterval = function setInterval(fn, delay, ...args) { return addTimer(fn, delay, args, true); };
  g.clearTimeout = clear;
  g.clearInterval = clear;

  // The outcome: the first callback wins.
  let done = false;
  function errorInfo(e) {
    if (e instanceof ErrorClass) return { message: StringOf(e.message), stack: StringOf(e.stack || '') };
    return { message: show(e), stack: '' };
  }
  function finish(err, result, details) {
    if (done) return;
    done = true;
    if (err !== null && err !== undefined) {
      host.fail('threw', stringify(errorInfo(err)));
      return;
    }
    if (result === null || result === undefined) {
      host.fail('no-result', stringify({ message: 'the job called back without a result', stack: '' }));
      return;
    }
    let text;
    try {
      text = stringify({ result, details: details === undefined ? null : details });
    } catch (e) {
      host.fail('threw', stringify({ message: 'the result is not JSON: ' + StringOf(e && e.message), stack: '' }));
      return;
    }
    host.succeed(text);
  }
  function threw(e) {
    // The engine's own limits surface as errors; the host tells them apart by the flags it set.
    finish(e === undefined ? new ErrorClass('undefined was thrown') : e);
  }

  // Host entry points (not reachable by name from the job once the prelude returns).
  host.start = function start(inputJson, optionsJson) {
    const entry = g.jsJobRun;
    if (typeof entry !== 'function') {
      host.fail('no-entrypoint', stringify({ message: 'the script defines no function window.jsJobRun(input, options, callback)', stack: '' }));
      done = true;
      return;
    }
    let input;
    let options;
    try {
      input = JSON.parse(inputJson);
      options = JSON.parse(optionsJson);
    } catch (e) {
      host.fail('bad-input', stringify({ message: 'input or options are not JSON: ' + StringOf(e.message), stack: '' }));
      done = true;
      return;
    }
    try {
      const r = entry(input, options, finish);
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
        r.then((v) => { if (v !== undefined) finish(null, v, null); }, threw);
      }
    } catch (e) {
      threw(e);
    }
  };
  host.isDone = function isDone() { return done; };
  // Runs the earliest timer; false when none is left.
  host.fireTimer = function fireTimer() {
    if (timers.length === 0) return false;
    let k = 0;
    for (let i = 1; i < timers.length; i++) {
      const a = timers[i];
      const b = timers[k];
      if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) k = i;
    }
    const t = timers[k];
    clock = t.at;
    if (t.interval >= 0) {
      t.at = clock + t.interval;
      t.seq = ++seq;
    } else {
      timers.splice(k, 1);
    }
    try {
      if (typeof t.fn === 'function') t.fn(...t.args);
    } catch (e) {
      threw(e);
    }
    return true;
  };
  host.syntaxError = function syntaxError(src) {
    try {
      new Function(src);
      return null;
    } catch (e) {
      return e instanceof SyntaxError ? stringify(errorInfo(e)) : null;
    }
  };
  delete g.__host;
  return host;
})(globalThis.__host);
