//! Errors: why a transaction was refused, why a chain could not open, and JSON-RPC error objects.

use std::path::PathBuf;

use alloy::primitives::Bytes;
use revm::context_interface::result::InvalidTransaction;
use serde::Serialize;

use crate::chain::describe_invalid;

/// Why a transaction was not accepted. The chain is unchanged by a refused transaction.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TxError {
    #[error("already known")]
    AlreadyKnown,
    #[error("invalid chain id: transaction is for chain {tx}, this chain is {chain}")]
    WrongChainId { tx: u64, chain: u64 },
    #[error("only replay-protected (EIP-155) transactions are allowed over RPC")]
    NotReplayProtected,
    #[error("transaction type not supported: {0}")]
    Unsupported(&'static str),
    #[error("nonce too low: next nonce {next}, tx nonce {tx}")]
    NonceTooLow { tx: u64, next: u64 },
    #[error("nonce too high: next nonce {next}, tx nonce {tx} (this chain does not queue gaps)")]
    NonceTooHigh { tx: u64, next: u64 },
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    #[error("{}", describe_invalid(.0))]
    Invalid(InvalidTransaction),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a dev chain could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot derive dev accounts from the mnemonic: {0}")]
    Mnemonic(String),
    #[error("cannot use the data dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the journal {path} is damaged at line {line}: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "the data dir {path} holds chain {found}, not chain {wanted}: use another --data-dir or \
         the same chain id"
    )]
    OtherChain {
        path: PathBuf,
        found: u64,
        wanted: u64,
    },
    #[error(
        "the data dir {path} holds a chain with other dev accounts, balances, gas limit or base \
         fee: start it with the options it was created with, or use another data dir"
    )]
    OtherGenesis { path: PathBuf },
    #[error("a dev chain with a block time needs a tokio runtime to mine on")]
    NoRuntime,
    #[error(
        "replaying {path} gave a different block {number} than was recorded (was the journal \
         written by another version?)"
    )]
    Diverged { path: PathBuf, number: u64 },
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Bytes>,
}

impl RpcError {
    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    /// Geth's code for a refused transaction or a failed call.
    pub const SERVER: i64 = -32000;
    /// The standard code of a reverted call, with the revert data in `data`.
    pub const REVERTED: i64 = 3;
    /// EIP-1474's "limit exceeded": too many filters or subscriptions.
    pub const LIMIT: i64 = -32005;

    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_params(message: impl std::fmt::Display) -> Self {
        Self::new(Self::INVALID_PARAMS, format!("invalid params: {message}"))
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new(Self::SERVER, message)
    }

    /// `execution reverted`, with the reason in the message when the data is Solidity's
    /// `Error(string)` or `Panic(uint256)` (as geth words it); a custom error stays in `data`
    /// for the client to decode.
    pub fn reverted(data: Bytes) -> Self {
        use alloy::sol_types::{Panic, Revert, SolError};
        let message = if let Ok(revert) = Revert::abi_decode(&data) {
            format!("execution reverted: {}", revert.reason)
        } else if let Ok(panic) = Panic::abi_decode(&data) {
            format!("execution reverted: {panic}")
        } else {
            "execution reverted".to_owned()
        };
        Self {
            code: Self::REVERTED,
            message,
            data: Some(data),
        }
    }
}

impl From<TxError> for RpcError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Internal(_) => Self::new(Self::INTERNAL, error.to_string()),
            other => Self::server(other.to_string()),
        }
    }
}
