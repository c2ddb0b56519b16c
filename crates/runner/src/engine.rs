//! The QuickJS engine: one job in a fresh runtime, on an engine thread (`run_in_process`) or a
//! job process's main thread, and the envelope assembled from its outcome. Executors ([`crate::QuickJsExecutor`]) call it.

use std::{
    cell::RefCell,
    rc::Rc,
    sync::{Arc, mpsc},
    time::Instant,
};

use agency_primitives::{Envelope, ErrorKind, Limits, LogEntry, Success};
use rquickjs::{
    Context, Ctx, Error as JsError, Function, Object, Persistent, Runtime, Value,
    context::{EvalOptions, intrinsic},
};
use serde::{Deserialize, Serialize};

use crate::{
    JobRun, RunnerError,
    meter::{Meter, MeteredAllocator, Trip},
    rng::Xoshiro256,
};

pub(crate) const PRELUDE: &str = include_str!("prelude.js");

/// Messages QuickJS gives its own limit errors. A string past the engine's maximum length
/// (QuickJS concatenates with ropes, so doubling a string reaches it before the allocator
/// limit) counts as memory too.
const OUT_OF_MEMORY: &str = "out of memory";
const MEMORY_LIMITS: &[&str] = &[OUT_OF_MEMORY, "string too long"];
const STACK_OVERFLOW: &[&str] = &["stack overflow", "Maximum call stack size exceeded"];

/// The intrinsics a job gets: the language without clocks (`performance`) and without garbage
/// collector observability (`WeakRef`, `FinalizationRegistry`).
type JobIntrinsics = (
    intrinsic::Date,
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
);

/// What the job reported through the host functions.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) outcome: Option<Reported>,
    pub(crate) logs: Vec<LogEntry>,
    pub(crate) log_bytes: u64,
    pub(crate) logs_overflowed: bool,
}

impl State {
    /// Records a console call, or notes that the logs outgrew the output limit.
    pub(crate) fn log(&mut self, level: String, message: String, output_limit: u64) {
        self.log_bytes += (level.len() + message.len() + 32) as u64;
        if self.log_bytes > output_limit {
            self.logs_overflowed = true;
        } else {
            self.logs.push(LogEntry { level, message });
        }
    }

    /// Records a failure reported by the prelude (`kind` as the prelude names it); the first
    /// outcome wins.
    pub(crate) fn fail(&mut self, kind: &str, json: String) {
        let kind = match kind {
            "no-entrypoint" => ErrorKind::NoEntrypoint,
            "no-result" => ErrorKind::NoResult,
            "bad-input" => ErrorKind::BadInput,
            "syntax" => ErrorKind::Syntax,
            _ => limit_kind(&json).unwrap_or(ErrorKind::Threw),
        };
        self.outcome.get_or_insert(Reported::Failed(kind, json));
    }

    /// Records a success (the prelude's `{result, details}` JSON); the first outcome wins.
    pub(crate) fn succeed(&mut self, json: String) {
        self.outcome.get_or_insert(Reported::Succeeded(json));
    }
}

pub(crate) enum Reported {
    Succeeded(String),
    Failed(ErrorKind, String),
}

#[derive(Deserialize)]
struct Values {
    result: serde_json::Value,
    details: serde_json::Value,
}

#[derive(Deserialize)]
struct ErrorInfo {
    message: String,
    stack: String,
}

/// Why the event loop stopped early.
enum Stop {
    /// An outcome is already recorded (the job called back, or the script does not parse):
    /// it stands.
    Reported,
    /// A deterministic end: the job's envelope.
    Envelope(Envelope),
    /// A meter tripped: the run ends in that meter's kind, whatever the job did after.
    Tripped,
}

/// Native stack the engine's thread has beyond the job's stack limit. QuickJS checks the limit
/// on entry to its functions; C code between two checks (parsers, regular expressions, the
/// host functions) runs on this margin.
pub(crate) const STACK_HEADROOM: u64 = 1 << 20;

