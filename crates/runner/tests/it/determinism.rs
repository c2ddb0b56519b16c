//! The determinism suite: every probe in tests/determinism/probes.tsv produces exactly the
//! envelope bytes committed in golden.tsv, run as in production (in a child process, TZ=UTC).
//! `UPDATE_GOLDEN=1 cargo test -p agency-runner --features test-utils determinism` rewrites
//! golden.tsv; a change to it is a change to every agent's results and needs a reason.

use std::{collections::BTreeMap, path::PathBuf};

use agency_runner::{Executor, JobRun, QuickJsExecutor, parse_seed};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/determinism")
}

fn probes() -> Vec<(String, String)> {
    std::fs::read_to_string(dir().join("probes.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, expr) = l.split_once('\t').unwrap_or_else(|| panic!("bad probe line {l:?}"));
            let code = format!(
                "window.jsJobRun = function (input, options, callback) {{ callback(null, [{expr}], null); }};"
            );
            (name.to_owned(), code)
        })
        .collect()
}

fn job(code: String) -> JobRun {
    let mut job = JobRun::new(code, r#"{"n": 21}"#);
    job.seed = parse_seed("5eed").unwrap();
    job.timestamp_ms = 1_700_000_000_000;
    job
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_match_their_golden_envelopes() {
    let exec = QuickJsExecutor::in_child(env!("CARGO_BIN_EXE_agency-job"), vec![]);
    let probes = probes();
    assert!(probes.len() >= 50, "{} probes", probes.len());
    let mut got = BTreeMap::new();
    for (name, code) in probes {
        let envelope = exec.run(job(code.clone())).await.unwrap();
        let text = String::from_utf8(envelope.canonical_bytes()).unwrap();
        // Same job, same bytes: run each probe twice.
        let again = exec.run(job(code)).await.unwrap();
        assert_eq!(
            text.as_bytes(),
            again.canonical_bytes(),
            "{name} is not stable between runs"
        );
        assert!(
            !text.contains('\t') && !text.contains('\n'),
            "{name}: canonical JSON has no raw tabs or newlines"
        );
        got.insert(name, text);
    }
    let golden_path = dir().join("golden.tsv");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let body: String = got.iter().map(|(n, t)| format!("{n}\t{t}\n")).collect();
        std::fs::write(&golden_path, body).unwrap();
        return;
    }
    let golden: BTreeMap<String, String> = std::fs::read_to_string(&golden_path)
        .expect("golden.tsv exists (UPDATE_GOLDEN=1 writes it)")
        .lines()
        .map(|l| {
            let (n, t) = l.split_once('\t').unwrap();
            (n.to_owned(), t.to_owned())
        })
        .collect();
    let mut diffs = Vec::new();
    for (name, text) in &got {
        match golden.get(name) {
            Some(want) if want == text => {}
            Some(want) => diffs.push(format!("{name}:\n  want {want}\n  got  {text}")),
            None => diffs.push(format!("{name}: no golden envelope")),
        }
    }
    for name in golden.keys().filter(|n| !got.contains_key(*n)) {
        diffs.push(format!(
            "{name}: golden envelope for a probe that no longer exists"
        ));
    }
    assert!(
        diffs.is_empty(),
        "{} probe(s) differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
