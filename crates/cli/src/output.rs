//! The one place that writes to stdout and stderr directly.
//!
//! stdout carries only a command's result (text, or JSON with `--json`); everything else —
//! progress, notices, errors — goes to stderr. Clippy's `print_stdout`/`print_stderr` lints
//! keep other modules from printing.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use serde::Serialize;

/// Writes results in the format the user asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
}

impl Output {
    /// Writes one line of a human-readable result to stdout.
    pub(crate) fn line(&self, text: impl std::fmt::Display) {
        println!("{text}");
    }

    /// Writes a line to stdout as is, in every output mode (already machine-readable).
    pub(crate) fn raw_line(&self, text: &str) {
        println!("{text}");
    }

    /// Writes a JSON result document to stdout.
    pub(crate) fn json(&self, value: &impl Serialize) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("results serialize")
        );
    }

    /// Writes a notice for a person to stderr, unless `-q` was given or output is JSON.
    pub(crate) fn notice(&self, text: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            eprintln!("{text}");
        }
    }

    /// Returns stdout for commands whose result is raw bytes (`store cat`).
    pub(crate) fn raw_stdout(&self) -> tokio::io::Stdout {
        tokio::io::stdout()
    }

    /// Reports a failed command on stderr: the error and its causes, as text or JSON.
    pub(crate) fn error(&self, err: &anyhow::Error) {
        if self.json {
            let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
            let doc = serde_json::json!({"error": err.to_string(), "causes": causes});
            eprintln!("{doc}");
        } else {
            let mut msg = format!("error: {err}");
            for cause in err.chain().skip(1) {
                msg.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("{msg}");
        }
        let _ = std::io::stderr().flush();
    }
}
