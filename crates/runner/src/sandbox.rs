//! The job process's lock-down (Linux): the layers around a job beyond its rlimits.
//!
//! The zygote prepares what it can once, before it forks anything ([`Sandbox::prepare`]):
//! - an empty network namespace (unshared as root, or inside a new user namespace otherwise);
//! - as root, the job uid [`JOB_UID`] (`nobody`), with no supplementary groups and so no
//!   capabilities;
//! - `no_new_privs`, and not dumpable;
//! - the seccomp program, compiled.
//!
//! Forks inherit all of that. Each job process then closes every descriptor but its three
//! pipes and installs the program ([`Sandbox::enter`]) after reading its job and setting its
//! rlimits, before the job's code runs. The environment is scrubbed when the executor starts the
//! zygote (`TZ` and `LC_ALL` only).
//!
//! A layer the kernel refuses (a container without user namespaces, an old kernel) is recorded
//! in the [`SandboxReport`] with its reason; the rest still apply, and the agent says at start
//! what was refused.

use std::collections::BTreeMap;

use rustix::{
    process::{DumpableBehavior, set_dumpable_behavior},
    thread::{UnshareFlags, set_no_new_privs},
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

/// The uid (and gid) job processes run as when the agent runs as root: `nobody`.
pub const JOB_UID: u32 = 65534;

/// A sandbox layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Layer {
    /// `PR_SET_NO_NEW_PRIVS`: no exec can gain privileges (and seccomp needs it).
    NoNewPrivs,
    /// `PR_SET_DUMPABLE` 0: no process of the same uid can ptrace the job or read its memory.
    NotDumpable,
    /// Its own network namespace, with no interface but a down loopback.
    NoNetwork,
    /// A uid of its own ([`JOB_UID`] when the agent is root, a user namespace otherwise).
    OwnUid,
    /// Descriptors beyond stdin, stdout and stderr closed.
    ClosedDescriptors,
    /// The seccomp allowlist: every other system call fails with `EPERM`.
    Seccomp,
}

impl Layer {
    /// What the layer is, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Layer::NoNewPrivs => "no new privileges",
            Layer::NotDumpable => "not dumpable",
            Layer::NoNetwork => "no network (own network namespace)",
            Layer::OwnUid => "own uid",
            Layer::ClosedDescriptors => "descriptors closed",
            Layer::Seccomp => "seccomp allowlist",
        }
    }
}

/// Which layers a zygote's job processes get, and why any is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    /// The layers in force.
    pub applied: Vec<Layer>,
    /// The layers the kernel refused, with its reason.
    pub refused: Vec<(Layer, String)>,
    /// How the uid was isolated: `"uid 65534"`, `"user namespace"`, or empty.
    pub uid: String,
}

impl SandboxReport {
    fn record(&mut self, layer: Layer, result: Result<(), String>) {
        match result {
            Ok(()) => self.applied.push(layer),
            Err(why) => self.refused.push((layer, why)),
        }
    }

    /// Whether `layer` is in force.
    pub fn has(&self, layer: Layer) -> bool {
        self.applied.contains(&layer)
    }
}

/// What the zygote prepared, for its job processes to enter.
#[derive(Debug)]
pub(crate) struct Sandbox {
    filter: Option<BpfProgram>,
    report: SandboxReport,
}

