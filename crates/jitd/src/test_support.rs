//! Test support, behind the cargo feature `test-support` (enabled only by dev-dependencies):
//! a real [`AppState`] on a fresh SQLite store with fresh CA key files, and a [`TestServer`]
//! that serves the real [`crate::api::app`] over real TLS on 127.0.0.1.
//!
//! jitd's own API tests build their state with [`app_state`]; the `jit` CLI's tests talk to
//! a [`TestServer`], so the wire contract between the two cannot drift. Nothing here is a
//! fake: the only addition is a layer that records what reached the server (method, path,
//! `If-None-Match`, body, status) so a test can check what a client sent.

use jit_store::{Applied, Change};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use jit_ca::signer::{CaSigner, Ed25519Signer};

use crate::clock::{Clock, OsRandomness, SystemClock};
use crate::state::{AppState, Settings};

/// Largest request body the recording layer buffers (the API's own limit is 64 KiB).
const MAX_RECORDED_BODY: usize = 1 << 20;

/// A fresh CA key file `name` in `dir` (unencrypted: it is a throwaway test key).
fn ca_key(dir: &Path, name: &str) -> anyhow::Result<Arc<Ed25519Signer>> {
    let path = dir.join(name);
    let signer = jit_ca::custody::generate_key_file(&mut rand::rngs::OsRng, &path, name, None)
        .with_context(|| format!("cannot make the test CA key {}", path.display()))?;
    Ok(Arc::new(signer))
}