/// Refuses limits the engine cannot honour: below [`Limits::MIN`] (QuickJS reads a zero
/// memory or stack limit as "none") or a stack past [`Limits::STACK_CEILING`]. How much an
/// agent accepts is its operator's choice, checked before it claims.
pub(crate) fn check_limits(job: &JobRun) -> Result<(), RunnerError> {
    let engine_max = Limits {
        fuel: u64::MAX,
        memory: u64::MAX,
        stack: Limits::STACK_CEILING,
        output: u64::MAX,
    };
    job.limits
        .check_within(&engine_max)
        .map_err(RunnerError::Limits)
}

/// Native stack the engine's threads have: enough for the largest stack limit a job may have.
/// Only the pages a job touches are ever mapped in.
pub(crate) const ENGINE_STACK: u64 = Limits::STACK_CEILING + STACK_HEADROOM;

/// A thread with [`ENGINE_STACK`] of native stack that runs jobs sent to it, one at a time.
struct EngineThread {
    jobs: mpsc::Sender<(JobRun, mpsc::SyncSender<Result<Envelope, RunnerError>>)>,
}

thread_local! {
    /// The engine thread of each calling thread (tokio's blocking threads, say): started on the
    /// first job and kept, so a job does not pay for a thread (and a fresh malloc arena). It
    /// ends when its caller does.
    static ENGINE: RefCell<Option<EngineThread>> = const { RefCell::new(None) };
}

impl EngineThread {
    fn start() -> Result<Self, RunnerError> {
        let (jobs, queue) =
            mpsc::channel::<(JobRun, mpsc::SyncSender<Result<Envelope, RunnerError>>)>();
        std::thread::Builder::new()
            .name("job".into())
            .stack_size(ENGINE_STACK as usize)
            .spawn(move || {
                for (job, reply) in queue {
                    let _ = reply.send(run_here(&job));
                }
            })
            .map_err(|e| RunnerError::Engine(format!("starting the job thread: {e}")))?;
        Ok(Self { jobs })
    }
}

