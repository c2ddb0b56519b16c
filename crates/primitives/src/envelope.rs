//! The result envelope of a job and the limits it runs under.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a job failed. Job failure is data that honest agents agree on, never an infrastructure
/// error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The job threw (in `jsJobRun`, a timer or a promise) or passed an error to its callback.
    Threw,
    /// The script defines no callable `jsJobRun`.
    NoEntrypoint,
    /// The job called back with no result, or finished without calling back.
    NoResult,
    /// The job used up its fuel (deterministic CPU budget).
    Fuel,
    /// The job used up its memory (allocator bytes).
    Memory,
    /// The job recursed past its stack limit.
    Stack,
    /// The envelope would be larger than the output limit.
    OutputTooLarge,
    /// The script does not parse.
    Syntax,
    /// The input or options are not valid JSON.
    BadInput,
}

impl ErrorKind {
    /// Returns the kind's name as it appears in envelopes (`"no-result"`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Threw => "threw",
            Self::NoEntrypoint => "no-entrypoint",
            Self::NoResult => "no-result",
            Self::Fuel => "fuel",
            Self::Memory => "memory",
            Self::Stack => "stack",
            Self::OutputTooLarge => "output-too-large",
            Self::Syntax => "syntax",
            Self::BadInput => "bad-input",
        }
    }
}

/// A failed job's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A human-readable message (the thrown error's message, or the limit that was hit).
    pub message: String,
    /// The JavaScript stack where one exists, else empty.
    #[serde(default)]
    pub stack: String,
}

/// One `console.*` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// `log`, `info`, `debug`, `warn` or `error`.
    pub level: String,
    /// The arguments, formatted and joined by spaces.
    pub message: String,
}

/// The outcome of one job run: what agents hash, publish and compare.
///
/// Serialized as `{"ok": true, "result", "details", "logs"}` or `{"ok": false, "error",
/// "logs"}`; [`Envelope::canonical_bytes`] gives its RFC 8785 form, identical on every agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "Wire", try_from = "Wire")]
pub struct Envelope {
    /// The result and details, or the error.
    pub outcome: Result<Success, JobError>,
    /// Console output, in order.
    pub logs: Vec<LogEntry>,
}

/// A successful job's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Success {
    /// The result passed to the callback (or returned by an async `jsJobRun`).
    pub result: Value,
    /// The details passed to the callback (`null` when none).
    pub details: Value,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<JobError>,
    logs: Vec<LogEntry>,
}

impl From<Envelope> for Wire {
    fn from(e: Envelope) -> Self {
        match e.outcome {
            Ok(s) => Wire {
                ok: true,
                result: Some(s.result),
                details: Some(s.details),
                error: None,
                logs: e.logs,
            },
            Err(err) => Wire {
                ok: false,
                result: None,
                details: None,
                error: Some(err),
                logs: e.logs,
            },
        }
    }
}

impl TryFrom<Wire> for Envelope {
    type Error = String;
    fn try_from(w: Wire) -> Result<Self, String> {
        let outcome = match (w.ok, w.error) {
            (true, None) => Ok(Success {
                result: w.result.unwrap_or(Value::Null),
                details: w.details.unwrap_or(Value::Null),
            }),
            (false, Some(err)) => Err(err),
            (true, Some(_)) => return Err("an envelope with ok: true has no error".into()),
            (false, None) => return Err("an envelope with ok: false needs an error".into()),
        };
        Ok(Envelope {
            outcome,
            logs: w.logs,
        })
    }
}

impl Envelope {
    /// Builds a failure envelope.
    pub fn failure(
        kind: ErrorKind,
        message: impl Into<String>,
        stack: impl Into<String>,
        logs: Vec<LogEntry>,
    ) -> Self {
        Self {
            outcome: Err(JobError {
                kind,
                message: message.into(),
                stack: stack.into(),
            }),
            logs,
        }
    }

    /// Tells whether the job succeeded.
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// Returns the RFC 8785 (JCS) serialization: sorted keys, ECMAScript number formatting, no
    /// whitespace. These bytes are what agents store and commit to.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_jcs::to_vec(self).expect("an envelope holds only JSON values")
    }
}

/// Deterministic resource limits of a job; part of the job, so every agent enforces the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU budget in fuel units: one unit per QuickJS interrupt check (every 10,000 calls and
    /// loop back edges), plus what native builtins, promise jobs and timers are charged for
    /// their work (engine 2, [`crate::ENGINE_VERSION`]).
    pub fuel: u64,
    /// Bytes the JavaScript heap may allocate.
    pub memory: u64,
    /// Bytes of native stack the engine may use (bounds recursion).
    pub stack: u64,
    /// Bytes of the canonical envelope, logs included.
    pub output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 100_000,
            memory: 64 << 20,
            stack: 512 << 10,
            output: 1 << 20,
        }
    }
}

