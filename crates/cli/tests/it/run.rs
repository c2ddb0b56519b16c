//! `agency run` end to end: envelopes on stdout, exit codes, bad input.

use std::{io::Write, process::Stdio};

use serde_json::Value;

use crate::{agency, agency_cmd, stderr, stdout};

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../runner/tests/vectors/jsjob/{name}.js"));
    p.to_str().unwrap().to_owned()
}

#[test]
fn help_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let o = agency(dir.path(), &["run", "--help"]);
    insta::assert_snapshot!("run_help", stdout(&o));
}

#[test]
fn prints_the_canonical_envelope_with_exit_0_or_1() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    std::fs::write(&input, r#"{"n": 21}"#).unwrap();
    let i = input.to_str().unwrap();

    let o = agency(dir.path(), &["run", &fixture("return-input"), "--input", i]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"details\":{\"seen\":true},\"logs\":[],\"ok\":true,\"result\":{\"n\":21}}\n"
    );

    let o = agency(
        dir.path(),
        &["run", &fixture("throw-directly"), "--input", i],
    );
    assert_eq!(o.status.code(), Some(1), "a failed job exits 1");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["kind"], "threw");

    let o = agency(
        dir.path(),
        &["run", &fixture("infinite-loop"), "--fuel", "500"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(r#""kind":"fuel""#));

    // Seed and timestamp are the job's.
    let args = [
        "run",
        &fixture("deterministic-clock-random"),
        "--seed",
        "abc",
        "--timestamp",
        "1700000000",
    ];
    let (a, b) = (agency(dir.path(), &args), agency(dir.path(), &args));
    assert_eq!(stdout(&a), stdout(&b));
    assert!(
        stdout(&a).contains("\"now\":1700000000000"),
        "{}",
        stdout(&a)
    );
}

#[test]
fn input_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = agency_cmd(dir.path())
        .args(["run", &fixture("return-input"), "--input", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"[1, 2.5, \"three\"]")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(r#""result":[1,2.5,"three"]"#));
}

#[test]
fn bad_input_exits_2_or_is_a_bad_input_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{not json").unwrap();
    for (args, needle) in [
        (vec!["run", "missing.js"], "cannot read missing.js"),
        (
            vec!["run", &fixture("return-input"), "--runtime", "wasm"],
            "runtime \"wasm\" is not available",
        ),
        (
            vec!["run", &fixture("return-input"), "--stack", "0"],
            "stack 0 is below the least allowed",
        ),
        (
            vec![
                "run",
                &fixture("return-input"),
                "--runtime",
                "browser",
                "--chromium",
                "/nonexistent/chromium",
            ],
            if cfg!(feature = "browser") {
                "not installed"
            } else {
                "runtime \"browser\" is not available"
            },
        ),
        (
            vec!["run", &fixture("return-input"), "--seed", "xyz"],
            "invalid seed",
        ),
        (
            vec!["run", &fixture("return-input"), "--input", "nope.json"],
            "cannot read nope.json",
        ),
        (
            vec!["run", &fixture("return-input"), "--fuel", "many"],
            "invalid value 'many'",
        ),
        (
            vec![
                "run",
                &fixture("return-input"),
                "--timestamp",
                "9223372036854775807",
            ],
            "--timestamp 9223372036854775807 is out of range",
        ),
    ] {
        let o = agency(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    // Input that is not JSON is the job's failure (an envelope agents agree on), not ours.
    let o = agency(
        dir.path(),
        &[
            "run",
            &fixture("return-input"),
            "--input",
            bad_json.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(r#""kind":"bad-input""#),
        "{}",
        stdout(&o)
    );
}

#[cfg(feature = "browser")]
#[test]
fn a_dom_job_through_the_browser_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("dom.js");
    std::fs::write(
        &job,
        "window.jsJobRun = function (i, o, cb) { var d = document.createElement('p'); d.style.width = '64px'; \
         document.body.appendChild(d); cb(null, d.getBoundingClientRect().width); };",
    )
    .unwrap();
    let o = agency(
        dir.path(),
        &["run", job.to_str().unwrap(), "--runtime", "browser"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"details\":null,\"logs\":[],\"ok\":true,\"result\":64}\n"
    );
}
