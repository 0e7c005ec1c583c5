//! What every request handler shares: store, policy, CA signers, clock, randomness.

use std::sync::Arc;

use jit_ca::signer::CaSigner;
use jit_mfa::AttemptLimit;
use jit_policy::Policy;
use jit_store::Store;

use crate::alerts::Alerter;
use crate::clock::{Clock, Randomness};
use crate::metrics::Metrics;

/// Shared server state.
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The policy in force.
    pub policy: Arc<Policy>,
    /// User CA (signs user certificates).
    pub user_ca: Arc<dyn CaSigner>,
    /// Host CA (signs host certificates; published for known_hosts).
    pub host_ca: Arc<dyn CaSigner>,
    /// Log signing key (checkpoints).
    pub log_key: Arc<dyn CaSigner>,
    /// Earlier user CA public keys still trusted during a rotation.
    pub user_ca_previous: Vec<jit_ca::PublicKey>,
    /// Earlier host CA public keys still published during a rotation.
    pub host_ca_previous: Vec<jit_ca::PublicKey>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Random source.
    pub randomness: Arc<dyn Randomness>,
    /// Tunables.
    pub settings: Settings,
    /// Alerts (log + webhook queue).
    pub alerter: Arc<Alerter>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The log's Merkle tree, kept in memory.
    pub log_tree: crate::transparency::LogTree,
}

impl AppState {
    /// Every user CA public key hosts should trust: the signing one first, then earlier ones.
    pub fn user_ca_keys(&self) -> Vec<jit_ca::PublicKey> {
        std::iter::once(self.user_ca.public_key().clone())
            .chain(self.user_ca_previous.iter().cloned())
            .collect()
    }

    /// Every host CA public key clients should trust.
    pub fn host_ca_keys(&self) -> Vec<jit_ca::PublicKey> {
        std::iter::once(self.host_ca.public_key().clone())
            .chain(self.host_ca_previous.iter().cloned())
            .collect()
    }
}

/// Server tunables from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Signed requests whose timestamp is further than this from now are refused (seconds).
    pub request_max_age: u64,
    /// Issuer shown in authenticator apps.
    pub issuer: String,
    /// Failed TOTP codes allowed per user and window.
    pub attempt_limit: AttemptLimit,
    /// How long a request waits for approvals before it lapses (seconds).
    pub request_lifetime: u64,
    /// Members of this group may read log entries and proofs over the API.
    pub auditor_group: String,
    /// Name of this log in its checkpoints.
    pub log_origin: String,
    /// Most API requests handled at once (more are shed with 503 `overloaded`).
    pub max_in_flight: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            request_max_age: 60,
            issuer: "jit".into(),
            attempt_limit: AttemptLimit::default(),
            request_lifetime: 24 * 3600,
            auditor_group: "auditors".into(),
            log_origin: "jit".into(),
            max_in_flight: crate::config::DEFAULT_MAX_IN_FLIGHT,
        }
    }
}
