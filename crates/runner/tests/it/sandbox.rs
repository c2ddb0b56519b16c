//! The locked-down job process, attacked from inside: a job process runs what an engine exploit
//! would run (the `agency-job` test program's `probe` mode) against this test process, which
//! plays the agent. Each attempt must fail, with every layer, and with the layers other than
//! seccomp on their own.

use std::net::TcpListener;

use agency_runner::{Executor, JOB_UID, JobRun, Layer, QuickJsExecutor, SandboxReport};
use serde_json::{Value, json};

/// Runs the attacker in a job process of a zygote started as `agency-job <mode>`.
async fn attack(mode: &str) -> (SandboxReport, Value) {
    let exec = QuickJsExecutor::in_child(env!("CARGO_BIN_EXE_agency-job"), vec![mode.into()])
        .with_warm_children(0);
    let report = exec.sandbox().unwrap().unwrap();
    // A service on this host's loopback that a job process must not reach.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target =
        json!({"agent": std::process::id(), "port": listener.local_addr().unwrap().port()});
    let envelope = exec.run(JobRun::new("", target.to_string())).await.unwrap();
    assert!(
        listener.accept().is_err(),
        "the job process reached a loopback service"
    );
    exec.close().await;
    (report, envelope.outcome.unwrap().result)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_process_cannot_open_a_socket_read_the_agent_or_trace_it() {
    let (report, tried) = attack("probe").await;
    eprintln!("sandbox: {report:?}\nattempts: {tried:#}");
    // seccomp and no_new_privs need nothing but a Linux kernel from the last decade.
    for layer in [Layer::Seccomp, Layer::NoNewPrivs, Layer::NotDumpable] {
        assert!(report.has(layer), "{layer:?} refused: {report:?}");
    }
    for call in ["environ", "ptrace", "kill", "exec_memory", "fork"] {
        assert_eq!(tried[call], "EPERM", "{call}: {tried:#}");
    }
    assert_eq!(tried["socket"], "EPERM", "{tried:#}");
    assert_eq!(tried["descriptors"], json!([]), "{tried:#}");
    assert_eq!(tried["environment"], json!(["LC_ALL", "TZ"]), "{tried:#}");
    if rustix::process::geteuid().is_root() {
        assert_eq!(tried["uid"], JOB_UID, "{tried:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_seccomp_the_namespaces_and_the_uid_still_stop_each_attack() {
    let (report, tried) = attack("probe-without-seccomp").await;
    eprintln!("sandbox: {report:?}\nattempts: {tried:#}");
    // The calls themselves go through; the kernel's other checks refuse what they aim at.
    assert_eq!(tried["exec_memory"], "ok", "{tried:#}");
    if report.has(Layer::NoNetwork) {
        // An empty network namespace: not even loopback is up.
        assert_eq!(
            tried["socket"], "socket ok, connect ENETUNREACH",
            "{tried:#}"
        );
    }
    if rustix::process::geteuid().is_root() && report.has(Layer::OwnUid) {
        // nobody may not read, trace or signal a root process.
        assert_eq!(tried["uid"], JOB_UID, "{tried:#}");
        assert_eq!(tried["environ"], "EACCES", "{tried:#}");
        assert_eq!(tried["ptrace"], "EPERM", "{tried:#}");
        assert_eq!(tried["kill"], "EPERM", "{tried:#}");
    }
    assert_eq!(tried["descriptors"], json!([]), "{tried:#}");
}
