//! Hostile scripts: each ends in a fixed error kind (or a deliberate, harmless result), and the
//! host stays healthy, on every executor.

use std::time::Duration;

use agency_primitives::{ErrorKind, Limits};
use agency_runner::{JobRun, RunnerError};
use serde_json::json;

use crate::{executors, run};

fn job(code: &str) -> JobRun {
    let mut j = JobRun::new(code, "null");
    // Smaller budgets than the defaults keep the suite fast; the kinds are the same.
    j.limits = Limits {
        fuel: 2_000,
        memory: 32 << 20,
        ..Limits::default()
    };
    j.wall_clock = Duration::from_secs(20);
    j
}

const CASES: &[(&str, &str, ErrorKind)] = &[
    (
        "loop in a timer",
        "window.jsJobRun = function () { setTimeout(function () { for (;;) {} }, 5); };",
        ErrorKind::Fuel,
    ),
    (
        "loop in a promise chain",
        "window.jsJobRun = function () { Promise.resolve().then(function () { return 1; }).then(function () { for (;;) {} }); };",
        ErrorKind::Fuel,
    ),
    (
        "endless microtasks",
        "function f() { Promise.resolve().then(f); } window.jsJobRun = function () { f(); };",
        ErrorKind::Fuel,
    ),
    (
        "a promise chain that only grows",
        "function f() { return Promise.resolve().then(f); } window.jsJobRun = function () { f(); };",
        ErrorKind::Memory,
    ),
    (
        "endless interval",
        "window.jsJobRun = function () { setInterval(function () {}, 1); };",
        ErrorKind::Fuel,
    ),
    (
        "array growth",
        "window.jsJobRun = function () { var a = []; for (;;) a.push(new Array(100000).fill(1.5)); };",
        ErrorKind::Memory,
    ),
    (
        "string doubling",
        "window.jsJobRun = function () { var s = 'x'; for (;;) s = s + s + '.'; };",
        ErrorKind::Memory,
    ),
    (
        "typed arrays",
        "window.jsJobRun = function () { var k = []; for (;;) k.push(new Float64Array(1 << 20)); };",
        ErrorKind::Memory,
    ),
    (
        "one huge buffer",
        "window.jsJobRun = function () { new ArrayBuffer(1 << 30); };",
        ErrorKind::Memory,
    ),
    (
        "deep recursion",
        "function r(n) { return r(n + 1) + 1; } window.jsJobRun = function () { r(0); };",
        ErrorKind::Stack,
    ),
    (
        "huge output",
        "window.jsJobRun = function (i, o, cb) { cb(null, 'x'.repeat(2 * 1024 * 1024)); };",
        ErrorKind::OutputTooLarge,
    ),
    (
        "huge logs",
        "window.jsJobRun = function (i, o, cb) { for (var n = 0; n < 100000; n++) console.log('spam spam spam spam ' + n); cb(null, 1); };",
        ErrorKind::OutputTooLarge,
    ),
    (
        "catastrophic regex",
        "window.jsJobRun = function (i, o, cb) { cb(null, /^(a+)+$/.test('a'.repeat(40) + 'b')); };",
        ErrorKind::Fuel,
    ),
    (
        "throwing a non-error",
        "window.jsJobRun = function () { throw 42; };",
        ErrorKind::Threw,
    ),
    (
        "unserializable result",
        "window.jsJobRun = function (i, o, cb) { var a = {}; a.a = a; cb(null, a); };",
        ErrorKind::Threw,
    ),
    (
        "bigint result",
        "window.jsJobRun = function (i, o, cb) { cb(null, 10n); };",
        ErrorKind::Threw,
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn hostile_scripts_end_in_their_error_kind() {
    for (exec_name, exec) in executors() {
        for (name, code, kind) in CASES {
            let (env, text) = run(exec.as_ref(), job(code)).await;
            match &env.outcome {
                Err(e) => assert_eq!(e.kind, *kind, "{exec_name} {name}: {text}"),
                Ok(_) => panic!("{exec_name} {name} succeeded: {text}"),
            }
        }
        // The host is healthy afterwards.
        let (env, text) = run(
            exec.as_ref(),
            job("window.jsJobRun = function (i, o, cb) { cb(null, 'fine'); };"),
        )
        .await;
        assert!(env.is_ok(), "{exec_name}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_way_out_of_the_sandbox() {
    let probe = r#"
        window.jsJobRun = async function () {
          var g = Function('return this')();
          var found = {
            globals: ['require', 'process', 'std', 'os', 'fetch', 'XMLHttpRequest', 'WebSocket',
                      'performance', 'WeakRef', 'FinalizationRegistry', 'Intl', 'scriptArgs', 'print', '__host']
              .filter(function (n) { return typeof g[n] !== 'undefined'; }),
            sameGlobal: g === window,
          };
          try { await import('os'); found.importOs = 'loaded'; } catch (e) { found.importOs = 'refused'; }
          try { await import('std'); found.importStd = 'loaded'; } catch (e) { found.importStd = 'refused'; }
          Object.prototype.polluted = 'yes';
          return found;
        };
    "#;
    let after = "window.jsJobRun = function (i, o, cb) { cb(null, String(({}).polluted)); };";
    for (exec_name, exec) in executors() {
        let (env, text) = run(exec.as_ref(), job(probe)).await;
        let result = &env
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{exec_name}: {e:?}"))
            .result;
        assert_eq!(
            result,
            &json!({"globals": [], "sameGlobal": true, "importOs": "refused", "importStd": "refused"}),
            "{exec_name}: {text}"
        );
        // Prototype pollution dies with the job's runtime.
        let (env, text) = run(exec.as_ref(), job(after)).await;
        assert_eq!(
            env.outcome.unwrap().result,
            json!("undefined"),
            "{exec_name}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wall_clock_cap_is_an_infrastructure_error() {
    for (exec_name, exec) in executors() {
        // Also when the cap trips inside a promise handler, where QuickJS only rejects a promise.
        let mut j = job(
            "function f() { Promise.resolve().then(f); } window.jsJobRun = function () { f(); };",
        );
        j.limits.fuel = u64::MAX;
        j.wall_clock = Duration::from_millis(700);
        let err = exec.run(j).await.unwrap_err();
        assert!(
            matches!(err, RunnerError::WallClock { .. }),
            "{exec_name}, in a promise: {err:?}"
        );

        let mut j = job("window.jsJobRun = function () { for (;;) {} };");
        j.limits.fuel = u64::MAX;
        j.wall_clock = Duration::from_millis(700);
        let started = std::time::Instant::now();
        let err = exec.run(j).await.unwrap_err();
        assert!(
            matches!(err, RunnerError::WallClock { .. }),
            "{exec_name}: {err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{exec_name}: stopped in time"
        );
    }
}

/// Jobs that catch their own meter and call back with success. QuickJS makes even its
/// uncatchable interrupt an ordinary rejection inside a promise executor, `Promise.try` and a
/// thenable's `then`, and its "out of memory" error is catchable anywhere. The meter is final:
/// each must end in the meter's kind, never the job's claimed result.
const CATCHES_ITS_METER: &[(&str, &str, ErrorKind)] = &[
    (
        "fuel caught in a promise executor",
        "window.jsJobRun = function (i, o, cb) {
           new Promise(function () { for (;;) {} }).catch(function () { cb(null, 'computed'); });
         };",
        ErrorKind::Fuel,
    ),
    (
        "fuel caught around Promise.try",
        "window.jsJobRun = function (i, o, cb) {
           Promise.try(function () { for (;;) {} }).catch(function () { cb(null, 'computed'); });
         };",
        ErrorKind::Fuel,
    ),
    (
        "fuel caught in a thenable's then",
        "window.jsJobRun = function (i, o, cb) {
           Promise.resolve({ then: function () { for (;;) {} } })
             .catch(function () { cb(null, 'computed'); });
         };",
        ErrorKind::Fuel,
    ),
    (
        // The review's probe: with 1 unit of fuel, a loop that restarts itself from the
        // rejection handler ran 1e8 iterations in 20,021 slices and then called back.
        "a loop restarted from each rejection",
        "window.jsJobRun = function (i, o, cb) {
           var n = 0;
           function slice() {
             new Promise(function () { while (n < 1e8) n++; cb(null, n); })
               .catch(function () { slice(); });
           }
           slice();
         };",
        ErrorKind::Fuel,
    ),
    (
        "fuel caught in a timer",
        "window.jsJobRun = function (i, o, cb) {
           setTimeout(function () {
             new Promise(function () { for (;;) {} }).catch(function () { cb(null, 'late'); });
           }, 10);
         };",
        ErrorKind::Fuel,
    ),
    (
        "memory caught by try",
        "window.jsJobRun = function (i, o, cb) {
           var a = [];
           try { for (;;) a.push(new Array(100000).fill(1.5)); }
           catch (e) { a = null; cb(null, 'survived'); }
         };",
        ErrorKind::Memory,
    ),
    (
        "memory caught as a rejection",
        "window.jsJobRun = async function () {
           var a = [];
           try { await new Promise(function () { for (;;) a.push(new Float64Array(1 << 16)); }); }
           catch (e) { a = null; return 'survived'; }
         };",
        ErrorKind::Memory,
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn a_job_cannot_catch_its_own_meter() {
    let mut wrong = Vec::new();
    for (exec_name, exec) in executors() {
        for (name, code, kind) in CATCHES_ITS_METER {
            let mut j = job(code);
            if name.starts_with("a loop restarted") {
                j.limits.fuel = 1;
            }
            let (env, text) = run(exec.as_ref(), j).await;
            if env.outcome.as_ref().err().map(|e| e.kind) != Some(*kind) || !env.logs.is_empty() {
                wrong.push(format!("{exec_name} {name}: want {kind:?}, got {text}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caught_wall_clock_cap_is_still_the_cap() {
    // The live-market attack: agents whose cap tripped reported what the job did after catching
    // it, and outvoted the agent that computed the answer. Past the cap there is no envelope.
    let code = "window.jsJobRun = function (i, o, cb) {
                  new Promise(function () { for (;;) {} })
                    .catch(function (e) { cb(null, { interrupted: String(e) }); });
                };";
    for (exec_name, exec) in executors() {
        let mut j = job(code);
        j.limits.fuel = u64::MAX;
        j.wall_clock = Duration::from_millis(500);
        let err = exec.run(j).await.unwrap_err();
        assert!(
            matches!(err, RunnerError::WallClock { .. }),
            "{exec_name}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_job_logs_after_its_meter_trips_is_dropped() {
    // Logs before the trip are the job's; a handler that runs after it logs nothing.
    let code = "window.jsJobRun = function () {
                  console.log('before');
                  new Promise(function () { for (;;) {} })
                    .catch(function () { console.log('after'); });
                };";
    for (exec_name, exec) in executors() {
        let (env, text) = run(exec.as_ref(), job(code)).await;
        assert_eq!(
            env.outcome.as_ref().unwrap_err().kind,
            ErrorKind::Fuel,
            "{exec_name}: {text}"
        );
        let lines: Vec<&str> = env.logs.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(lines, ["before"], "{exec_name}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_the_engine_cannot_honour_are_refused() {
    // QuickJS reads a zero memory or stack limit as "no limit".
    let bad = [
        Limits {
            memory: 0,
            ..Limits::default()
        },
        Limits {
            stack: 0,
            ..Limits::default()
        },
        Limits {
            stack: Limits::STACK_CEILING + 1,
            ..Limits::default()
        },
        Limits {
            stack: 100_000_000,
            ..Limits::default()
        },
    ];
    for (exec_name, exec) in executors() {
        for limits in bad {
            let mut j = job("window.jsJobRun = function (i, o, cb) { cb(null, 1); };");
            j.limits = limits;
            let err = exec.run(j).await.unwrap_err();
            assert!(
                matches!(err, RunnerError::Limits(_)) && !err.is_retryable(),
                "{exec_name} {limits:?}: {err:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_stack_limit_ends_in_the_stack_kind_not_a_native_overflow() {
    // 8,375,000 (just under the main thread's 8 MiB) crashed the job process at random with
    // "fatal runtime error: stack overflow": the engine's limit was past the thread's own
    // stack. The engine's thread is now sized to the limit, up to the ceiling (1e8, which
    // rquickjs turned into "no limit", is refused above).
    let code = "function r(n) { return r(n + 1) + 1; } window.jsJobRun = function () { r(0); };";
    for (exec_name, exec) in executors() {
        for stack in [8_375_000, Limits::STACK_CEILING] {
            let mut j = job(code);
            j.limits.stack = stack;
            j.limits.memory = 1 << 30;
            j.limits.fuel = u64::MAX;
            let (env, text) = run(exec.as_ref(), j).await;
            assert_eq!(
                env.outcome.as_ref().err().map(|e| e.kind),
                Some(ErrorKind::Stack),
                "{exec_name} stack {stack}: {text:.300}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_parent_reads_any_envelope_the_child_writes() {
    // A result nested 126 deep: the child serialized it, the parent's JSON reader stopped at
    // 128 levels, and every agent retried and gave the job up. Now both executors agree, at
    // the depth the engine accepts and past it.
    for depth in [126, 127, 200] {
        let code = format!(
            "window.jsJobRun = function (i, o, cb) {{ var v = 0; for (var k = 0; k < {depth}; k++) v = [v]; cb(null, v); }};"
        );
        let mut texts = Vec::new();
        for (exec_name, exec) in executors() {
            let (_, text) = run(exec.as_ref(), job(&code)).await;
            texts.push((exec_name, text));
        }
        assert_eq!(texts[0].1, texts[1].1, "depth {depth}: {texts:?}");
    }
}

/// Native builtins pay for their work. Each job loops over a builtin that walks or builds a
/// large operand, so QuickJS's own checks see one call per million elements; before builtins
/// were charged, the `indexOf` loop used under 10 fuel and ran into the CPU rlimit. With 1,000
/// units each ends in `fuel`, on both executors, and well before the wall-clock cap.
#[tokio::test(flavor = "multi_thread")]
async fn loops_of_native_work_run_out_of_fuel() {
    let loops = [
        (
            "array indexOf",
            "const a = new Array(1e6).fill(0); for (;;) a.indexOf(1);",
        ),
        (
            "string indexOf",
            "const s = 'a'.repeat(1e6); for (;;) s.includes('b');",
        ),
        (
            "a string method on an object",
            "const o = { toString() { return big; } }; const big = 'a'.repeat(1e6); for (;;) String.prototype.indexOf.call(o, 'b');",
        ),
        (
            "slice",
            "const a = new Array(1e5).fill(0); for (;;) a.slice();",
        ),
        (
            "JSON",
            "const a = new Array(1e5).fill(1); for (;;) JSON.parse(JSON.stringify(a));",
        ),
        (
            "sort",
            "const a = new Array(1e4).fill(0).map((_, k) => (k * 7919) % 10007); for (;;) a.slice().sort();",
        ),
        (
            "typed arrays",
            "const t = new Float64Array(1e6); for (;;) t.fill(1).indexOf(2);",
        ),
        (
            "apply",
            "const a = new Array(6e4).fill(1); for (;;) Math.max.apply(null, a);",
        ),
    ];
    for (exec_name, exec) in executors() {
        for (name, body) in loops {
            let mut j = job(&format!("window.jsJobRun = function () {{ {body} }};"));
            j.limits.fuel = 1_000;
            j.wall_clock = Duration::from_secs(60);
            let started = std::time::Instant::now();
            let (env, text) = run(exec.as_ref(), j).await;
            assert_eq!(
                env.outcome.as_ref().err().map(|e| e.kind),
                Some(ErrorKind::Fuel),
                "{exec_name} {name}: {text}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{exec_name} {name}: {:?} for 1,000 fuel",
                started.elapsed()
            );
        }
    }
}

/// Work no meter sees (the engine's substring search is quadratic in a crafted needle) runs into
/// the job process's CPU rlimit: the executor says so, and it is neither an envelope nor a
/// crash worth retrying.
#[tokio::test(flavor = "multi_thread")]
async fn the_cpu_rlimit_is_a_backstop_not_a_crash() {
    let (_, child) = executors().pop().unwrap();
    let mut j = job(
        "window.jsJobRun = function () { const s = 'a'.repeat(1 << 20); s.indexOf('a'.repeat(1 << 19) + 'b'); };",
    );
    j.limits.fuel = u64::MAX;
    j.wall_clock = Duration::from_secs(1);
    let err = child.run(j).await.unwrap_err();
    assert!(matches!(err, RunnerError::CpuTime { .. }), "{err:?}");
    assert!(!err.is_retryable(), "{err}");
}
