//! Background upkeep of the store, off the request path: expired request nonces and TOTP
//! failures older than the attempt window are deleted once a minute instead of on every
//! request (a request only ever looks at the ones that still matter).

use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

/// How often expired rows are purged.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// Delete what no check can need any more: nonces past their expiry (the request they
/// guard is stale by then) and TOTP failures before the attempt window.
pub async fn purge_once(state: &AppState) -> jit_store::Result<u64> {
    let now = state.clock.now();
    let failures_until = state.settings.attempt_limit.window_start(now);
    state.store.purge_expired(now, failures_until).await
}

/// Purge every `interval` until `shutdown` resolves.
pub async fn purger(
    state: Arc<AppState>,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(interval) => match purge_once(&state).await {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "purged expired nonces and TOTP failures"),
                Err(error) => tracing::warn!(%error, "could not purge expired nonces and TOTP failures; will try again"),
            },
        }
    }
}
