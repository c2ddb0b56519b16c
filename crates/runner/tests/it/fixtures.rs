//! Every fixture of shared/vectors/jsjob (copied to tests/vectors/jsjob) gives the outcome its
//! README lists, on every executor.

use std::time::{Duration, Instant};

use agency_primitives::{Envelope, ErrorKind};
use agency_runner::JobRun;
use serde_json::{Value, json};

use crate::{executors, run, vectors_dir};

fn job(name: &str) -> JobRun {
    let code = std::fs::read_to_string(vectors_dir().join(format!("{name}.js"))).unwrap();
    JobRun::new(code, r#"{"n": 21}"#)
}

fn ok(env: &Envelope) -> (&Value, &Value) {
    match &env.outcome {
        Ok(s) => (&s.result, &s.details),
        Err(e) => panic!("expected success, got {e:?}"),
    }
}

fn err(env: &Envelope, kind: ErrorKind) -> (&str, &str) {
    match &env.outcome {
        Err(e) if e.kind == kind => (&e.message, &e.stack),
        other => panic!("expected {kind:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fixture_gives_its_listed_outcome() {
    let names: Vec<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".js")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(names.len(), 16, "fixtures: {names:?}");
    for (exec_name, exec) in executors() {
        for name in &names {
            let started = Instant::now();
            let (env, text) = run(exec.as_ref(), job(name)).await;
            let took = started.elapsed();
            let ctx = format!("{exec_name} {name}: {text}");
            match name.as_str() {
                "return-input" => {
                    let (r, d) = ok(&env);
                    assert_eq!(r, &json!({"n": 21}), "{ctx}");
                    assert_eq!(d, &json!({"seen": true}), "{ctx}");
                }
                "return-error" => assert!(
                    err(&env, ErrorKind::Threw)
                        .0
                        .contains("the input was rejected"),
                    "{ctx}"
                ),
                "throw-directly" => {
                    let (m, s) = err(&env, ErrorKind::Threw);
                    assert!(m.contains("boom from explode"), "{ctx}");
                    assert!(s.contains("explode"), "{ctx}");
                }
                "no-entrypoint" => assert!(
                    err(&env, ErrorKind::NoEntrypoint).0.contains("jsJobRun"),
                    "{ctx}"
                ),
                "return-nothing" => drop(err(&env, ErrorKind::NoResult)),
                "never-calls-back" => {
                    err(&env, ErrorKind::NoResult);
                    assert!(
                        took < Duration::from_secs(2),
                        "no-result at once, took {took:?}: {ctx}"
                    );
                }
                "first-callback-wins" => assert_eq!(ok(&env).0, &json!("first"), "{ctx}"),
                "timer-order" => {
                    assert_eq!(ok(&env).0, &json!(["sync", "early", "late"]), "{ctx}");
                    assert!(
                        took < Duration::from_secs(2),
                        "virtual time, took {took:?}: {ctx}"
                    );
                }
                "throw-in-timer" => assert!(
                    err(&env, ErrorKind::Threw).0.contains("thrown later"),
                    "{ctx}"
                ),
                "infinite-loop" => drop(err(&env, ErrorKind::Fuel)),
                "memory-bomb" => drop(err(&env, ErrorKind::Memory)),
                "console-logs" => {
                    assert_eq!(ok(&env).0, &json!("done"), "{ctx}");
                    let logs: Vec<(&str, &str)> = env
                        .logs
                        .iter()
                        .map(|l| (l.level.as_str(), l.message.as_str()))
                        .collect();
                    assert_eq!(
                        logs,
                        vec![("log", r#"hello 1 {"a":2}"#), ("error", "careful")],
                        "{ctx}"
                    );
                }
                "async-entry" => assert_eq!(ok(&env).0, &json!({"doubled": 42}), "{ctx}"),
                "deterministic-clock-random" => {
                    let mut a = job(name);
                    a.seed = [9; 32];
                    a.timestamp_ms = 1_700_000_000_000;
                    let (first, first_text) = run(exec.as_ref(), a.clone()).await;
                    let (_, again) = run(exec.as_ref(), a.clone()).await;
                    assert_eq!(
                        first_text, again,
                        "same seed and timestamp, same bytes: {ctx}"
                    );
                    assert_eq!(
                        ok(&first).0["now"],
                        json!(1_700_000_000_000i64),
                        "{first_text}"
                    );
                    a.seed = [10; 32];
                    let (other, _) = run(exec.as_ref(), a).await;
                    assert_ne!(
                        ok(&first).0["r"],
                        ok(&other).0["r"],
                        "a different seed draws differently"
                    );
                }
                "syntax-error" => drop(err(&env, ErrorKind::Syntax)),
                "no-network" => assert_eq!(
                    ok(&env).0,
                    &json!([
                        "undefined",
                        "undefined",
                        "undefined",
                        "undefined",
                        "undefined"
                    ]),
                    "{ctx}"
                ),
                other => panic!("fixture {other} has no expectation here"),
            }
        }
    }
}
