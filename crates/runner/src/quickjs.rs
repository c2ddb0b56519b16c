//! [`QuickJsExecutor`]: the QuickJS runtime as executors run it, each job in a child process
//! forked from the zygote (or in this process), and the child's side of it.

use std::{
    io::{Read, Write},
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use agency_primitives::Envelope;
use async_trait::async_trait;
use rustix::{
    fs::{FileType, fstat},
    process::{Resource, Rlimit, setrlimit},
};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::{
    Executor, JobRun, RunnerError, run_in_process,
    sandbox::{Sandbox, SandboxReport},
    zygote::{ForkError, JobProcess, Zygote},
};

/// Address space a child may map beyond the job's memory limit: the binary, its libraries,
/// the engine's own structures and the stack.
const AS_OVERHEAD: u64 = 512 << 20;
/// Time the parent waits past the job's wall-clock cap before killing the child.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// The QuickJS executor.
///
/// By default each job runs in a child process that reads the job, limits itself with rlimits
/// and runs it. Child processes are forked from a zygote (`program args…`, normally
/// `agency __job`, started once; see [`crate::zygote`]), and a few are forked ahead of time so
/// that even the fork overlaps other work; each still serves exactly one job.
/// [`QuickJsExecutor::in_process`] runs jobs on the blocking pool instead (tests, benchmarks:
/// no process isolation).
#[derive(Debug, Clone)]
pub struct QuickJsExecutor {
    pool: Option<Arc<ChildPool>>,
}

/// The zygote, and job processes forked ahead of time, waiting for their job on stdin.
#[derive(Debug)]
struct ChildPool {
    program: PathBuf,
    args: Vec<String>,
    /// Started on the first job; started again if it dies.
    zygote: Mutex<Option<Zygote>>,
    warm: Mutex<Vec<JobProcess>>,
    size: usize,
}

impl ChildPool {
    fn new(program: PathBuf, args: Vec<String>, size: usize) -> Self {
        Self {
            program,
            args,
            zygote: Mutex::new(None),
            warm: Mutex::new(Vec::new()),
            size,
        }
    }

    /// Forks a job process from the zygote, starting the zygote first if there is none or the
    /// one there is has gone.
    fn spawn(&self) -> std::io::Result<JobProcess> {
        let mut zygote = self.zygote.lock().expect("zygote lock");
        let mut restarted = false;
        loop {
            restarted |= zygote.is_none();
            let running = self.running(&mut zygote)?;
            match running.fork() {
                Ok(process) => return Ok(process),
                Err(ForkError::Failed(e)) => return Err(e),
                Err(ForkError::Gone(e)) => {
                    *zygote = None;
                    if restarted {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// The sandbox report of the zygote, starting it if there is none.
    fn report(&self) -> std::io::Result<SandboxReport> {
        let mut zygote = self.zygote.lock().expect("zygote lock");
        Ok(self.running(&mut zygote)?.report().clone())
    }

    /// The zygote, started first if there is none.
    fn running<'z>(&self, zygote: &'z mut Option<Zygote>) -> std::io::Result<&'z mut Zygote> {
        match zygote {
            Some(running) => Ok(running),
            None => Ok(zygote.insert(Zygote::start(&self.program, &self.args)?)),
        }
    }

    /// Returns a started child (a waiting one if any) and starts replacements in the background.
    fn take(self: &Arc<Self>) -> std::io::Result<(JobProcess, bool)> {
        let waiting = self.warm.lock().expect("pool lock").pop();
        let pool = self.clone();
        // Each fork waits on the zygote's reply: on the blocking pool, not an async thread.
        tokio::task::spawn_blocking(move || pool.refill());
        match waiting {
            Some(child) => Ok((child, true)),
            None => Ok((self.spawn()?, false)),
        }
    }

    fn refill(&self) {
        loop {
            if self.warm.lock().expect("pool lock").len() >= self.size {
                return;
            }
            match self.spawn() {
                Ok(child) => self.warm.lock().expect("pool lock").push(child),
                // Starting fails the same way on the job's path, where it is reported.
                Err(_) => return,
            }
        }
    }
}

/// What the child writes to stdout.
#[derive(Serialize, Deserialize)]
enum ChildReply {
    /// The envelope's canonical text. As text, not nested in this reply, so the parent parses
    /// it at the depth the engine itself parsed the job's result: whatever a child can
    /// write, the parent can read.
    Envelope(String),
    WallClock(Duration),
    Engine(String),
    /// Written by the handler of `SIGXCPU` ([`on_cpu_limit`]).
    CpuTime,
}

/// What [`on_cpu_limit`] writes: [`ChildReply::CpuTime`] as JSON.
const CPU_TIME_REPLY: &[u8] = b"\"CpuTime\"";

/// The handler of `SIGXCPU`, the CPU rlimit's signal: replies [`ChildReply::CpuTime`] and exits.
/// Only async-signal-safe calls: `write` of a constant and `_exit`.
extern "C" fn on_cpu_limit(_: libc::c_int) {
    #[allow(
        unsafe_code,
        reason = "the two calls a signal handler may make; see SAFETY"
    )]
    // SAFETY: write of a static buffer to the reply's descriptor, then _exit; both are
    // async-signal-safe and touch no state of the interrupted code.
    unsafe {
        libc::write(1, CPU_TIME_REPLY.as_ptr().cast(), CPU_TIME_REPLY.len());
        libc::_exit(4);
    }
}

/// Makes the CPU rlimit's `SIGXCPU` end the process with a [`ChildReply::CpuTime`] instead of
/// a signal death the executor could not tell from a crash.
fn reply_on_cpu_limit() -> std::io::Result<()> {
    #[allow(unsafe_code, reason = "sigaction has no wrapper in rustix; see SAFETY")]
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask is a valid argument;
    // the handler only makes async-signal-safe calls.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_cpu_limit as *const () as libc::sighandler_t;
        libc::sigemptyset(&raw mut action.sa_mask);
        libc::sigaction(libc::SIGXCPU, &raw const action, std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl QuickJsExecutor {
    /// Job processes kept started ahead of time by [`QuickJsExecutor::in_child`].
    pub const WARM_CHILDREN: usize = 2;

    /// Runs each job in a child process started as `program args…`, which must call
    /// [`child_main`].
    pub fn in_child(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        let pool = ChildPool::new(program.into(), args, Self::WARM_CHILDREN);
        Self {
            pool: Some(Arc::new(pool)),
        }
    }

    /// Sets how many job processes are kept started ahead of time (0 for one-shot use, such as
    /// `agency run`, where a waiting child would only be killed at exit).
    pub fn with_warm_children(self, n: usize) -> Self {
        let pool = self
            .pool
            .map(|p| Arc::new(ChildPool::new(p.program.clone(), p.args.clone(), n)));
        Self { pool }
    }

    /// Runs jobs in this process, on tokio's blocking pool.
    pub fn in_process() -> Self {
        Self { pool: None }
    }

    /// The layers job processes run in (see [`crate::sandbox`]), starting the zygote to learn
    /// them: `None` in process, where a job has only its QuickJS runtime around it.
    pub fn sandbox(&self) -> Option<Result<SandboxReport, RunnerError>> {
        let pool = self.pool.as_ref()?;
        Some(
            pool.report().map_err(|e| {
                RunnerError::Process(format!("starting {}: {e}", pool.program.display()))
            }),
        )
    }

    /// The pid of the zygote the job processes are forked from: `None` in process, and until
    /// the first job starts it. For monitoring and tests.
    pub fn zygote_pid(&self) -> Option<u32> {
        let pool = self.pool.as_ref()?;
        let zygote = pool.zygote.lock().expect("zygote lock");
        zygote.as_ref().map(Zygote::pid)
    }
}

#[async_trait]
impl Executor for QuickJsExecutor {
    async fn run(&self, job: JobRun) -> Result<Envelope, RunnerError> {
        crate::engine::check_limits(&job)?;
        match &self.pool {
            None => tokio::task::spawn_blocking(move || run_in_process(&job))
                .await
                .map_err(|e| RunnerError::Engine(format!("the job thread failed: {e}")))?,
            Some(pool) => run_child(pool, job).await,
        }
    }

    fn runtime(&self) -> crate::Runtime {
        crate::Runtime::QuickJs
    }
}

async fn run_child(pool: &Arc<ChildPool>, job: JobRun) -> Result<Envelope, RunnerError> {
    let program = &pool.program;
    let io = |what: &str, e: std::io::Error| {
        RunnerError::Process(format!("{what} {}: {e}", program.display()))
    };
    let (mut child, waited) = pool.take().map_err(|e| io("starting", e))?;
    let request = serde_json::to_vec(&job).expect("a job serializes");
    let mut stdin = child.stdin().expect("a new job process has its stdin");
    if let Err(e) = stdin.write_all(&request).await {
        if !waited {
            return Err(io("writing the job to", e));
        }
        // A waiting child that died meanwhile: start a fresh one for this job.
        child = pool.spawn().map_err(|e| io("starting", e))?;
        stdin = child.stdin().expect("a new job process has its stdin");
        stdin
            .write_all(&request)
            .await
            .map_err(|e| io("writing the job to", e))?;
    }
    drop(stdin);
    let cap = job.wall_clock + KILL_GRACE;
    let (stdout, stderr) = match tokio::time::timeout(cap, child.output()).await {
        Ok(out) => out.map_err(|e| io("waiting for", e))?,
        // Dropping the child kills it.
        Err(_) => {
            return Err(RunnerError::WallClock {
                after: job.wall_clock,
            });
        }
    };
    match serde_json::from_slice::<ChildReply>(&stdout) {
        Ok(ChildReply::Envelope(text)) => serde_json::from_str(&text).map_err(|e| {
            RunnerError::Engine(format!("the job process wrote an unreadable envelope: {e}"))
        }),
        Ok(ChildReply::WallClock(after)) => Err(RunnerError::WallClock { after }),
        Ok(ChildReply::Engine(e)) => Err(RunnerError::Engine(e)),
        Ok(ChildReply::CpuTime) => Err(RunnerError::CpuTime {
            after: Duration::from_secs(cpu_seconds(&job)),
        }),
        Err(_) => {
            let stderr = String::from_utf8_lossy(&stderr);
            let stderr = stderr.trim();
            // The zygote reaps its children, so the exit status is not ours to see.
            Err(RunnerError::Crashed {
                status: "it ended without a reply".to_owned(),
                stderr: if stderr.is_empty() {
                    String::new()
                } else {
                    format!(": {stderr:.500}")
                },
            })
        }
    }
}

/// The job program's `main`: `agency __job` calls this first thing, before any thread starts.
///
/// Started with a socket as stdin it is the executor's zygote (see [`crate::zygote`]) and forks
/// job processes on request. Otherwise it is one job process: it reads a [`JobRun`] (JSON) from
/// stdin, limits and locks itself down ([`crate::sandbox`]), runs the job in QuickJS and writes
/// the reply to stdout.
pub fn child_main() -> ExitCode {
    child_main_with(serve_one)
}

fn child_main_with(job: fn(&Sandbox) -> ExitCode) -> ExitCode {
    let stdin = std::io::stdin();
    let is_socket = fstat(&stdin).is_ok_and(|st| FileType::from_raw_mode(st.st_mode).is_socket());
    if !is_socket {
        return job(&Sandbox::prepare());
    }
    match rustix::io::dup(&stdin) {
        Ok(socket) => crate::zygote::serve(socket, job),
        Err(e) => child_failed(&format!("taking the zygote's socket: {e}")),
    }
}

/// The start of every job process: reads its job, sets its rlimits and enters the sandbox.
fn take_job(sandbox: &Sandbox) -> Result<JobRun, ExitCode> {
    let mut request = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut request) {
        return Err(child_failed(&format!("reading the job: {e}")));
    }
    let job: JobRun = match serde_json::from_slice(&request) {
        Ok(job) => job,
        Err(e) => return Err(child_failed(&format!("the job is not valid: {e}"))),
    };
    if let Err(e) = limit_self(&job) {
        return Err(child_failed(&format!("setting rlimits: {e}")));
    }
    if let Err(e) = sandbox.enter() {
        return Err(child_failed(&format!("entering the sandbox: {e}")));
    }
    Ok(job)
}

/// One job process: see [`child_main`].
fn serve_one(sandbox: &Sandbox) -> ExitCode {
    let job = match take_job(sandbox) {
        Ok(job) => job,
        Err(code) => return code,
    };
    let reply = match crate::engine::run_on_main_thread(&job) {
        Ok(envelope) => envelope_reply(&envelope),
        Err(RunnerError::WallClock { after }) => ChildReply::WallClock(after),
        Err(e) => ChildReply::Engine(e.to_string()),
    };
    write_reply(&reply)
}

fn envelope_reply(envelope: &Envelope) -> ChildReply {
    ChildReply::Envelope(
        String::from_utf8(envelope.canonical_bytes()).expect("canonical JSON is UTF-8"),
    )
}

fn write_reply(reply: &ChildReply) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut stdout, reply)
        .map_err(std::io::Error::from)
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(3),
    }
}

