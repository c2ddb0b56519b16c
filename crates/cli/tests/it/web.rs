//! The dapp in a real headless Chromium (playwright-core, web/tests/ui.mjs) against `agency dev`.

use std::path::Path;

use crate::dev::Dev;
use crate::{stderr, stdout};

#[test]
fn the_dapp_posts_follows_and_sandboxes_results_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);
    let web = dev.doc["web"].as_str().unwrap().to_owned();
    // Screenshots are kept as test artifacts.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    let o = std::process::Command::new("node")
        .arg(root.join("web/tests/ui.mjs"))
        .arg(&web)
        .arg(&shots)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "web/tests/ui.mjs failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains("ui ok"));
    assert!(shots.join("job-accepted.png").exists());
    dev.stop();
}
