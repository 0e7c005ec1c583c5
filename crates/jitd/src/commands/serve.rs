//! `jitd serve`: load keys, policy and store, then serve until SIGTERM.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::ServeArgs;
use crate::clock::{OsRandomness, SystemClock};
use crate::state::{AppState, Settings};

/// Serve the API.
pub async fn run(
    data_dir: &Path,
    args: ServeArgs,
    log: &crate::logging::Counters,
) -> anyhow::Result<ExitCode> {
    // One crypto provider for the whole process (FIELD-NOTES: two would panic).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (mut config, store) = super::open(data_dir).await?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let passphrase = super::passphrase(&args.passphrase)?;
    let (policy_text, policy_hash) = super::policy_text(data_dir, &config)?;
    let now = super::now();
    crate::ca_keys::adopt(store.as_ref(), data_dir, &config, &policy_hash, now).await?;
    let cas = crate::ca_keys::load(store.as_ref(), data_dir, passphrase.as_ref()).await?;
    let log_key_path = config.path(data_dir, &config.log_key);
    let log_key = jit_ca::custody::load_key_file(&log_key_path, passphrase.as_ref()).with_context(|| {
        format!(
            "the log signing key {} is needed to sign checkpoints (data directories from before it existed: \
             create it with `ssh-keygen -t ed25519 -f {}` and the CA passphrase)",
            log_key_path.display(),
            log_key_path.display()
        )
    })?;
    drop(passphrase);
    let policy = jit_policy::Policy::parse(&policy_text).map_err(|errors| {
        anyhow::anyhow!(
            "the policy file has errors (fix them, then check with `jitd policy check`):\n{errors}"
        )
    })?;
    let tls = crate::tls::server_config(
        &config.path(data_dir, &config.tls_cert),
        &config.path(data_dir, &config.tls_key),
    )?;
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(crate::metrics::Metrics::new(log.clone()));
    let webhook = config
        .alerts
        .webhook_url
        .clone()
        .filter(|url| !url.is_empty());
    let alerter = Arc::new(crate::alerts::Alerter::new(
        store.clone(),
        clock.clone(),
        webhook.is_some(),
    ));
    let state = Arc::new(AppState {
        store,
        policy: Arc::new(policy),
        user_ca: Arc::new(cas.user_ca),
        host_ca: Arc::new(cas.host_ca),
        log_key: Arc::new(log_key),
        user_ca_previous: cas.user_previous,
        host_ca_previous: cas.host_previous,
        clock: clock.clone(),
        randomness: Arc::new(OsRandomness),
        settings: Settings {
            request_max_age: config.request_max_age.as_secs(),
            issuer: config.issuer.clone(),
            auditor_group: config.auditor_group.clone(),
            log_origin: config.public_url.clone(),
            max_in_flight: config.max_in_flight,
            ..Settings::default()
        },
        alerter: alerter.clone(),
        metrics: metrics.clone(),
        log_tree: crate::transparency::LogTree::default(),
    });
    tracing::info!(policy = %state.policy.hash(), roles = state.policy.roles().count(), "policy loaded");
    crate::policy_load::record(&state, "started", None)
        .await
        .context("cannot record the policy in force in the log")?;
    // One shutdown signal, seen by the server, the checkpointer and the alert worker.
    let signal = crate::server::shutdown_signal()?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = stop.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopping| *stopping).await;
    };
    let delivery = webhook.map(|url| {
        tracing::info!(%url, "alerts go to the webhook");
        tokio::spawn(crate::alerts::deliver(
            state.store.clone(),
            clock.clone(),
            metrics.clone(),
            url,
            alerter.wake_handle(),
            stopped(stopping.clone()),
        ))
    });
    let checkpointer = tokio::spawn(crate::transparency::checkpointer(
        state.clone(),
        config.checkpoint_interval,
        stopped(stopping.clone()),
    ));
    let purger = tokio::spawn(crate::housekeeping::purger(
        state.clone(),
        crate::housekeeping::PURGE_INTERVAL,
        stopped(stopping.clone()),
    ));
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    crate::server::run(listener, tls, state, stopped(stopping.clone())).await?;
    // The server has drained; the checkpointer signs a last checkpoint before we exit.
    let _ = checkpointer.await;
    let _ = purger.await;
    if let Some(delivery) = delivery {
        let _ = delivery.await;
    }
    Ok(ExitCode::SUCCESS)
}