/// A job program for this crate's tests that runs an attacker instead of the job: each job
/// process enters the sandbox as [`child_main`]'s do, then tries what an engine exploit would
/// try against the agent whose pid is the job's input (`{"agent": pid}`), and replies with an
/// envelope whose result says how each attempt ended. See [`crate::sandbox::probe`].
///
/// With `seccomp` false the job processes skip the seccomp program, to show what the other
/// layers stop on their own.
#[cfg(feature = "test-utils")]
pub fn probe_main(seccomp: bool) -> ExitCode {
    fn probe_one(sandbox: &Sandbox) -> ExitCode {
        let job = match take_job(sandbox) {
            Ok(job) => job,
            Err(code) => return code,
        };
        let result = crate::sandbox::probe(&job.input);
        write_reply(&envelope_reply(&Envelope {
            outcome: Ok(agency_primitives::Success {
                result,
                details: serde_json::Value::Null,
            }),
            logs: Vec::new(),
        }))
    }
    if seccomp {
        child_main_with(probe_one)
    } else {
        child_main_with(|sandbox| probe_one(&sandbox.without_seccomp()))
    }
}

fn child_failed(message: &str) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "agency job process: {message}");
    ExitCode::from(2)
}

/// The CPU rlimit of a job process, in seconds: just past the wall-clock cap, so that it only
/// catches work the wall-clock meter cannot see (a native builtin that runs long).
fn cpu_seconds(job: &JobRun) -> u64 {
    job.wall_clock.as_secs() + 1
}