/// Runs `job` to its envelope in a fresh QuickJS runtime, on an engine thread whose native
/// stack holds the largest stack limit plus headroom, so the engine's limit always trips
/// before the thread's stack could overflow.
pub fn run_in_process(job: &JobRun) -> Result<Envelope, RunnerError> {
    check_limits(job)?;
    ENGINE.with(|engine| {
        let mut engine = engine.borrow_mut();
        if engine.is_none() {
            *engine = Some(EngineThread::start()?);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let sent = engine
            .as_ref()
            .is_some_and(|e| e.jobs.send((job.clone(), reply)).is_ok());
        let result = if sent { answer.recv().ok() } else { None };
        result.unwrap_or_else(|| {
            // The thread died (a panic in the engine): the next job starts a new one.
            *engine = None;
            Err(RunnerError::Engine("the job thread died".into()))
        })
    })
}

/// Runs `job` on the main thread of a job process, whose stack limit the caller has raised to
/// the job's stack limit plus headroom (the main thread's stack grows up to the limit in force
/// when it grows).
pub(crate) fn run_on_main_thread(job: &JobRun) -> Result<Envelope, RunnerError> {
    check_limits(job)?;
    run_here(job)
}

/// Runs `job` on the calling thread, which must have the job's stack limit plus
/// [`STACK_HEADROOM`] of native stack left.
fn run_here(job: &JobRun) -> Result<Envelope, RunnerError> {
    let engine = |e: JsError| RunnerError::Engine(e.to_string());
    let meter = Meter::new(
        job.limits.fuel,
        job.limits.memory,
        Instant::now() + job.wall_clock,
    );
    let rt = Runtime::new_with_alloc(MeteredAllocator(meter.clone())).map_err(engine)?;
    rt.set_max_stack_size(usize::try_from(job.limits.stack).unwrap_or(usize::MAX));
    let m = meter.clone();
    rt.set_interrupt_handler(Some(Box::new(move || m.interrupt())));
    // A stack overflow inside a promise handler becomes a rejection, not an exception the host
    // sees: remember it, so a job that then stalls ends in the limit's kind.
    let rejected_by_limit: Rc<RefCell<Option<(ErrorKind, String, String)>>> = Rc::default();
    let seen = rejected_by_limit.clone();
    rt.set_host_promise_rejection_tracker(Some(Box::new(
        move |_ctx, _promise, reason, handled| {
            let (message, stack) = exception_info(&reason);
            if let (false, Some(kind)) = (handled, limit_kind_of(&message)) {
                seen.borrow_mut().get_or_insert((kind, message, stack));
            }
        },
    )));
    let ctx = Context::builder()
        .with::<JobIntrinsics>()
        .build(&rt)
        .map_err(engine)?;
    let state = Rc::new(RefCell::new(State::default()));
    let stop = drive(&ctx, &rt, job, &state, &meter);
    let mut state = state.take();
    // The cap is local: whatever ran before it, this host does not vouch for the run.
    if meter.tripped() == Some(Trip::WallClock) {
        return Err(RunnerError::WallClock {
            after: job.wall_clock,
        });
    }
    if state.outcome.is_some() {
        // The job called back before any meter tripped: first callback wins.
        return Ok(assemble(state, job.limits.output));
    }
    let logs = std::mem::take(&mut state.logs);
    match (meter.tripped(), stop) {
        (Some(Trip::Fuel), _) => Ok(fuel_envelope(&meter, logs)),
        // The engine's own "out of memory" error, when it reached the host, keeps its stack.
        (Some(Trip::Memory), Err(Stop::Envelope(e)))
            if e.outcome
                .as_ref()
                .is_err_and(|e| e.kind == ErrorKind::Memory) =>
        {
            Ok(e)
        }
        (Some(Trip::Memory), _) => Ok(Envelope::failure(
            ErrorKind::Memory,
            OUT_OF_MEMORY,
            "",
            logs,
        )),
        (_, Err(Stop::Envelope(envelope))) => Ok(envelope),
        _ => match rejected_by_limit.take() {
            Some((kind, message, stack)) => {
                Ok(Envelope::failure(kind, message, job_frames(&stack), logs))
            }
            None => {
                state.logs = logs;
                Ok(assemble(state, job.limits.output))
            }
        },
    }
}

/// Installs the host functions and the prelude, loads the script, calls `jsJobRun` and runs the
/// event loop until the job calls back, a meter trips or nothing is left to run.
/// The fraction of a tick prelude.js weighs native work in: its weights are sixteenths.
pub(crate) const WORK_PER_TICK: u64 = 16;
/// Ticks charged per promise job run, beyond the ticks of its own calls: what makes an `await`
/// loop cost the CPU time per unit of fuel a plain loop does (BENCHMARKS.md, "Fuel").
pub(crate) const PROMISE_JOB_TICKS: u64 = 44;
/// Ticks charged per timer fired, beyond the ticks of its own calls (as above).
pub(crate) const TIMER_TICKS: u64 = 44;

fn drive(
    ctx: &Context,
    rt: &Runtime,
    job: &JobRun,
    state: &Rc<RefCell<State>>,
    meter: &Arc<Meter>,
) -> Result<(), Stop> {
    // After each step the engine takes: a meter that tripped during it ends the run, even when
    // the job caught the interrupt (see `meter`).
    let checked = |r: Result<bool, Stop>| match meter.tripped() {
        Some(_) => Err(Stop::Tripped),
        None => r,
    };
    let host = ctx.with(|ctx| {
        let fail = |e: JsError| classify(&ctx, e, meter, state);
        let host = host_object(&ctx, job, state, meter).map_err(fail)?;
        ctx.globals().set("__host", host).map_err(fail)?;
        let host: Object<'_> = ctx
            .eval_with_options(PRELUDE, script_options("prelude.js"))
            .map_err(fail)?;
        let syntax: Option<String> =
            call(&host, "syntaxError", (job.code.as_str(),)).map_err(fail)?;
        if let Some(info) = syntax {
            state.borrow_mut().fail("syntax", info);
            return Err(Stop::Reported);
        }
        let loaded: Result<Value<'_>, _> =
            ctx.eval_with_options(job.code.as_str(), script_options("job.js"));
        loaded.map_err(fail)?;
        checked(Ok(true))?;
        call::<()>(&host, "start", (job.input.as_str(), job.options.as_str())).map_err(fail)?;
        checked(Ok(true))?;
        Ok(Persistent::save(&ctx, host))
    })?;
    loop {
        // Promise jobs run outside `with`: the runtime reports which context a throwing job
        // ran in, where `Ctx::execute_pending_job` would discard the exception.
        loop {
            let ran = match rt.execute_pending_job() {
                Ok(ran) => Ok(ran),
                Err(e) => Err(e
                    .0
                    .with(|ctx| classify(&ctx, JsError::Exception, meter, state))),
            };
            if !checked(ran)? {
                break;
            }
            // A promise job costs the host more than the ticks its calls count.
            if meter.charge(PROMISE_JOB_TICKS) {
                return Err(Stop::Tripped);
            }
        }
        let more = ctx.with(|ctx| {
            let fail = |e: JsError| classify(&ctx, e, meter, state);
            let host = host.clone().restore(&ctx).map_err(fail)?;
            if call::<bool>(&host, "isDone", ()).map_err(fail)? {
                return Ok(false);
            }
            call::<bool>(&host, "fireTimer", ()).map_err(fail)
        });
        if !checked(more)? {
            return Ok(());
        }
        // So does a timer.
        if meter.charge(TIMER_TICKS) {
            return Err(Stop::Tripped);
        }
    }
}

/// Calls the host entry point `name` with `args`.
fn call<'js, R: rquickjs::FromJs<'js>>(
    host: &Object<'js>,
    name: &str,
    args: impl rquickjs::function::IntoArgs<'js>,
) -> rquickjs::Result<R> {
    host.get::<_, Function<'js>>(name)?.call(args)
}

fn script_options(name: &str) -> EvalOptions {
    let mut o = EvalOptions::default();
    // JsJob scripts are browser scripts: sloppy mode unless they ask for strict.
    o.strict = false;
    o.filename = Some(name.to_owned());
    o
}

/// Builds `__host`: the functions the prelude wraps for the job.
fn host_object<'js>(
    ctx: &Ctx<'js>,
    job: &JobRun,
    state: &Rc<RefCell<State>>,
    meter: &Arc<Meter>,
) -> rquickjs::Result<Object<'js>> {
    let output_limit = job.limits.output;
    let host = Object::new(ctx.clone())?;
    host.set("timestamp", job.timestamp_ms as f64)?;
    let rng = RefCell::new(Xoshiro256::from_seed(job.seed));
    host.set(
        "random",
        Function::new(ctx.clone(), move || rng.borrow_mut().next_f64())?,
    )?;

    let libm1 = Object::new(ctx.clone())?;
    type Unary = fn(f64) -> f64;
    let unary: [(&str, Unary); 19] = [
        ("sin", libm::sin),
        ("cos", libm::cos),
        ("tan", libm::tan),
        ("asin", libm::asin),
        ("acos", libm::acos),
        ("atan", libm::atan),
        ("sinh", libm::sinh),
        ("cosh", libm::cosh),
        ("tanh", libm::tanh),
        ("asinh", libm::asinh),
        ("acosh", libm::acosh),
        ("atanh", libm::atanh),
        ("exp", libm::exp),
        ("expm1", libm::expm1),
        ("log", libm::log),
        ("log1p", libm::log1p),
        ("log2", libm::log2),
        ("log10", libm::log10),
        ("cbrt", libm::cbrt),
    ];
    for (name, f) in unary {
        libm1.set(name, Function::new(ctx.clone(), move |x: f64| f(x))?)?;
    }
    host.set("libm1", libm1)?;
    let libm2 = Object::new(ctx.clone())?;
    libm2.set("pow", Function::new(ctx.clone(), js_pow)?)?;
    libm2.set(
        "atan2",
        Function::new(ctx.clone(), |y: f64, x: f64| libm::atan2(y, x))?,
    )?;
    libm2.set(
        "hypot",
        Function::new(ctx.clone(), |x: f64, y: f64| libm::hypot(x, y))?,
    )?;
    host.set("libm2", libm2)?;

    // Native work the interrupt checks do not count (see prelude.js), in ticks.
    let m = meter.clone();
    host.set(
        "charge",
        Function::new(ctx.clone(), move |ticks: f64| {
            // A negative or NaN count is a bug of the prelude's, and charges nothing.
            m.charge(if ticks > 0.0 { ticks as u64 } else { 0 })
        })?,
    )?;
    host.set("workPerTick", WORK_PER_TICK as f64)?;

    // Once a meter has tripped, nothing the job reports counts.
    let (s, m) = (state.clone(), meter.clone());
    let log = move |level: String, message: String| {
        if m.tripped().is_none() {
            s.borrow_mut().log(level, message, output_limit);
        }
    };
    host.set("log", Function::new(ctx.clone(), log)?)?;
    let (s, m) = (state.clone(), meter.clone());
    let succeed = move |json: String| {
        if m.tripped().is_none() {
            s.borrow_mut().succeed(json);
        }
    };
    host.set("succeed", Function::new(ctx.clone(), succeed)?)?;
    let (s, m) = (state.clone(), meter.clone());
    let fail = move |kind: String, json: String| {
        if m.tripped().is_none() {
            s.borrow_mut().fail(&kind, json);
        }
    };
    host.set("fail", Function::new(ctx.clone(), fail)?)?;
    Ok(host)
}

