//! The example jobs in examples/, through `agency run` and through a whole `agency dev` market.

use std::path::Path;

use serde_json::Value;

use crate::dev::Dev;
use crate::{agency, stderr, stdout};

fn example(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    root.join(path).to_str().unwrap().to_owned()
}

/// (name, code, input, options, replicas on the market)
fn examples() -> Vec<(&'static str, String, String, &'static str, &'static str)> {
    vec![
        (
            "sudoku",
            example("sudoku/solve.js"),
            example("sudoku/hard.json"),
            "{}",
            "1",
        ),
        (
            "render",
            example("render/render.js"),
            example("render/page.json"),
            "{}",
            "3",
        ),
        (
            "stats",
            example("stats/stats.js"),
            example("stats/heatpump.json"),
            r#"{"x":"temp","y":"power"}"#,
            "3",
        ),
    ]
}

fn run(dir: &Path, code: &str, input: &str, options: &str) -> (bool, String) {
    let o = agency(dir, &["run", code, "--input", input, "--options", options]);
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    (o.status.success(), stdout(&o))
}

fn result(envelope: &str) -> Value {
    let v: Value = serde_json::from_str(envelope).unwrap();
    assert_eq!(v["ok"], true, "{envelope}");
    v["result"].clone()
}

/// Every row, column and box holds 1 to 9, and the clues are kept.
fn is_solution(puzzle: &str, solution: &str) -> bool {
    let d: Vec<u32> = solution
        .chars()
        .map(|c| c.to_digit(10).unwrap_or(0))
        .collect();
    let groups = (0..9).flat_map(|i| {
        [
            (0..9).map(|j| i * 9 + j).collect::<Vec<_>>(),
            (0..9).map(|j| j * 9 + i).collect(),
            (0..9)
                .map(|j| (i / 3 * 3 + j / 3) * 9 + i % 3 * 3 + j % 3)
                .collect(),
        ]
    });
    d.len() == 81
        && groups.into_iter().all(|g| {
            let mut seen: Vec<u32> = g.iter().map(|&k| d[k]).collect();
            seen.sort_unstable();
            seen == (1..=9).collect::<Vec<_>>()
        })
        && puzzle
            .chars()
            .zip(solution.chars())
            .all(|(p, s)| p == '0' || p == '.' || p == s)
}

#[test]
fn the_examples_compute_what_they_claim_under_agency_run() {
    let tmp = tempfile::tempdir().unwrap();
    for puzzle in ["sudoku/puzzle.json", "sudoku/hard.json"] {
        let input = example(puzzle);
        let (ok, out) = run(tmp.path(), &example("sudoku/solve.js"), &input, "{}");
        assert!(ok, "{out}");
        let clues: Value = serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
        let solution = result(&out)["solution"].as_str().unwrap().to_owned();
        assert!(
            is_solution(clues["puzzle"].as_str().unwrap(), &solution),
            "{solution}"
        );
    }
    // A contradiction is a job failure the envelope reports, not a crash.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, format!(r#"{{"puzzle": "11{}"}}"#, "0".repeat(79))).unwrap();
    let (ok, out) = run(
        tmp.path(),
        &example("sudoku/solve.js"),
        bad.to_str().unwrap(),
        "{}",
    );
    assert!(!ok);
    assert!(out.contains("digit 1 repeats at cell 0"), "{out}");

    let (ok, out) = run(
        tmp.path(),
        &example("render/render.js"),
        &example("render/page.json"),
        "{}",
    );
    assert!(ok, "{out}");
    let html = result(&out)["html"].as_str().unwrap().to_owned();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("<h2 id=\"numbers\">Numbers</h2>"));
    assert!(html.contains("<td class=\"num\">392600</td>"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "text is escaped"
    );
    assert!(
        !html.contains("<script>") && !html.contains("javascript:"),
        "{html}"
    );
    assert!(html.contains("<a href=\"https://example.org/\">Safe ones</a>"));

    let (ok, out) = run(
        tmp.path(),
        &example("stats/stats.js"),
        &example("stats/heatpump.json"),
        r#"{"x":"temp","y":"power"}"#,
    );
    assert!(ok, "{out}");
    let r = result(&out);
    let hour = &r["columns"]["hour"];
    assert_eq!(hour["n"], 24);
    assert_eq!(hour["mean"], 11.5);
    assert_eq!(hour["median"], 11.5);
    assert_eq!(
        hour["histogram"],
        serde_json::json!([3, 3, 3, 3, 3, 3, 3, 3])
    );
    // The data were made as power = 4.8 − 0.21·temp plus a small wobble.
    let slope = r["fit"]["slope"].as_f64().unwrap();
    let intercept = r["fit"]["intercept"].as_f64().unwrap();
    assert!((slope + 0.21).abs() < 0.01, "{slope}");
    assert!((intercept - 4.8).abs() < 0.05, "{intercept}");
    assert!(r["fit"]["r2"].as_f64().unwrap() > 0.98);
}

#[test]
fn the_examples_run_on_the_market_with_the_envelopes_agency_run_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);
    for (name, code, input, options, replicas) in examples() {
        let (_, local) = run(tmp.path(), &code, &input, options);
        let o = dev.agency(&[
            "job",
            "post",
            &code,
            &input,
            "--options",
            options,
            "--replicas",
            replicas,
            "--wait",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            local,
            "{name}: the market's envelope is agency run's"
        );
    }
    dev.stop();
}
