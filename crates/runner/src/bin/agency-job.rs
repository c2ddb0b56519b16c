//! The job child process for this crate's tests (the `agency` binary's `__job` does the same).
//! With the argument `probe` (or `probe-without-seccomp`) its job processes run an attacker
//! instead of the job (see `agency_runner::probe_main`).

fn main() -> std::process::ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("probe") => agency_runner::probe_main(true),
        Some("probe-without-seccomp") => agency_runner::probe_main(false),
        _ => agency_runner::child_main(),
    }
}
