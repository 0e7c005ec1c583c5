//! The issuance log as a Merkle tree: jitd keeps the tree in memory (caught up from the store
//! on demand, so several replicas agree), signs checkpoints with the log key at least every
//! minute while there are new records and at shutdown, and serves entries, checkpoints and
//! inclusion/consistency proofs. Reading entries and proofs needs the auditor group.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::Json;
use jit_log::merkle::{entry_leaf_hash, ConsistencyProof, InclusionProof, Tree};
use jit_log::{Checkpoint, Entry, SignedCheckpoint};
use jit_proto::ErrorCode;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::auth::authenticate_get;
use crate::error::AppError;
use crate::state::AppState;

/// Page size when catching the tree up from the store.
const PAGE: u64 = 1000;
/// Most entries one `/v1/log/entries` call returns.
const MAX_ENTRIES: u64 = 1000;

/// The in-memory Merkle tree over the log.
#[derive(Default)]
pub struct LogTree {
    tree: Mutex<Tree>,
}

impl std::fmt::Debug for LogTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogTree").finish_non_exhaustive()
    }
}

impl LogTree {
    /// The tree, caught up with every entry the store has.
    pub async fn synced(
        &self,
        state: &AppState,
    ) -> Result<tokio::sync::MutexGuard<'_, Tree>, AppError> {
        let mut tree = self.tree.lock().await;
        loop {
            let page = state.store.log_entries(tree.size() + 1, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for entry in &page {
                if entry.seq != tree.size() + 1 {
                    return Err(AppError::internal("log entries out of order", entry.seq));
                }
                tree.push(entry_leaf_hash(entry));
            }
        }
        Ok(tree)
    }
}

/// Sign and store a checkpoint if the log grew since the last one; returns it.
pub async fn checkpoint_now(state: &AppState) -> Result<Option<SignedCheckpoint>, AppError> {
    let tree = state.log_tree.synced(state).await?;
    let latest = latest_checkpoint(state).await?;
    if tree.size() == 0
        || latest
            .as_ref()
            .is_some_and(|c| c.checkpoint.tree_size >= tree.size())
    {
        return Ok(None);
    }
    // Never earlier than the previous checkpoint, even if this replica's clock is behind.
    let timestamp = state
        .clock
        .now()
        .max(latest.as_ref().map_or(0, |c| c.checkpoint.timestamp));
    let checkpoint = Checkpoint::of(state.settings.log_origin.clone(), &tree, timestamp);
    drop(tree);
    let signature = jit_ca::checkpoint::sign(state.log_key.as_ref(), &checkpoint.signed_text())
        .map_err(|e| AppError::internal("checkpoint signing failed", e))?;
    let signed = SignedCheckpoint {
        checkpoint,
        key_id: state.log_key.fingerprint(),
        signature,
    };
    let json =
        serde_json::to_string(&signed).map_err(|e| AppError::internal("checkpoint encoding", e))?;
    state
        .store
        .add_checkpoint(signed.checkpoint.tree_size, &json, state.clock.now())
        .await?;
    tracing::info!(tree_size = signed.checkpoint.tree_size, "checkpoint signed");
    Ok(Some(signed))
}

/// The newest stored checkpoint.
pub async fn latest_checkpoint(state: &AppState) -> Result<Option<SignedCheckpoint>, AppError> {
    state
        .store
        .latest_checkpoint()
        .await?
        .map(|json| {
            serde_json::from_str(&json).map_err(|e| AppError::internal("stored checkpoint", e))
        })
        .transpose()
}

/// Sign checkpoints every `interval` while there are new records, and once more when
/// `shutdown` resolves.
pub async fn checkpointer(
    state: Arc<AppState>,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(interval) => {
                if let Err(error) = checkpoint_now(&state).await {
                    tracing::error!(error = %error.message(), "could not sign a checkpoint");
                }
            }
        }
    }
    if let Err(error) = checkpoint_now(&state).await {
        tracing::error!(error = %error.message(), "could not sign the shutdown checkpoint");
    }
}

/// `GET /v1/log/checkpoint`: the newest signed checkpoint (public: it proves nothing secret).
pub async fn checkpoint(
    State(state): State<Arc<AppState>>,
) -> Result<Json<SignedCheckpoint>, AppError> {
    match latest_checkpoint(&state).await? {
        Some(signed) => Ok(Json(signed)),
        None => checkpoint_now(&state).await?.map(Json).ok_or_else(|| {
            AppError::new(
                ErrorCode::NotFound,
                "the log is empty; there is no checkpoint yet",
            )
        }),
    }
}

