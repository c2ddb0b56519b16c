//! Job processes forked from a zygote: both sides of the fork server.
//!
//! Starting a job process with `exec` costs more than running a trivial job: the kernel maps
//! and faults in the whole binary and the dynamic loader relocates it, every time. So the
//! executor starts the job program once, as a *zygote*, and each job process is a `fork` of it:
//! a copy of a process that has already been loaded, which still serves exactly one job and
//! limits itself before reading it, as an exec'd one did.
//!
//! The protocol runs over a Unix stream socket that is the zygote's stdin (which is how the job
//! program tells it is a zygote, see [`crate::child_main`]). The zygote first prepares the
//! sandbox its forks inherit ([`crate::sandbox`]) and sends its [`SandboxReport`]: its length as
//! 4 little-endian bytes, then JSON. Then one exchange at a time:
//!
//! - the executor sends one byte with three descriptors attached (`SCM_RIGHTS`): the read end
//!   of the new process's stdin pipe and the write ends of its stdout and stderr pipes;
//! - the zygote forks; the child puts the three on its fds 0, 1 and 2 and serves one job; the
//!   zygote replies with the child's pid as 4 little-endian bytes and a pidfd for it attached,
//!   or with a negated errno and nothing attached when `fork` failed.
//!
//! The executor kills job processes through their pidfd, so a recycled pid is never signalled.
//! The zygote reaps its children; an exit status is therefore not seen by the executor, which
//! judges a job process by its reply alone. The zygote exits when the socket closes.

use std::{
    io::{self, IoSlice, IoSliceMut},
    mem::MaybeUninit,
    os::{
        fd::{AsFd, OwnedFd},
        unix::net::UnixStream,
    },
    path::Path,
    process::{Command, ExitCode, Stdio},
    time::Duration,
};

use rustix::{
    event::{PollFd, PollFlags, Timespec, poll},
    io::Errno,
    net::{
        RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
        SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
    },
    pipe::{PipeFlags, pipe_with},
    process::{Pid, PidfdFlags, Signal, WaitOptions, pidfd_open, pidfd_send_signal, waitpid},
};
use tokio::{
    io::AsyncReadExt,
    net::unix::pipe::{Receiver, Sender},
};

use crate::sandbox::{Sandbox, SandboxReport};

/// How often an idle zygote reaps its exited children.
const REAP_EVERY: Duration = Duration::from_millis(200);

/// How long a starting zygote may take to send its sandbox report.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest sandbox report a zygote may send.
const MAX_HELLO: u32 = 64 << 10;

/// The executor's handle on a running zygote.
#[derive(Debug)]
pub(crate) struct Zygote {
    process: std::process::Child,
    socket: UnixStream,
    report: SandboxReport,
}

/// Why a fork request failed.
#[derive(Debug)]
pub(crate) enum ForkError {
    /// The zygote is gone (or talked nonsense): start another.
    Gone(io::Error),
    /// The zygote is fine but could not fork (for instance, too many processes).
    Failed(io::Error),
}

impl Zygote {
    /// Starts `program args…` with a socket as its stdin, in the environment job processes get.
    pub(crate) fn start(program: &Path, args: &[String]) -> io::Result<Self> {
        let (socket, theirs) = UnixStream::pair()?;
        let process = Command::new(program)
            .args(args)
            .env_clear()
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut zygote = Self {
            process,
            socket,
            report: SandboxReport::default(),
        };
        // Dropping the half-started zygote kills it.
        zygote.report = zygote.hello()?;
        Ok(zygote)
    }

    /// Reads the sandbox report a zygote sends first.
    fn hello(&mut self) -> io::Result<SandboxReport> {
        use std::io::Read;
        let unexpected = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        self.socket.set_read_timeout(Some(HELLO_TIMEOUT))?;
        let mut len = [0u8; 4];
        self.socket.read_exact(&mut len)?;
        let len = u32::from_le_bytes(len);
        if len > MAX_HELLO {
            return Err(unexpected("the zygote's sandbox report is too long"));
        }
        let mut text = vec![0; len as usize];
        self.socket.read_exact(&mut text)?;
        self.socket.set_read_timeout(None)?;
        serde_json::from_slice(&text)
            .map_err(|_| unexpected("the zygote's sandbox report is unreadable"))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.id()
    }