/// Caps this process: address space (the job's memory plus overhead), CPU seconds (the
/// wall-clock cap), no core dumps, no files written, a handful of descriptors.
fn limit_self(job: &JobRun) -> std::io::Result<()> {
    let cap = |n: u64| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    let cpu = cpu_seconds(job);
    reply_on_cpu_limit()?;
    setrlimit(
        Resource::As,
        cap(job.limits.memory.saturating_add(AS_OVERHEAD)),
    )?;
    setrlimit(
        Resource::Cpu,
        Rlimit {
            current: Some(cpu),
            maximum: Some(cpu + 1),
        },
    )?;
    // The job runs on this process's main thread, whose stack grows up to the limit in force
    // when it grows: room for the job's stack limit, the frames below it and the headroom.
    let stack = rustix::process::getrlimit(Resource::Stack);
    let need = job
        .limits
        .stack
        .saturating_add(2 * crate::engine::STACK_HEADROOM);
    if stack.maximum.is_some_and(|hard| hard < need) {
        return Err(std::io::Error::other(format!(
            "the job's stack limit needs {need} bytes of stack, the hard limit is lower"
        )));
    }
    setrlimit(
        Resource::Stack,
        Rlimit {
            current: Some(need.max(stack.current.unwrap_or(0))),
            maximum: stack.maximum,
        },
    )?;
    setrlimit(Resource::Core, cap(0))?;
    setrlimit(Resource::Fsize, cap(0))?;
    setrlimit(Resource::Nofile, cap(8))?;
    Ok(())
}