/// `GET /v1/log/key`: the log public key checkpoints are signed with.
pub async fn key(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, AppError> {
    let line = state
        .log_key
        .public_key()
        .to_openssh()
        .map_err(|e| AppError::internal("log key", e))?;
    Ok(Json(
        serde_json::json!({"key": line, "key_id": state.log_key.fingerprint()}),
    ))
}

/// `GET /v1/log/key.pub`: the same key as one OpenSSH line (what hosts keep as log_key.pub).
pub async fn key_text(State(state): State<Arc<AppState>>) -> Result<String, AppError> {
    let line = state
        .log_key
        .public_key()
        .to_openssh()
        .map_err(|e| AppError::internal("log key", e))?;
    Ok(line + "\n")
}

async fn auditor(state: &AppState, uri: &OriginalUri, headers: &HeaderMap) -> Result<(), AppError> {
    let path = uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let auth = authenticate_get(state, path, headers).await?;
    if !auth.user.groups.contains(&state.settings.auditor_group) {
        return Err(AppError::new(
            ErrorCode::RoleNotAllowed,
            format!("reading the log needs the {} group", state.settings.auditor_group),
        )
        .hint("ask your jit operator to add you to it, or audit an export with `jitd audit verify --file`"));
    }
    Ok(())
}

fn query_u64(uri: &OriginalUri, name: &str) -> Option<u64> {
    uri.0
        .query()?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)?
        .1
        .parse()
        .ok()
}

fn bad(message: &str) -> AppError {
    AppError::new(ErrorCode::BadRequest, message.to_string())
}

/// `GET /v1/log/entries?start=&end=` (sequence numbers, inclusive; auditors).
pub async fn entries(
    State(state): State<Arc<AppState>>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Json<Vec<Entry>>, AppError> {
    auditor(&state, &uri, &headers).await?;
    let start = query_u64(&uri, "start").unwrap_or(1).max(1);
    let end = query_u64(&uri, "end").unwrap_or(start + MAX_ENTRIES - 1);
    if end < start {
        return Err(bad("end must not be before start"));
    }
    let limit = (end - start + 1).min(MAX_ENTRIES);
    Ok(Json(state.store.log_entries(start, limit).await?))
}

/// An inclusion proof with the leaf it is for.
#[derive(Debug, Serialize)]
pub struct InclusionAnswer {
    /// The entry (leaf `proof.index` is entry `seq = index + 1`).
    pub entry: Entry,
    /// The proof against the tree of `proof.tree_size`.
    pub proof: InclusionProof,
}

/// `GET /v1/log/proof/inclusion?index=I|serial=S[&tree_size=N]` (auditors).
pub async fn inclusion(
    State(state): State<Arc<AppState>>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Json<InclusionAnswer>, AppError> {
    auditor(&state, &uri, &headers).await?;
    let index = match (query_u64(&uri, "index"), query_u64(&uri, "serial")) {
        (Some(index), _) => index,
        (None, Some(serial)) => serial_index(&state, serial).await?,
        (None, None) => return Err(bad("name the leaf with index= or serial=")),
    };
    let tree = state.log_tree.synced(&state).await?;
    let size = query_u64(&uri, "tree_size").unwrap_or(tree.size());
    let proof = tree
        .inclusion_proof_at(index, size)
        .map_err(|e| bad(&e.to_string()))?;
    drop(tree);
    let entry = state
        .store
        .log_entries(index + 1, 1)
        .await?
        .pop()
        .ok_or_else(|| bad("no such entry"))?;
    Ok(Json(InclusionAnswer { entry, proof }))
}

/// Leaf index of the issuance record of certificate `serial` (the certificate row keeps it).
async fn serial_index(state: &AppState, serial: u64) -> Result<u64, AppError> {
    match state.store.issuance_seq(serial).await? {
        Some(seq) => Ok(seq - 1),
        None => Err(AppError::new(
            ErrorCode::NotFound,
            format!("no issuance record for serial {serial}"),
        )),
    }
}

/// `GET /v1/log/proof/consistency?first=M&second=N` (auditors).
pub async fn consistency(
    State(state): State<Arc<AppState>>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Json<ConsistencyProof>, AppError> {
    auditor(&state, &uri, &headers).await?;
    let tree = state.log_tree.synced(&state).await?;
    let first = query_u64(&uri, "first").ok_or_else(|| bad("give first= (the older tree size)"))?;
    let second = query_u64(&uri, "second").unwrap_or(tree.size());
    let proof = tree
        .consistency_proof_between(first, second)
        .map_err(|e| bad(&e.to_string()))?;
    Ok(Json(proof))
}