    /// The sandbox the zygote's job processes run in.
    pub(crate) fn report(&self) -> &SandboxReport {
        &self.report
    }

    /// Asks the zygote for a new job process.
    pub(crate) fn fork(&mut self) -> Result<JobProcess, ForkError> {
        let pipes = || pipe_with(PipeFlags::CLOEXEC).map_err(|e| ForkError::Failed(e.into()));
        let (stdin_theirs, stdin) = pipes()?;
        let (stdout, stdout_theirs) = pipes()?;
        let (stderr, stderr_theirs) = pipes()?;

        let theirs = [
            stdin_theirs.as_fd(),
            stdout_theirs.as_fd(),
            stderr_theirs.as_fd(),
        ];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmRights(&theirs));
        sendmsg(
            &self.socket,
            &[IoSlice::new(b"F")],
            &mut control,
            SendFlags::NOSIGNAL,
        )
        .map_err(|e| ForkError::Gone(e.into()))?;
        // Only the job process may hold these ends, or its pipes never reach end of file.
        drop((stdin_theirs, stdout_theirs, stderr_theirs));

        let mut reply = [0u8; 4];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            &self.socket,
            &mut [IoSliceMut::new(&mut reply)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .map_err(|e| ForkError::Gone(e.into()))?;
        let pidfd = received_fds(&mut control).into_iter().next();
        if got.bytes != reply.len() {
            return Err(ForkError::Gone(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the zygote closed its socket",
            )));
        }
        let pid = i32::from_le_bytes(reply);
        let pidfd = match pidfd {
            Some(fd) if pid > 0 => fd,
            _ if pid <= 0 => return Err(ForkError::Failed(io::Error::from_raw_os_error(-pid))),
            _ => {
                return Err(ForkError::Gone(io::Error::other(
                    "the zygote replied without a pidfd",
                )));
            }
        };
        Ok(JobProcess {
            stdin: Some(Sender::from_owned_fd(stdin).map_err(ForkError::Failed)?),
            stdout: Receiver::from_owned_fd(stdout).map_err(ForkError::Failed)?,
            stderr: Receiver::from_owned_fd(stderr).map_err(ForkError::Failed)?,
            pidfd,
        })
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        // Closing the socket would end it too; killing does not wait for its next poll.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A forked job process: its pipes, and a pidfd to kill it by. Dropping it kills the process
/// (harmless once it has exited).
#[derive(Debug)]
pub(crate) struct JobProcess {
    stdin: Option<Sender>,
    stdout: Receiver,
    stderr: Receiver,
    pidfd: OwnedFd,
}

impl JobProcess {
    /// The process's stdin; dropping it is the end of the job.
    pub(crate) fn stdin(&mut self) -> Option<Sender> {
        self.stdin.take()
    }

    /// Reads stdout and stderr to their end: the process has exited or closed both.
    pub(crate) async fn output(&mut self) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (a, b) = tokio::join!(
            self.stdout.read_to_end(&mut out),
            self.stderr.read_to_end(&mut err)
        );
        a?;
        b?;
        Ok((out, err))
    }
}

impl Drop for JobProcess {
    fn drop(&mut self) {
        let _ = pidfd_send_signal(&self.pidfd, Signal::KILL);
    }
}

