//! The shared envelope vectors (`tests/vectors/envelopes.json`): what a host's report becomes
//! (log budget, output limit, stack frames, kinds) and RFC 8785 canonical JSON. The browser
//! agent's TypeScript is checked against the same file (`web/tests/protocol.test.mjs`).
//! `UPDATE_VECTORS=1` rewrites the expected values from this implementation.

use agency_runner::{Report, envelope_of_report};
use serde_json::Value;

fn path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/envelopes.json")
}

#[test]
fn reports_become_the_vectors_envelopes_and_json_its_canonical_form() {
    let text = std::fs::read_to_string(path()).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let update = std::env::var_os("UPDATE_VECTORS").is_some();
    let reports = doc["reports"].as_array_mut().unwrap();
    assert!(reports.len() >= 10, "{} report cases", reports.len());
    for case in reports {
        let report: Report = serde_json::from_value(case["report"].clone()).unwrap();
        let limit = case["output_limit"].as_u64().unwrap();
        let got = String::from_utf8(envelope_of_report(report, limit).canonical_bytes()).unwrap();
        if update {
            case["envelope"] = Value::String(got);
        } else {
            assert_eq!(got, case["envelope"].as_str().unwrap(), "{}", case["name"]);
        }
    }
    let canonical = doc["canonical"].as_array_mut().unwrap();
    for case in canonical {
        let value: Value = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
        let got = serde_jcs::to_string(&value).unwrap();
        if update {
            case["canonical"] = Value::String(got);
        } else {
            assert_eq!(got, case["canonical"].as_str().unwrap(), "{}", case["name"]);
        }
    }
    if update {
        let mut text = serde_json::to_string_pretty(&doc).unwrap();
        text.push('\n');
        std::fs::write(path(), text).unwrap();
    }
}
