//! Ctrl-C and SIGTERM as a [`CancellationToken`]: long-running commands (`dev`, `worker`,
//! `chain`, `serve`, `store serve`) take the token and stop cleanly when it fires; other commands
//! keep the default, an immediate exit.

use tokio_util::sync::CancellationToken;

/// Takes over Ctrl-C and SIGTERM; the token is cancelled when either arrives. Called before a
/// command prints that it is up, so a signal that arrives right after that is a clean stop
/// too, never the default kill.
pub(crate) fn catch() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (term, int) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        if let (Ok(mut term), Ok(mut int)) = (term, int) {
            tokio::spawn(async move {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                fire.cancel();
            });
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        fire.cancel();
    });
    token
}