impl Limits {
    /// The least of each limit a job may ask for: below it the engine cannot even start (its
    /// runtime takes about 200 KiB, a failure envelope a few hundred bytes), and QuickJS reads
    /// a zero memory or stack limit as "no limit".
    pub const MIN: Self = Self {
        fuel: 1,
        memory: 1 << 20,
        stack: 64 << 10,
        output: 1 << 10,
    };

    /// The most of each limit an agent accepts unless its operator says otherwise: about ten
    /// minutes of fuel, 512 MiB of heap, 8 MiB of stack, a 16 MiB envelope.
    pub const AGENT_MAX: Self = Self {
        fuel: 10_000_000,
        memory: 512 << 20,
        stack: 8 << 20,
        output: 16 << 20,
    };

    /// The stack no agent may grant, whatever its settings. The engine's thread is sized to the
    /// job's stack limit; past 16 MiB rquickjs hands QuickJS no stack limit at all.
    pub const STACK_CEILING: u64 = 16 << 20;

    /// Checks every limit is at least [`Limits::MIN`] and at most `max`; the error names each
    /// one that is not.
    pub fn check_within(&self, max: &Self) -> Result<(), String> {
        let fields = [
            ("fuel", self.fuel, Self::MIN.fuel, max.fuel, "units"),
            ("memory", self.memory, Self::MIN.memory, max.memory, "bytes"),
            (
                "stack",
                self.stack,
                Self::MIN.stack,
                max.stack.min(Self::STACK_CEILING),
                "bytes",
            ),
            ("output", self.output, Self::MIN.output, max.output, "bytes"),
        ];
        let wrong: Vec<String> = fields
            .iter()
            .filter_map(|&(name, v, lo, hi, unit)| {
                if v < lo {
                    Some(format!(
                        "{name} {v} is below the least allowed, {lo} {unit}"
                    ))
                } else if v > hi {
                    Some(format!(
                        "{name} {v} is above the most accepted, {hi} {unit}"
                    ))
                } else {
                    None
                }
            })
            .collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_are_checked_against_the_least_and_the_most() {
        use super::Limits;
        assert_eq!(Limits::default().check_within(&Limits::AGENT_MAX), Ok(()));
        assert_eq!(Limits::MIN.check_within(&Limits::MIN), Ok(()));
        // The review's limits: zero disables QuickJS's own limit, 1e8 of stack overflowed the
        // native one, 2e9 of memory and output took the dev market to 1.95 GB.
        let hostile = Limits {
            fuel: 100_000,
            memory: 0,
            stack: 100_000_000,
            output: 2_000_000_000,
        };
        let err = hostile.check_within(&Limits::AGENT_MAX).unwrap_err();
        assert!(err.contains("memory 0 is below"), "{err}");
        assert!(err.contains("stack 100000000 is above"), "{err}");
        assert!(err.contains("output 2000000000 is above"), "{err}");
        assert!(!err.contains("fuel"), "{err}");
        let zero_stack = Limits {
            stack: 0,
            ..Limits::default()
        };
        assert!(zero_stack.check_within(&Limits::AGENT_MAX).is_err());
        // No operator setting lifts the stack past the ceiling.
        let max = Limits {
            stack: u64::MAX,
            ..Limits::AGENT_MAX
        };
        let deep = Limits {
            stack: Limits::STACK_CEILING + 1,
            ..Limits::default()
        };
        assert!(deep.check_within(&max).is_err());
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_formats_numbers_like_javascript() {
        let e = Envelope {
            outcome: Ok(Success {
                result: json!({"b": 1.0, "a": [1e21, 0.1, -0.0]}),
                details: Value::Null,
            }),
            logs: vec![LogEntry {
                level: "log".into(),
                message: "hi".into(),
            }],
        };
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"details":null,"logs":[{"level":"log","message":"hi"}],"ok":true,"result":{"a":[1e+21,0.1,0],"b":1}}"#
        );
    }

    #[test]
    fn failure_round_trips_and_bad_wire_forms_are_refused() {
        let e = Envelope::failure(ErrorKind::NoResult, "no result", "", vec![]);
        let text = String::from_utf8(e.canonical_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"error":{"kind":"no-result","message":"no result","stack":""},"logs":[],"ok":false}"#
        );
        assert_eq!(serde_json::from_str::<Envelope>(&text).unwrap(), e);
        assert!(serde_json::from_str::<Envelope>(r#"{"ok":false,"logs":[]}"#).is_err());
        assert!(
            serde_json::from_str::<Envelope>(
                r#"{"ok":true,"logs":[],"error":{"kind":"fuel","message":""}}"#
            )
            .is_err()
        );
    }
}
