//! [`Runtime`]: which executor a job needs, as its spec names it.

use serde::{Deserialize, Serialize};

/// The runtime a job spec names (docs/protocol.md §10): its name in specs, on the command line
/// and in the web UI is the lowercase one (`quickjs`, `browser`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Embedded QuickJS, deterministic (the default).
    #[default]
    QuickJs,
    /// Headless Chromium, for jobs that need a DOM.
    Browser,
}

impl Runtime {
    /// Every runtime a spec may name.
    pub const ALL: [Self; 2] = [Self::QuickJs, Self::Browser];

    /// Its name in specs: `quickjs`, `browser`.
    pub fn name(self) -> &'static str {
        match self {
            Self::QuickJs => "quickjs",
            Self::Browser => "browser",
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown runtime {0:?} (use quickjs or browser)")]
pub struct UnknownRuntime(pub String);

impl std::str::FromStr for Runtime {
    type Err = UnknownRuntime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Self::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| UnknownRuntime(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for r in Runtime::ALL {
            assert_eq!(r.name().parse::<Runtime>(), Ok(r));
            let json = serde_json::to_string(&r).expect("serializes");
            assert_eq!(json, format!("\"{}\"", r.name()));
            assert_eq!(serde_json::from_str::<Runtime>(&json).expect("parses"), r);
        }
        assert_eq!(
            "wasm".parse::<Runtime>(),
            Err(UnknownRuntime("wasm".into()))
        );
        assert!(serde_json::from_str::<Runtime>("\"QuickJs\"").is_err());
    }
}