impl Sandbox {
    /// Prepares the layers a process can take once for all its forks. Must run while the
    /// process is single-threaded (unsharing a user namespace and changing uid need it).
    pub(crate) fn prepare() -> Self {
        let mut report = SandboxReport::default();
        let root = rustix::process::geteuid().is_root();

        // The namespaces first: unsharing the network namespace needs root's capabilities, or
        // those a new user namespace gives.
        let net = if root {
            unshare(UnshareFlags::NEWNET)
        } else {
            unshare(UnshareFlags::NEWUSER | UnshareFlags::NEWNET)
        };
        let net_ok = net.is_ok();
        report.record(Layer::NoNetwork, net);
        let uid = if root {
            drop_to(JOB_UID).map(|()| format!("uid {JOB_UID}"))
        } else if net_ok {
            Ok("user namespace".to_owned())
        } else {
            Err("not root, and no user namespace".to_owned())
        };
        match uid {
            Ok(how) => {
                report.uid = how;
                report.record(Layer::OwnUid, Ok(()));
            }
            Err(why) => report.record(Layer::OwnUid, Err(why)),
        }
        // After the uid change, which resets the dumpable flag.
        report.record(
            Layer::NotDumpable,
            set_dumpable_behavior(DumpableBehavior::NotDumpable).map_err(|e| e.to_string()),
        );
        report.record(
            Layer::NoNewPrivs,
            set_no_new_privs(true).map_err(|e| e.to_string()),
        );
        // glibc reads the time zone's file (`TZ=UTC`) on first use; job processes may not open
        // files, so the zygote loads it for its forks.
        load_time_zone();
        // Both are entered by each job process, which fails its job rather than run without
        // them.
        report.record(Layer::ClosedDescriptors, Ok(()));
        let filter = compile();
        report.record(
            Layer::Seccomp,
            filter.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        Self {
            filter: filter.ok(),
            report,
        }
    }

    /// What the job processes get.
    pub(crate) fn report(&self) -> &SandboxReport {
        &self.report
    }

    /// Locks the calling job process down: closes every descriptor above stderr and installs
    /// the seccomp program. Nothing the job process does afterwards may open, map executable
    /// memory, fork, signal or trace.
    pub(crate) fn enter(&self) -> Result<(), String> {
        close_from(3).map_err(|e| format!("closing descriptors: {e}"))?;
        if let Some(filter) = &self.filter {
            seccompiler::apply_filter(filter).map_err(|e| format!("seccomp: {e}"))?;
        }
        Ok(())
    }
}

fn unshare(flags: UnshareFlags) -> Result<(), String> {
    // SAFETY: neither flag is `FILES`, the one that can leave threads with descriptor tables
    // that disagree; and the caller is single-threaded anyway.
    #[allow(
        unsafe_code,
        reason = "rustix marks unshare unsafe for UnshareFlags::FILES"
    )]
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(|e| e.to_string())
}

/// Becomes `uid`:`uid` with no supplementary groups (root only). The kernel clears every
/// capability when the effective uid leaves 0.
fn drop_to(uid: u32) -> Result<(), String> {
    use rustix::{
        process::{Gid, Uid},
        thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid},
    };
    let (gid, uid) = (Gid::from_raw(uid), Uid::from_raw(uid));
    // rustix's set_thread_* are the raw calls, which change this thread only: the caller is the
    // only thread.
    set_thread_groups(&[])
        .and_then(|()| set_thread_res_gid(gid, gid, gid))
        .and_then(|()| set_thread_res_uid(uid, uid, uid))
        .map_err(|e| e.to_string())
}

#[allow(unsafe_code, reason = "tzset has no safe wrapper; see SAFETY")]
fn load_time_zone() {
    unsafe extern "C" {
        fn tzset();
    }
    // SAFETY: tzset reads the environment and the zone file; the caller is single-threaded, so
    // nothing writes the environment meanwhile.
    unsafe { tzset() };
}

/// Closes every descriptor from `first` up.
#[allow(
    unsafe_code,
    reason = "close_range has no wrapper in rustix; see SAFETY"
)]
fn close_from(first: u32) -> std::io::Result<()> {
    // SAFETY: closes descriptors this process owns and never uses again: a job process holds
    // nothing above its three standard streams that any code still refers to.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::ENOSYS) {
        return Err(e);
    }
    // Before Linux 5.9: one by one, up to the most a job process could have been handed.
    for fd in first..1024 {
        // SAFETY: as above; closing a descriptor that is not open is EBADF, ignored.
        unsafe { libc::close(fd as libc::c_int) };
    }
    Ok(())
}

/// The system calls a job process makes once its job's code runs: reading its job's pipes and
/// writing its reply, memory (never executable), futexes, signals' bookkeeping, clocks,
/// randomness and exit. Every other call fails with `EPERM`.
fn allowed() -> Vec<(i64, Vec<SeccompRule>)> {
    let no_exec = || {
        // The `prot` argument (the third) must not ask for PROT_EXEC: no shellcode pages.
        vec![
            SeccompRule::new(vec![
                SeccompCondition::new(
                    2,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
                    0,
                )
                .expect("a valid condition"),
            ])
            .expect("a valid rule"),
        ]
    };
    let any = |call: libc::c_long| (call, Vec::new());
    let mut calls = vec![
        any(libc::SYS_read),
        any(libc::SYS_write),
        any(libc::SYS_readv),
        any(libc::SYS_writev),
        any(libc::SYS_close),
        any(libc::SYS_fstat),
        any(libc::SYS_newfstatat),
        any(libc::SYS_lseek),
        (libc::SYS_mmap, no_exec()),
        (libc::SYS_mprotect, no_exec()),
        any(libc::SYS_munmap),
        any(libc::SYS_mremap),
        any(libc::SYS_brk),
        any(libc::SYS_madvise),
        any(libc::SYS_futex),
        any(libc::SYS_rt_sigreturn),
        any(libc::SYS_rt_sigprocmask),
        any(libc::SYS_rt_sigaction),
        any(libc::SYS_sigaltstack),
        any(libc::SYS_clock_gettime),
        any(libc::SYS_clock_getres),
        any(libc::SYS_gettimeofday),
        any(libc::SYS_getrandom),
        any(libc::SYS_sched_yield),
        any(libc::SYS_getpid),
        any(libc::SYS_gettid),
        any(libc::SYS_getuid),
        any(libc::SYS_geteuid),
        any(libc::SYS_getgid),
        any(libc::SYS_getegid),
        any(libc::SYS_exit),
        any(libc::SYS_exit_group),
    ];
    #[cfg(target_arch = "x86_64")]
    calls.push(any(libc::SYS_time));
    calls
}