/// `Math.pow` with the ECMAScript cases that differ from C's `pow`.
fn js_pow(x: f64, y: f64) -> f64 {
    if y.is_nan() || (x.abs() == 1.0 && y.is_infinite()) {
        return f64::NAN;
    }
    libm::pow(x, y)
}

/// Recognizes the engine's limit errors (out of memory, stack overflow) in a caught error.
fn limit_kind(info_json: &str) -> Option<ErrorKind> {
    let info: ErrorInfo = serde_json::from_str(info_json).ok()?;
    limit_kind_of(&info.message)
}

fn limit_kind_of(message: &str) -> Option<ErrorKind> {
    // rquickjs reports an allocation failure outside JS as its own error ("Allocation failed…").
    if MEMORY_LIMITS.contains(&message) || message.starts_with("Allocation failed") {
        Some(ErrorKind::Memory)
    } else if STACK_OVERFLOW.contains(&message) {
        Some(ErrorKind::Stack)
    } else {
        None
    }
}

fn fuel_envelope(meter: &Meter, logs: Vec<LogEntry>) -> Envelope {
    let msg = format!("the job used up its fuel ({} units)", meter.fuel_limit);
    Envelope::failure(ErrorKind::Fuel, msg, "", logs)
}

/// Turns an error that escaped to the host into the job's end.
fn classify(ctx: &Ctx<'_>, e: JsError, meter: &Meter, state: &Rc<RefCell<State>>) -> Stop {
    let (message, stack) = match e {
        JsError::Exception => exception_info(&ctx.catch()),
        other => (other.to_string(), String::new()),
    };
    if state.borrow().outcome.is_some() {
        // First callback wins, whatever happens after it.
        return Stop::Reported;
    }
    let kind = limit_kind_of(&message).unwrap_or(ErrorKind::Threw);
    match meter.tripped() {
        // The engine's own "out of memory" error keeps its stack; anything else after the
        // memory meter tripped (the interrupt that follows it, an error the job threw instead)
        // is decided by the meter.
        Some(Trip::Memory) if kind == ErrorKind::Memory => {}
        Some(_) => return Stop::Tripped,
        None => {}
    }
    let logs = std::mem::take(&mut state.borrow_mut().logs);
    Stop::Envelope(Envelope::failure(kind, message, job_frames(&stack), logs))
}

