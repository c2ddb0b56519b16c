//! README.md's quick start, run as written (with the test's binary for the release build).

use std::path::Path;

use crate::{clean_cmd, stderr, stdout};

/// The first ```sh block after `heading` in README.md.
fn block_after(readme: &str, heading: &str) -> String {
    let section = &readme[readme.find(heading).expect("the heading")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    section[start..start + section[start..].find("```").unwrap()].to_owned()
}

#[test]
fn the_quick_start_runs_a_replicated_sudoku_on_agency_dev() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let script = block_after(&readme, "## Quick start");
    let build = "cargo build --release && ";
    assert!(
        script.starts_with(build),
        "the quick start builds first: {script}"
    );
    let script =
        script[build.len()..].replace("./target/release/agency", env!("CARGO_BIN_EXE_agency"));
    let dir = tempfile::tempdir().unwrap();
    // A clean environment; bash runs the line from the repository root.
    let o = clean_cmd("bash", dir.path())
        .args(["-c", &script])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{script}\n{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            r#""ok":true,"result":{"solution":"534678912672195348198342567859761423426853791713924856961537284287419635345286179"}"#
        ),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("accepted"), "{}", stderr(&o));
}
