//! The web server: the dapp (`web/`, built and committed as `web/dist`, embedded here so a
//! `cargo build` needs no Node), its configuration at `/api/config`, and, on the same origin
//! so the browser needs no CORS, the chain's JSON-RPC at `/rpc` and the store's Kubo RPC subset
//! and gateway at `/api/v0` and `/ipfs`.

use agency_primitives::Limits;
use alloy::primitives::Address;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

const INDEX: &str = include_str!("../../../web/dist/index.html");
const APP_JS: &str = include_str!("../../../web/dist/app.js");
const APP_CSS: &str = include_str!("../../../web/dist/app.css");
const WORKER_JS: &str = include_str!("../../../web/dist/worker.js");

/// What the app reads at `/api/config`: the contract, the chain id, the dev accounts (addresses
/// and keys, `agency dev` only; `[]` otherwise), the default limits of a job spec and the engine
/// version this build runs (what the post form writes and the browser agent accepts).
pub(crate) fn config(agency: Address, chain_id: u64, dev_accounts: Value) -> Value {
    json!({
        "agency": agency,
        "chain_id": chain_id,
        "dev_accounts": dev_accounts,
        "limits": Limits::default(),
        "engine": agency_primitives::ENGINE_VERSION,
    })
}

/// The page's Content-Security-Policy: scripts only from this origin (no inline script, no
/// `eval`); inline styles and `data:` images for HTML results, which the result frame inherits
/// this policy into and narrows further (`web/src/result.ts`); no plugins, no `<base>`, and no
/// framing by any other page (clickjacking).
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' data: blob:; \
    font-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The job worker's policy (`web/src/worker.js`, the browser agent's executor): it may
/// evaluate the job's code and reach nothing else: no fetch, no `import()`, no nested worker.
pub(crate) const WORKER_CSP: &str = "default-src 'none'; script-src 'unsafe-eval'";

/// The dapp's routes. `config` ([`config`]) is served at `/api/config`. `chain` answers
/// `/rpc`, `store` serves `/api/v0/*` and `/ipfs/*`.
pub(crate) fn router(config: Value, chain: Router, store: Router) -> Router {
    let asset = |mime: &'static str, csp: &'static str, body: &'static str| {
        get(move || async move {
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "no-cache"),
                    (header::CONTENT_SECURITY_POLICY, csp),
                    (header::X_FRAME_OPTIONS, "DENY"),
                    (header::REFERRER_POLICY, "no-referrer"),
                ],
                body,
            )
                .into_response()
        })
    };
    Router::new()
        .route("/", asset("text/html; charset=utf-8", CSP, INDEX))
        .route(
            "/app.js",
            asset("text/javascript; charset=utf-8", CSP, APP_JS),
        )
        .route("/app.css", asset("text/css; charset=utf-8", CSP, APP_CSS))
        .route(
            "/worker.js",
            asset("text/javascript; charset=utf-8", WORKER_CSP, WORKER_JS),
        )
        .route(
            "/api/config",
            get(move || async move { axum::Json(config) }),
        )
        .nest("/rpc", chain)
        .merge(store)
}
