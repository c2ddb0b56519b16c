//! An alloy transport that hands requests straight to a [`DevChain`]: for an agent and the CLI
//! living in the same process as the chain. Requests and responses still go through their JSON
//! form (the same dispatcher the HTTP server uses), so both paths behave identically.

use std::task::{Context, Poll};

use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut};
use tower::Service;

use crate::DevChain;

/// The in-process transport. Build a provider with
/// `ProviderBuilder::new().connect_client(RpcClient::new(chain.transport(), true))`.
#[derive(Clone, Debug)]
pub struct InProcess {
    chain: DevChain,
}

impl InProcess {
    pub(crate) fn new(chain: DevChain) -> Self {
        Self { chain }
    }

    fn answer(&self, request: &RequestPacket) -> Result<ResponsePacket, TransportError> {
        let body = serde_json::to_vec(request).map_err(TransportError::ser_err)?;
        // Only notifications (never sent by alloy) have no answer.
        let Some(answer) = self.chain.handle(&body) else {
            return Err(TransportErrorKind::custom_str(
                "no response to a notification-only request",
            ));
        };
        serde_json::from_slice(&answer)
            .map_err(|error| TransportError::deser_err(error, String::from_utf8_lossy(&answer)))
    }
}

impl Service<RequestPacket> for InProcess {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        let answer = self.answer(&request);
        Box::pin(async move { answer })
    }
}