fn received_fds(control: &mut RecvAncillaryBuffer<'_>) -> Vec<OwnedFd> {
    control
        .drain()
        .flat_map(|message| match message {
            RecvAncillaryMessage::ScmRights(fds) => fds.collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The zygote's loop: prepares the sandbox, sends its report, then forks a job process per
/// request until the socket closes. In each forked child it returns too, with the exit code of
/// `job` (which serves the one job, in `sandbox`).
pub(crate) fn serve(socket: OwnedFd, job: fn(&Sandbox) -> ExitCode) -> ExitCode {
    let every = Timespec::try_from(REAP_EVERY).expect("a small duration");
    let sandbox = Sandbox::prepare();
    let report = serde_json::to_vec(sandbox.report()).expect("a report serializes");
    let len = u32::try_from(report.len()).expect("a short report");
    let hello = [&len.to_le_bytes()[..], &report].concat();
    if rustix::io::write(&socket, &hello) != Ok(hello.len()) {
        return ExitCode::from(2);
    }
    loop {
        reap();
        let mut ready = [PollFd::new(&socket, PollFlags::IN)];
        match poll(&mut ready, Some(&every)) {
            Ok(0) | Err(Errno::INTR) => continue,
            Ok(_) => {}
            Err(_) => return ExitCode::from(2),
        }
        let mut request = [0u8; 1];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = match recvmsg(
            &socket,
            &mut [IoSliceMut::new(&mut request)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(got) => got,
            Err(Errno::INTR) => continue,
            Err(_) => return ExitCode::from(2),
        };
        if got.bytes == 0 {
            // The executor is gone.
            return ExitCode::SUCCESS;
        }
        let fds = received_fds(&mut control);
        let [stdin, stdout, stderr] = match <[OwnedFd; 3]>::try_from(fds) {
            Ok(fds) => fds,
            Err(_) => {
                reply(&socket, -Errno::INVAL.raw_os_error(), None);
                continue;
            }
        };
        match fork() {
            Ok(None) => {
                // The job process: its pipes become its standard streams; nothing else of the
                // zygote's stays open.
                drop(socket);
                let placed = rustix::stdio::dup2_stdin(&stdin)
                    .and_then(|()| rustix::stdio::dup2_stdout(&stdout))
                    .and_then(|()| rustix::stdio::dup2_stderr(&stderr));
                drop((stdin, stdout, stderr));
                return match placed {
                    Ok(()) => job(&sandbox),
                    Err(_) => ExitCode::from(2),
                };
            }
            Ok(Some(pid)) => {
                drop((stdin, stdout, stderr));
                match pidfd_open(pid, PidfdFlags::empty()) {
                    Ok(pidfd) => reply(&socket, pid.as_raw_nonzero().get(), Some(pidfd)),
                    Err(e) => reply(&socket, -e.raw_os_error(), None),
                }
            }
            Err(e) => reply(&socket, -e.raw_os_error(), None),
        }
    }
}

fn reply(socket: &OwnedFd, code: i32, pidfd: Option<OwnedFd>) {
    let fds: Vec<_> = pidfd.iter().map(AsFd::as_fd).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        control.push(SendAncillaryMessage::ScmRights(&fds));
    }
    // A failed reply means the executor is gone; the next recvmsg sees it.
    let _ = sendmsg(
        socket,
        &[IoSlice::new(&code.to_le_bytes())],
        &mut control,
        SendFlags::NOSIGNAL,
    );
}

/// Collects every exited child, without blocking.
fn reap() {
    while let Ok(Some(_)) = waitpid(None, WaitOptions::NOHANG) {}
}

/// `fork(2)`: `None` in the child, the child's pid in the parent.
#[allow(unsafe_code, reason = "fork has no safe wrapper; see SAFETY")]
fn fork() -> Result<Option<Pid>, Errno> {
    // SAFETY: only the zygote calls this, and the zygote is single-threaded: the job program
    // enters `child_main` first thing in `main`, before anything could start a thread, and the
    // zygote's loop starts none. So no lock (the allocator's, stdio's) can be held by a thread
    // that the child would not have; the child then runs ordinary Rust code.
    let pid = unsafe { libc::fork() };
    match pid {
        0 => Ok(None),
        n if n > 0 => Ok(Pid::from_raw(n)),
        _ => Err(Errno::from_io_error(&io::Error::last_os_error()).unwrap_or(Errno::AGAIN)),
    }
}