/// A jitd state on a fresh SQLite store in `data_dir` running `policy` (policy-file text),
/// with fresh user, host and log keys, `clock`, and `settings`; webhook alerts are queued.
pub async fn app_state(
    data_dir: &Path,
    policy: &str,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> anyhow::Result<Arc<AppState>> {
    app_state_with(data_dir, "sqlite://jit.db", policy, clock, settings, false).await
}

/// [`app_state`] in the middle of a rotation: an earlier user CA key and an earlier host CA
/// key are still trusted and published.
pub async fn app_state_mid_rotation(
    data_dir: &Path,
    policy: &str,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> anyhow::Result<Arc<AppState>> {
    app_state_with(data_dir, "sqlite://jit.db", policy, clock, settings, true).await
}

/// [`app_state`] on the store `database` names (relative paths are under `data_dir`),
/// optionally [`app_state_mid_rotation`].
pub async fn app_state_with(
    data_dir: &Path,
    database: &str,
    policy: &str,
    clock: Arc<dyn Clock>,
    settings: Settings,
    mid_rotation: bool,
) -> anyhow::Result<Arc<AppState>> {
    let previous = |name: &str| -> anyhow::Result<Vec<jit_ca::PublicKey>> {
        Ok(match mid_rotation {
            true => vec![ca_key(data_dir, name)?.public_key().clone()],
            false => Vec::new(),
        })
    };
    let store = jit_store::open(database, data_dir)
        .await
        .context("cannot open the test store")?;
    let policy = jit_policy::Policy::parse(policy).context("the test policy does not parse")?;
    let alerter = crate::alerts::Alerter::new(store.clone(), clock.clone(), true);
    Ok(Arc::new(AppState {
        store,
        policy: Arc::new(policy),
        user_ca: ca_key(data_dir, "user_ca")?,
        host_ca: ca_key(data_dir, "host_ca")?,
        log_key: ca_key(data_dir, "log_key")?,
        user_ca_previous: previous("user_ca-previous")?,
        host_ca_previous: previous("host_ca-previous")?,
        clock,
        randomness: Arc::new(OsRandomness),
        settings,
        alerter: Arc::new(alerter),
        metrics: Arc::new(crate::metrics::Metrics::default()),
        log_tree: crate::transparency::LogTree::default(),
    }))
}

/// One request that reached the server, as the recording layer saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `If-None-Match` header, if any.
    pub if_none_match: Option<String>,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// The status the server answered with.
    pub status: u16,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A running jitd: the real API over TLS (a self-signed certificate, pinned by its
/// SHA-256 like an enrollment token pins it) on `127.0.0.1`, with the real system clock,
/// on its own tokio runtime so synchronous and asynchronous tests can both use it.
pub struct TestServer {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// SHA-256 of the TLS certificate, lowercase hex.
    pub tls_sha256: String,
    /// The state the API runs on (store, policy, CA keys).
    pub state: Arc<AppState>,
    address: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    seen: Log,
    running: Mutex<Option<Running>>,
    runtime: Option<tokio::runtime::Runtime>,
    dir: tempfile::TempDir,
}

/// The serving task and how to stop it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    done: std::sync::mpsc::Receiver<anyhow::Result<()>>,
}

impl TestServer {
    /// Start a server running `policy` with `settings` on an ephemeral port.
    pub fn start(policy: &str, settings: Settings) -> anyhow::Result<TestServer> {
        let dir = tempfile::tempdir().context("cannot make the test data directory")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the test server's runtime")?;
        let tls_dir = dir.path().join("tls");
        let (cert, key) = (tls_dir.join("cert.pem"), tls_dir.join("key.pem"));
        let tls_sha256 = crate::tls::generate_self_signed("127.0.0.1", &cert, &key)?;
        let tls = crate::tls::server_config(&cert, &key)?;
        let (data_dir, policy) = (dir.path().to_path_buf(), policy.to_string());
        let state = on(&runtime, async move {
            app_state(&data_dir, &policy, Arc::new(SystemClock), settings).await
        })?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let server = TestServer {
            url: format!("https://{address}"),
            tls_sha256,
            state,
            address,
            tls,
            seen: Log::default(),
            running: Mutex::new(None),
            runtime: Some(runtime),
            dir,
        };
        server.serve(listener)?;
        Ok(server)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        match &self.runtime {
            Some(runtime) => runtime,
            None => unreachable!("the runtime lives until drop"),
        }
    }

    fn serve(&self, listener: std::net::TcpListener) -> anyhow::Result<()> {
        listener.set_nonblocking(true)?;
        let seen = self.seen.clone();
        let app =
            crate::api::app(self.state.clone()).layer(middleware::from_fn(move |request, next| {
                record(seen.clone(), request, next)
            }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (finished, done) = std::sync::mpsc::channel();
        let tls = self.tls.clone();
        let _guard = self.runtime().enter(); // axum-server registers the socket with tokio
        self.runtime().spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let _ = finished.send(crate::server::serve(listener, tls, app, shutdown).await);
        });
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(Running { stop, done });
        Ok(())
    }

    /// Run `future` on the server's runtime and wait for it (from a test thread that may
    /// itself be inside another runtime).
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        on(self.runtime(), future)
    }

    /// Stop serving and wait until the socket is closed: from now on connections are
    /// refused. The state stays readable.
    pub fn stop(&self) -> anyhow::Result<()> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Running { stop, done }) = running {
            let _ = stop.send(());
            done.recv()
                .context("the test server's task ended without an answer")??;
        }
        Ok(())
    }

    /// Restart on the same address with the same store, TLS certificate and user CA, after
    /// a host CA rotation: a new host CA key signs, the old one is still published (as
    /// `jitd` does with `host_ca_previous` after `jitd ca rotate`).
    pub fn rotate_host_ca(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        let old = self.state.clone();
        let host_ca: Arc<dyn CaSigner> = ca_key(self.dir.path(), "host_ca.next")?;
        let mut host_ca_previous = vec![old.host_ca.public_key().clone()];
        host_ca_previous.extend(old.host_ca_previous.iter().cloned());
        self.state = Arc::new(AppState {
            store: old.store.clone(),
            policy: old.policy.clone(),
            user_ca: old.user_ca.clone(),
            host_ca,
            log_key: old.log_key.clone(),
            user_ca_previous: old.user_ca_previous.clone(),
            host_ca_previous,
            clock: old.clock.clone(),
            randomness: old.randomness.clone(),
            settings: old.settings.clone(),
            alerter: old.alerter.clone(),
            metrics: old.metrics.clone(),
            log_tree: crate::transparency::LogTree::default(),
        });
        let listener = std::net::TcpListener::bind(self.address)
            .with_context(|| format!("cannot listen on {} again", self.address))?;
        self.serve(listener)
    }

    /// Every request that reached the server so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Add user `name` in `groups`.
    pub fn add_user(&self, name: &str, groups: &[&str]) -> anyhow::Result<()> {
        let (state, name) = (self.state.clone(), name.to_string());
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        self.block_on(async move {
            let at = state.clock.now();
            commit_change(&state, Change::AddUser { name, groups, at }).await
        })?;
        Ok(())
    }

    /// A new one-hour enrollment token secret for `user` (what `jitd user token` makes).
    pub fn enrollment_secret(&self, user: &str) -> anyhow::Result<String> {
        let secret = crate::clock::random_hex(&OsRandomness, 16);
        let (state, user, hash) = (
            self.state.clone(),
            user.to_string(),
            crate::enroll::token_hash(&secret),
        );
        self.block_on(async move {
            let at = state.clock.now();
            let change = Change::AddEnrollmentToken {
                token_hash: hash,
                user,
                at,
                expires_at: at + 3600,
            };
            commit_change(&state, change).await
        })?;
        Ok(secret)
    }

    /// A new one-hour host token secret for host `name` with `principals` (what `jitd host
    /// add` makes).
    pub fn host_secret(&self, name: &str, principals: &[&str]) -> anyhow::Result<String> {
        let secret = crate::clock::random_hex(&OsRandomness, 16);
        let (state, name, hash) = (
            self.state.clone(),
            name.to_string(),
            crate::enroll::token_hash(&secret),
        );
        let principals: Vec<String> = principals.iter().map(|p| p.to_string()).collect();
        self.block_on(async move {
            let at = state.clock.now();
            let change = Change::AddHost {
                name,
                principals,
                token_hash: hash,
                expires_at: at + 3600,
                at,
            };
            commit_change(&state, change).await
        })?;
        Ok(secret)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background(); // allowed inside an async test, unlike a plain drop
        }
    }
}

/// Commit `change` with an operator's record, as the admin commands do (the tests' way to
/// put state in place: through the ledger, like everything else).
pub async fn commit_change(state: &AppState, change: Change) -> Result<Applied, jit_store::Error> {
    let record = jit_log::Record {
        time: state.clock.now(),
        policy_hash: state.policy.hash().to_string(),
        event: jit_log::Event::User(jit_log::UserChange {
            user: "test-support".into(),
            action: change.name().into(),
            groups: vec![],
            operator: None,
            revoked_serials: vec![],
        }),
    };
    let committed = state
        .store
        .commit(change, jit_store::ledger::record(record))
        .await?;
    Ok(committed.applied)
}

/// Run `future` on `runtime` from any thread and wait for it.
fn on<F>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = sender.send(future.await);
    });
    match receiver.recv() {
        Ok(output) => output,
        Err(_) => panic!("a future on the test server's runtime panicked"),
    }
}

/// The recording layer: buffer the body, pass the request on, note what was answered.
async fn record(seen: Log, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_RECORDED_BODY)
        .await
        .unwrap_or_default();
    let if_none_match = parts
        .headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (method, path) = (parts.method.to_string(), parts.uri.path().to_string());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Seen {
            method,
            path,
            if_none_match,
            body: bytes.to_vec(),
            status: response.status().as_u16(),
        });
    response
}
