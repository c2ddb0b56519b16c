//! What can go wrong talking to JobAgency, split into final answers and retryable trouble.

use alloy::primitives::B256;
use alloy::transports::{RpcError, TransportErrorKind};

use crate::bindings::JobAgency::JobAgencyErrors;

/// An error from a JobAgency call.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The contract refused the call with one of its custom errors (docs/protocol.md §2).
    #[error("{call} reverted: {error:?}")]
    Reverted {
        call: &'static str,
        error: JobAgencyErrors,
    },
    /// The call reverted without a JobAgency error (no contract at the address, out of gas…).
    #[error("{call} reverted: {reason}")]
    RevertedOther { call: &'static str, reason: String },
    /// The transaction was mined but failed.
    #[error("{call}: transaction {tx} failed on chain")]
    Failed { call: &'static str, tx: B256 },
    /// No receipt arrived in time: the transaction may still be pending, or was dropped.
    #[error("{call}: no receipt for transaction {tx} after {waited:?}")]
    ReceiptTimeout {
        call: &'static str,
        tx: B256,
        waited: std::time::Duration,
    },
    /// A log of the contract that its ABI does not describe (a different contract at the address).
    #[error("log in transaction {tx} is not a JobAgency event: {reason}")]
    UnknownEvent { tx: B256, reason: String },
    /// The contract reported a code this build does not know (a newer contract at the address).
    #[error("the contract reported an unknown {what} {code}")]
    UnknownCode { what: &'static str, code: u8 },
    /// The node has no latest block (it is still starting).
    #[error("the node has no latest block")]
    NoBlock,
    /// The node could not be reached or answered with an error.
    #[error("{call}: {source}")]
    Rpc {
        call: &'static str,
        #[source]
        source: alloy::contract::Error,
    },
}

impl ChainError {
    /// Whether trying the same call again later may succeed: connection trouble and the node's
    /// transient errors, never a revert.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Reverted { .. }
            | Self::RevertedOther { .. }
            | Self::Failed { .. }
            | Self::UnknownEvent { .. }
            | Self::UnknownCode { .. } => false,
            Self::NoBlock => true,
            // The node may yet mine it; the caller decides whether to wait, bump or resend.
            Self::ReceiptTimeout { .. } => true,
            Self::Rpc { source, .. } => match source {
                alloy::contract::Error::TransportError(e) => transport_retryable(e),
                alloy::contract::Error::PendingTransactionError(
                    alloy::providers::PendingTransactionError::TransportError(e),
                ) => transport_retryable(e),
                _ => false,
            },
        }
    }

    /// Whether the transaction may still be mined: no receipt came in time, so sending the same
    /// call again could make a second transaction.
    pub fn may_be_pending(&self) -> bool {
        matches!(self, Self::ReceiptTimeout { .. })
    }

    /// The decoded custom error, if the contract refused the call with one.
    pub fn revert(&self) -> Option<&JobAgencyErrors> {
        match self {
            Self::Reverted { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Sorts an alloy error: a revert carrying JobAgency's error data becomes [`Self::Reverted`].
    pub(crate) fn from_contract(call: &'static str, source: alloy::contract::Error) -> Self {
        if let Some(error) = source.as_decoded_interface_error::<JobAgencyErrors>() {
            return Self::Reverted { call, error };
        }
        if source.as_revert_data().is_some() {
            return Self::RevertedOther {
                call,
                reason: source.to_string(),
            };
        }
        Self::Rpc { call, source }
    }
}

/// Connection trouble (refused, reset, timed out: alloy reports those as `Custom`), a gone
/// backend, server errors and rate limits may pass; a malformed request or answer will not.
fn transport_retryable(e: &RpcError<TransportErrorKind>) -> bool {
    match e {
        RpcError::Transport(kind) => match kind {
            TransportErrorKind::NonRetryable(_) => false,
            TransportErrorKind::HttpError(http) => http.status >= 500 || kind.is_retry_err(),
            TransportErrorKind::Custom(_) | TransportErrorKind::BackendGone => true,
            other => other.is_retry_err(),
        },
        RpcError::ErrorResp(payload) => payload.is_retry_err(),
        _ => false,
    }
}