fn compile() -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let rules: BTreeMap<i64, Vec<SeccompRule>> = allowed().into_iter().collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

#[cfg(feature = "test-utils")]
impl Sandbox {
    /// The same sandbox without its seccomp program, so that tests can show what the other
    /// layers stop on their own.
    pub(crate) fn without_seccomp(&self) -> Self {
        Self {
            filter: None,
            report: self.report.clone(),
        }
    }
}

/// What an engine exploit would try from a job process, each attempt's outcome as text: `"ok"`
/// or the error's name. `input` is `{"agent": pid, "port": a TCP port on 127.0.0.1}`.
#[cfg(feature = "test-utils")]
#[allow(
    unsafe_code,
    reason = "the probe makes the raw calls an exploit would make"
)]
pub(crate) fn probe(input: &str) -> serde_json::Value {
    let input: serde_json::Value = serde_json::from_str(input).unwrap_or_default();
    let agent = input["agent"].as_i64().unwrap_or(1) as libc::pid_t;
    let port = input["port"].as_u64().unwrap_or(9) as u16;
    let outcome = |rc: libc::c_long| -> String {
        if rc >= 0 {
            return "ok".to_owned();
        }
        match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
            libc::EPERM => "EPERM".to_owned(),
            libc::EACCES => "EACCES".to_owned(),
            libc::ENETUNREACH => "ENETUNREACH".to_owned(),
            libc::ECONNREFUSED => "ECONNREFUSED".to_owned(),
            libc::ESRCH => "ESRCH".to_owned(),
            libc::EBADF => "EBADF".to_owned(),
            n => format!("errno {n}"),
        }
    };
    // SAFETY (every block below): raw system calls on values this function owns; a descriptor
    // that opens is closed, a forked child exits at once, an attached tracee is detached.
    let socket = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if fd < 0 {
            outcome(-1)
        } else {
            let addr = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
                },
                sin_zero: [0; 8],
            };
            let rc = libc::connect(
                fd,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            let connected = outcome(rc.into());
            libc::close(fd);
            format!("socket ok, connect {connected}")
        }
    };
    let environ = unsafe {
        let path = std::ffi::CString::new(format!("/proc/{agent}/environ")).expect("no NUL");
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
        if fd >= 0 {
            libc::close(fd);
        }
        outcome(fd.into())
    };
    let ptrace = unsafe {
        let rc = libc::ptrace(libc::PTRACE_ATTACH, agent, 0, 0);
        if rc == 0 {
            libc::ptrace(libc::PTRACE_DETACH, agent, 0, 0);
        }
        outcome(rc)
    };
    let kill = unsafe { outcome(libc::kill(agent, 0).into()) };
    let exec_memory = unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if page == libc::MAP_FAILED {
            outcome(-1)
        } else {
            libc::munmap(page, 4096);
            "ok".to_owned()
        }
    };
    let fork = unsafe {
        let pid = libc::fork();
        if pid == 0 {
            libc::_exit(0);
        }
        outcome(pid.into())
    };
    let descriptors: Vec<i32> = (3..256)
        .filter(|&fd| unsafe { libc::read(fd, std::ptr::null_mut(), 0) } == 0)
        .collect();
    let environment: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    serde_json::json!({
        "socket": socket,
        "environ": environ,
        "ptrace": ptrace,
        "kill": kill,
        "exec_memory": exec_memory,
        "fork": fork,
        "descriptors": descriptors,
        "environment": environment,
        "uid": rustix::process::getuid().as_raw(),
    })
}
