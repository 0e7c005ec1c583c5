//! The HTTP API: `app(state) -> Router`, testable without a network.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jit_proto::api::{CaKeys, Health, RoleInfo, Whoami, WhoamiRequest};
use jit_proto::ErrorCode;
use tokio::sync::Semaphore;

use crate::auth::{authenticate, Confirmation};
use crate::error::AppError;
use crate::state::AppState;

/// The peer's IP address ("unknown" when served without a socket, as in unit tests).
pub struct PeerIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(PeerIp(ip))
    }
}

/// The API router. Every route but `/v1/healthz` and `/metrics` sits behind the load
/// shedder (at most `settings.max_in_flight` requests at once), so a flood is answered 503
/// `overloaded` at once while health checks and scrapes still get through.
pub fn app(state: Arc<AppState>) -> Router {
    let shedder = Shedder {
        permits: Arc::new(Semaphore::new(state.settings.max_in_flight)),
        metrics: state.metrics.clone(),
    };
    Router::new()
        .route("/v1/ca", get(ca_keys))
        .route("/v1/ca/user_ca.pub", get(user_ca_text))
        .route("/v1/ca/host_ca.pub", get(host_ca_text))
        .route("/v1/enroll", post(crate::enroll::enroll))
        .route("/v1/enroll/confirm", post(crate::enroll::confirm))
        .route("/v1/whoami", post(whoami))
        .route("/v1/certificates", post(crate::issue::issue))
        .route("/v1/requests", post(crate::requests::create))
        .route("/v1/requests/list", post(crate::requests::list))
        .route("/v1/requests/{id}/status", post(crate::requests::status))
        .route("/v1/requests/{id}/approve", post(crate::requests::approve))
        .route("/v1/requests/{id}/deny", post(crate::requests::deny))
        .route("/v1/certificates/revoke", post(crate::revoke::revoke_own))
        .route("/v1/krl", get(crate::revoke::krl))
        .route("/v1/hosts/enroll", post(crate::hosts::enroll))
        .route("/v1/hosts/renew", post(crate::hosts::renew))
        .route("/v1/log/checkpoint", get(crate::transparency::checkpoint))
        .route("/v1/log/key", get(crate::transparency::key))
        .route("/v1/log/key.pub", get(crate::transparency::key_text))
        .route("/v1/log/entries", get(crate::transparency::entries))
        .route(
            "/v1/log/proof/inclusion",
            get(crate::transparency::inclusion),
        )
        .route(
            "/v1/log/proof/consistency",
            get(crate::transparency::consistency),
        )
        // Only the routes above are shed (a route layer wraps the routes added before it).
        .route_layer(middleware::from_fn_with_state(shedder, shed))
        .route("/v1/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}

/// The load shedder's state: one permit per request in flight.
#[derive(Clone)]
struct Shedder {
    permits: Arc<Semaphore>,
    metrics: Arc<crate::metrics::Metrics>,
}

/// Run the request if a permit is free, else answer 503 `overloaded` with `Retry-After`
/// at once (queueing would only turn the excess into timeouts for everyone).
async fn shed(State(shedder): State<Shedder>, request: Request, next: Next) -> Response {
    let Ok(_permit) = shedder.permits.clone().try_acquire_owned() else {
        shedder.metrics.denied(ErrorCode::Overloaded.as_str());
        return AppError::overloaded("max_in_flight requests are in flight").into_response();
    };
    next.run(request).await
}

async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such endpoint")
        .hint("the API lives under /v1; see docs/api.md")
}

async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, AppError> {
    let pending = state.store.pending_request_count(state.clock.now()).await?;
    let body = state.metrics.render(pending);
    Ok((
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// `GET /v1/healthz`: 200 when the store answers a read and durably takes a tiny write
/// (one upsert of the `health_probe` row, sharing the next group commit on SQLite), so a
/// database that is down, full or read-only shows here; else 503 with `Retry-After`.
async fn healthz(State(state): State<Arc<AppState>>) -> Result<Json<Health>, AppError> {
    state.store.ping().await?;
    state.store.probe_write(state.clock.now()).await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

fn public_lines(keys: &[jit_ca::PublicKey]) -> Result<Vec<String>, AppError> {
    keys.iter()
        .map(|key| {
            key.to_openssh()
                .map_err(|e| AppError::internal("encode CA public key", e))
        })
        .collect()
}

async fn ca_keys(State(state): State<Arc<AppState>>) -> Result<Json<CaKeys>, AppError> {
    Ok(Json(CaKeys {
        user_ca: public_lines(&state.user_ca_keys())?,
        host_ca: public_lines(&state.host_ca_keys())?,
    }))
}

/// One key per line: the file sshd's `TrustedUserCAKeys` reads.
async fn user_ca_text(State(state): State<Arc<AppState>>) -> Result<String, AppError> {
    Ok(public_lines(&state.user_ca_keys())?.join("\n") + "\n")
}

async fn host_ca_text(State(state): State<Arc<AppState>>) -> Result<String, AppError> {
    Ok(public_lines(&state.host_ca_keys())?.join("\n") + "\n")
}

/// The roles a user may use, as the CLI shows them.
pub fn whoami_for(state: &AppState, user: &jit_store::User) -> Whoami {
    let identity = jit_policy::Identity {
        user: &user.name,
        groups: &user.groups,
    };
    Whoami {
        user: user.name.clone(),
        groups: user.groups.clone(),
        roles: state
            .policy
            .roles_for(&identity)
            .into_iter()
            .map(|role| RoleInfo {
                name: role.name.clone(),
                principals: role.principals.clone(),
                hosts: role.hosts.clone(),
                default_ttl_seconds: role.default_ttl.as_secs(),
                max_ttl_seconds: role.max_ttl.as_secs(),
            })
            .collect(),
    }
}

async fn whoami(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match authenticate::<WhoamiRequest>(
        &state,
        "/v1/whoami",
        &headers,
        &body,
        Confirmation::Required,
    )
    .await
    {
        Ok(auth) => Json(whoami_for(&state, &auth.user)).into_response(),
        Err(error) => error.into_response(),
    }
}
