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
  // Fuel for native work. QuickJS counts a tick per call and per loop back edge, not the
  // elements a builtin walks: a loop of `indexOf` over a million elements would cost a tick a
  // call. So each builtin whose work grows with its operands charges, once it returns, for the
  // elements or characters it walked or made (the weights below). One call's work
  // is bounded by the memory limit, so charging after it is enough. Sizes are read with
  // functions captured here, so a job cannot shrink them; a receiver that is not a real array,
  // string or typed array takes the engine's generic path, which checks its interrupt at every
  // element. `charge` is true once the fuel is used up; the envelope is then `fuel`, whatever
  // the job does next (see meter.rs).
  const charge = host.charge;
  const WORK_PER_TICK = host.workPerTick;
  const apply = Reflect.apply;
  const isArray = Array.isArray;
  const isView = ArrayBuffer.isView;
  const typedLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'length').get;
  const bufferLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
  const defineProperty = Object.defineProperty;
  const ceil = Math.ceil;
  const floor = Math.floor;
  const log2 = M.log2;
  const RangeErrorClass = RangeError;
  function sizeOf(v) {
    if (typeof v === 'string') return v.length;
    if (v === null || typeof v !== 'object') return 0;
    if (isArray(v)) {
      const n = v.length; // a Proxy's trap is JavaScript, and metered
      return typeof n === 'number' && n > 0 ? n : 0;
    }
    if (isView(v)) {
      try { return apply(typedLength, v, []); } catch (e) { return 0; } // a DataView
    }
    try { return apply(bufferLength, v, []); } catch (e) { return 0; }
  }
  function argsSize(args) {
    let n = 0;
    for (let i = 0; i < args.length; i++) n += sizeOf(args[i]);
    return n;
  }
  // Where a search starts: the method's own clamping of its `from` argument.
  function start(from, n, otherwise) {
    if (from === undefined) return otherwise;
    const f = +from;
    if (f !== f) return 0;
    const i = f < 0 ? ceil(f) + n : f > 0 ? floor(f) : 0;
    return i < 0 ? 0 : i > n ? n : i;
  }
  // Work of each kind of method, from its receiver, arguments and result, in sixteenths of a
  // tick (WORK_PER_TICK): an element or character costs SCAN when compared, WALK when read
  // into something new, SPLIT when cut into new strings, PARSE when read as JSON, MAKE when
  // copied into a new array or string, SERIALIZE when written as JSON, SORT per comparison of a
  // default sort, KEY per property key listed, and TYPED per number a typed array or buffer
  // walks. The weights are this machine's CPU time per element over its time per tick
  // (BENCHMARKS.md, "Fuel").
  const SCAN = 5;
  const WALK = 11;
  const SPLIT = 36;
  const PARSE = 29;
  const MAKE = 34;
  const SERIALIZE = 88;
  const SORT = 43;
  const KEY = 120;
  const TYPED = 1;
  const made = (self, args, r) => MAKE * sizeOf(r);
  const walked = (self, args, r) => WALK * (sizeOf(self) + argsSize(args) + sizeOf(r));
  const serialized = (self, args, r) => SERIALIZE * sizeOf(r);
  const weighed = (weight) => (self, args, r) => weight * (sizeOf(self) + argsSize(args) + sizeOf(r));
  const keyed = (self, args, r) => KEY * sizeOf(r);
  const sorted = (self) => {
    const n = sizeOf(self);
    return SORT * (n > 1 ? n * ceil(log2(n)) : n);
  };
  const forward = (self, args, r) => {
    const n = sizeOf(self);
    const from = start(args[1], n, 0);
    return SCAN * ((typeof r === 'number' && r >= 0 ? r - from : n - from) + sizeOf(args[0]));
  };
  const backward = (self, args, r) => {
    const n = sizeOf(self);
    const from = start(args[1], n, n);
    return SCAN * ((typeof r === 'number' && r >= 0 ? from - r : from) + sizeOf(args[0]));
  };
  const tail = (self, args) => {
    const n = sizeOf(self);
    return MAKE * (n - start(args[0], n, 0) + argsSize(args));
  };
  const whole = (self) => MAKE * sizeOf(self);
  const ranged = (self, args) => {
    const n = sizeOf(self);
    const a = start(args[1], n, 0);
    const b = start(args[2], n, n);
    return MAKE * (b > a ? b - a : 0);
  };
  // A string method turns its receiver into a string first; the wrapper does it for the
  // method (the same single conversion), so that the string's size is known. Symbols, null and
  // undefined go through unchanged, for the method to refuse.
  function asString(v) {
    return v === null || v === undefined || typeof v === 'string' || typeof v === 'symbol' ? v : StringOf(v);
  }
  function meter(owner, costs, strings) {
    for (const name in costs) {
      const f = owner[name];
      if (typeof f !== 'function') continue;
      const cost = costs[name];
      const w = {
        [name](...args) {
          const self = strings ? asString(this) : this;
          const r = apply(f, self, args);
          const units = cost(self, args, r);
          if (units > 0 && charge(ceil(units / WORK_PER_TICK))) throw new RangeErrorClass('out of fuel');
          return r;
        },
      }[name];
      defineProperty(w, 'length', { value: f.length });
      owner[name] = w;
    }
  }
  const arrayCosts = {
    indexOf: forward, includes: forward, lastIndexOf: backward,
    join: walked, concat: made, slice: made, with: made, toReversed: made, flat: walked,
    reverse: whole, splice: tail, toSpliced: made, shift: whole, unshift: walked, fill: ranged,
    copyWithin: whole, sort: sorted, toSorted: sorted, set: walked,
  };
  meter(Array.prototype, arrayCosts);
  // Typed arrays and buffers hold numbers in place: every element they walk, copy or sort
  // costs TYPED.
  const flat = weighed(TYPED);
  const typedCosts = {};
  for (const name in arrayCosts) typedCosts[name] = flat;
  typedCosts.sort = typedCosts.toSorted = (self) => TYPED * sorted(self) / SORT;
  meter(Object.getPrototypeOf(Uint8Array.prototype), typedCosts);
  meter(ArrayBuffer.prototype, { slice: flat });
  const stringCosts = {};
  for (const [names, cost] of [
    [['indexOf', 'includes'], forward],
    [['lastIndexOf'], backward],
    [['startsWith', 'endsWith'], (self, args) => SCAN * sizeOf(args[0])],
    [['concat', 'padEnd', 'padStart', 'repeat', 'slice', 'substring', 'substr'], made],
    [['localeCompare', 'normalize', 'toLowerCase', 'toUpperCase', 'toLocaleLowerCase',
      'toLocaleUpperCase', 'trim', 'trimStart', 'trimEnd', 'isWellFormed', 'toWellFormed',
      'search'], walked],
    [['replace', 'replaceAll', 'split', 'match', 'matchAll'], weighed(SPLIT)],
  ]) {
    for (const name of names) stringCosts[name] = cost;
  }
  meter(String.prototype, stringCosts, true);
  meter(String, { fromCharCode: made, fromCodePoint: made, raw: made });
  meter(JSON, { parse: weighed(PARSE), stringify: serialized });
  meter(Object, { keys: keyed, values: keyed, entries: keyed, getOwnPropertyNames: keyed });
  meter(Reflect, { apply: walked, construct: walked, ownKeys: keyed });
  meter(Function.prototype, { apply: walked });

  delete g.__host;
  return host;
})(globalThis.__host);
