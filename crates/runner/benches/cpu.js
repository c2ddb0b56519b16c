// CPU-heavy JsJob scripts for the runner benchmark; `node benches/cpu.js` times the same
// functions in Node. Input {"job": "fib"} or {"job": "primes"}.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
function primesBelow(limit) {
  var count = 0;
  for (var n = 2; n < limit; n++) {
    var prime = true;
    for (var d = 2; d * d <= n; d++) {
      if (n % d === 0) { prime = false; break; }
    }
    if (prime) count++;
  }
  return count;
}
var jobs = { fib: function () { return fib(30); }, primes: function () { return primesBelow(2000000); } };
if (typeof window !== 'undefined') {
  window.jsJobRun = function (input, options, callback) { callback(null, jobs[input.job](), null); };
} else {
  for (var name of ['fib', 'primes']) {
    var best = Infinity;
    var result;
    for (var i = 0; i < 3; i++) {
      var t = process.hrtime.bigint();
      result = jobs[name]();
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
    }
    console.log(JSON.stringify({ job: name, result: result, best_ms: Math.round(best * 10) / 10 }));
  }
}
