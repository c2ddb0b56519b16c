//! The job child process for this crate's tests (the `agency` binary's `__job` does the same).

fn main() -> std::process::ExitCode {
    agency_runner::child_main()
}