/// Drops the prelude's own frames from a stack: they are the runner's, not the job's.
pub(crate) fn job_frames(stack: &str) -> String {
    stack
        .lines()
        .filter(|l| !l.contains("(prelude.js:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn exception_info(v: &Value<'_>) -> (String, String) {
    if let Some(obj) = v.as_object() {
        let message: Option<String> = obj.get("message").ok();
        let stack: Option<String> = obj.get("stack").ok();
        if let Some(message) = message {
            return (message, stack.unwrap_or_default());
        }
    }
    if v.is_null() || v.is_undefined() {
        // QuickJS throws null when even the error object cannot be allocated.
        return (OUT_OF_MEMORY.to_owned(), String::new());
    }
    let text: Option<String> = v.get().ok();
    (text.unwrap_or_else(|| format!("{v:?}")), String::new())
}

pub(crate) fn failure_from_json(kind: ErrorKind, json: &str, logs: Vec<LogEntry>) -> Envelope {
    match serde_json::from_str::<ErrorInfo>(json) {
        Ok(info) => Envelope::failure(kind, info.message, job_frames(&info.stack), logs),
        Err(e) => Envelope::failure(kind, format!("unreadable error report: {e}"), "", logs),
    }
}

/// What a JavaScript host (`browser_host.js` in a page, or the browser agent's Web Worker)
/// reports of one run: the first outcome the job gave, and its console lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub outcome: Option<ReportOutcome>,
    pub logs: Vec<LogEntry>,
}

/// A reported outcome: `ok` (the `{result, details}` JSON) on success, else `kind` and `json`
/// (the `{message, stack}` of the error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOutcome {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
}

