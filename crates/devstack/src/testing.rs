//! Test seams of the market (feature `test-utils`): transports that lose messages ([`Flaky`])
//! or stop dead at a chosen call ([`Freeze`]), wrapped around the dev chain's in-process
//! transport. Pass them to [`agency_chain::Agency::over`], and that to
//! [`crate::DevStack::spawn_agent`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use agency_chain::bindings::JobAgency::JobAgencyCalls;
use agency_devchain::InProcess;
use alloy::consensus::Transaction as _;
use alloy::eips::Decodable2718;
use alloy::primitives::Bytes;
use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut};
use tokio::sync::Notify;

pub use agency_chain::testing::{Cheats, MinedCall};
pub use agency_store::testing::Outage;

/// A transport that loses requests (never executed) and responses (executed, answer lost), to
/// show the agent neither double-sends nor leaves a nonce gap. Raw transactions: of every three
/// sends, the first loses its answer and the second is lost on the way. Other calls: about one
/// request in 9 and one answer in 11 are lost, drawn from a fixed-seed generator (a fixed
/// modulus would hit the same call of a poll that makes the same calls every time).
#[derive(Clone, Debug)]
pub struct Flaky {
    inner: InProcess,
    pub counts: Arc<FlakyCounts>,
}

/// What a [`Flaky`] transport lost.
#[derive(Debug, Default)]
pub struct FlakyCounts {
    draws: AtomicU64,
    raw: AtomicUsize,
    pub lost_requests: AtomicUsize,
    pub lost_responses: AtomicUsize,
    pub lost_raw_requests: AtomicUsize,
    pub lost_raw_responses: AtomicUsize,
}

impl Flaky {
    pub fn new(inner: InProcess) -> Self {
        Self {
            inner,
            counts: Arc::default(),
        }
    }
}

impl FlakyCounts {
    /// The next number of a splitmix64 sequence.
    fn draw(&self) -> u64 {
        let n = self
            .draws
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = n;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl tower::Service<RequestPacket> for Flaky {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        let c = self.counts.clone();
        let raw = request
            .method_names()
            .any(|m| m == "eth_sendRawTransaction");
        let (lose_request, lose_response) = if raw {
            let n = c.raw.fetch_add(1, Ordering::Relaxed);
            (n % 3 == 1, n.is_multiple_of(3))
        } else {
            let r = c.draw();
            (r.is_multiple_of(9), (r >> 32).is_multiple_of(11))
        };
        let gone = || TransportErrorKind::custom_str("connection reset by peer (test)");
        if lose_request {
            c.lost_requests.fetch_add(1, Ordering::Relaxed);
            if raw {
                c.lost_raw_requests.fetch_add(1, Ordering::Relaxed);
            }
            return Box::pin(async move { Err(gone()) });
        }
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            if lose_response {
                c.lost_responses.fetch_add(1, Ordering::Relaxed);
                if raw {
                    c.lost_raw_responses.fetch_add(1, Ordering::Relaxed);
                }
                return Err(gone());
            }
            answer
        })
    }
}

/// Where a [`Freeze`] stops its agent: just before a transaction calling the named contract
/// function leaves, or right after the node took it (mined, on the dev chain), before its answer
/// is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeAt {
    Before(&'static str),
    After(&'static str),
}

/// A transport that stops dead at a [`FreezeAt`] point, as if the process were killed there:
/// that request and every later one never answer. The test then aborts the agent and starts a
/// new one on the same data dir.
#[derive(Clone, Debug)]
pub struct Freeze {
    inner: InProcess,
    at: FreezeAt,
    frozen: Arc<(AtomicBool, Notify)>,
}

impl Freeze {
    pub fn new(inner: InProcess, at: FreezeAt) -> Self {
        Self {
            inner,
            at,
            frozen: Arc::default(),
        }
    }

    /// Resolves once the freeze point was reached.
    pub async fn reached(&self) {
        let (frozen, notify) = &*self.frozen;
        loop {
            let waiting = notify.notified();
            if frozen.load(Ordering::SeqCst) {
                return;
            }
            waiting.await;
        }
    }

    fn freeze(frozen: &(AtomicBool, Notify)) {
        frozen.0.store(true, Ordering::SeqCst);
        frozen.1.notify_waiters();
    }
}

/// The contract function a raw transaction in `request` calls, if it sends one.
fn called(request: &RequestPacket) -> Option<&'static str> {
    request.requests().iter().find_map(|r| {
        if r.method() != "eth_sendRawTransaction" {
            return None;
        }
        let (raw,): (Bytes,) = serde_json::from_str(r.params()?.get()).ok()?;
        let tx = alloy::consensus::TxEnvelope::decode_2718(&mut raw.as_ref()).ok()?;
        let selector: [u8; 4] = tx.input().get(..4)?.try_into().ok()?;
        JobAgencyCalls::name_by_selector(selector)
    })
}

impl tower::Service<RequestPacket> for Freeze {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        let frozen = self.frozen.clone();
        if frozen.0.load(Ordering::SeqCst) {
            return Box::pin(std::future::pending());
        }
        let name = called(&request);
        match self.at {
            FreezeAt::Before(at) if name == Some(at) => {
                Self::freeze(&frozen);
                Box::pin(std::future::pending())
            }
            FreezeAt::After(at) if name == Some(at) => {
                let answer = self.inner.call(request);
                Box::pin(async move {
                    let _ = answer.await;
                    Self::freeze(&frozen);
                    std::future::pending().await
                })
            }
            _ => self.inner.call(request),
        }
    }
}