/// The envelope a host's report becomes under `output_limit` (bytes): assembled as the engine
/// assembles its own runs, log budget and output limit included. The browser agent's
/// TypeScript (`web/src/protocol.ts`) implements the same; `tests/vectors/envelopes.json` holds
/// cases both are checked against.
pub fn envelope_of_report(report: Report, output_limit: u64) -> Envelope {
    let mut state = State::default();
    for entry in report.logs {
        state.log(entry.level, entry.message, output_limit);
    }
    match report.outcome {
        Some(ReportOutcome { ok: Some(json), .. }) => state.succeed(json),
        Some(ReportOutcome {
            kind: Some(kind),
            json: Some(json),
            ..
        }) => state.fail(&kind, json),
        _ => {}
    }
    assemble(state, output_limit)
}

/// Builds the envelope from what the job reported, and enforces the output limit (bytes).
pub(crate) fn assemble(state: State, output_limit: u64) -> Envelope {
    let State {
        outcome,
        logs,
        logs_overflowed,
        ..
    } = state;
    let envelope = match outcome {
        None => Envelope::failure(
            ErrorKind::NoResult,
            "the job finished without calling back",
            "",
            logs,
        ),
        Some(Reported::Failed(kind, json)) => failure_from_json(kind, &json, logs),
        Some(Reported::Succeeded(json)) => match serde_json::from_str::<Values>(&json) {
            Ok(v) => Envelope {
                outcome: Ok(Success {
                    result: v.result,
                    details: v.details,
                }),
                logs,
            },
            Err(e) => Envelope::failure(
                ErrorKind::Threw,
                format!("the result is not JSON: {e}"),
                "",
                logs,
            ),
        },
    };
    let size = envelope.canonical_bytes().len() as u64;
    if logs_overflowed || size > output_limit {
        let what = if logs_overflowed {
            "its logs".to_owned()
        } else {
            format!("its envelope ({size} bytes)")
        };
        let msg = format!("{what} exceeded the output limit of {output_limit} bytes");
        return Envelope::failure(ErrorKind::OutputTooLarge, msg, "", Vec::new());
    }
    envelope
}
