//! A fake jitd over TLS with a self-signed certificate: just enough of `/v1` to drive the
//! CLI, and an independent check of the device signatures it receives.
//!
//! Users: `alice` (group sre) and the approvers `bob` and `carol` (group sre-leads). Roles:
//! `db` and `web` (plain), `db-admin` (2 approvals from sre-leads, see [`requests`]) and
//! `prod-root` (break-glass: needs a reason). What hosts use (CA keys, the KRL, host
//! certificates) and self-revocation are in [`hosts`].

mod auth;
pub mod hosts;
mod requests;
mod wire;

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use jit_proto::api::{
    CertificateRequest, CertificateResponse, EnrollRequest, EnrollResponse, RoleInfo, Whoami,
};
use jit_proto::token::EnrollmentToken;
use jit_proto::{ApiError, ErrorBody, ErrorCode};
use serde_json::Value;
use ssh_key::{HashAlg, PublicKey};

use crate::ca::{Grant, TestCa};
use auth::{check_code, check_signature};
pub use auth::{signer, verify_signed};
use wire::{Reply, Request};

/// The secret inside alice's tokens; `TOKEN_SECRET-USER` enrolls another user.
pub const TOKEN_SECRET: &str = "tok-s3cret";
/// Users this server knows.
pub const USERS: [&str; 3] = ["alice", "bob", "carol"];
/// The users who may decide `db-admin` requests.
pub const APPROVERS: [&str; 2] = ["bob", "carol"];
/// The role that needs approvals, and how many.
pub const APPROVAL_ROLE: (&str, u32) = ("db-admin", 2);
/// The break-glass role.
pub const BREAK_GLASS_ROLE: &str = "prod-root";
/// The only TOTP code this server accepts.
pub const GOOD_CODE: &str = "123456";
/// The TOTP secret handed out at enrollment.
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";

/// An enrolled device.
pub struct Device {
    /// Its public key.
    pub key: PublicKey,
    /// Whose it is.
    pub user: String,
    /// Whether it confirmed.
    pub confirmed: bool,
}

/// What the server has seen and holds.
#[derive(Default)]
pub struct State {
    /// Enrolled devices by `SHA256:` fingerprint.
    pub devices: HashMap<String, Device>,
    /// Access requests.
    pub requests: requests::Store,
    /// Bodies of the `/v1/certificates` requests that were signed, in order.
    pub certificate_requests: Vec<CertificateRequest>,
    /// Paths of the requests that reached a handler, in order.
    pub paths: Vec<String>,
    /// Last serial issued.
    pub serial: u64,
    /// Nonces seen.
    pub nonces: HashSet<String>,
    /// When set, every request gets this error.
    pub forced: Option<ApiError>,
    /// CA keys, KRL, hosts and revocations.
    pub hosts: hosts::Store,
}

impl State {
    /// Register `key` as a device of `user`.
    pub fn add_device(&mut self, key: PublicKey, user: &str, confirmed: bool) {
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let user = user.to_string();
        let device = Device {
            key,
            user,
            confirmed,
        };
        self.devices.insert(fingerprint, device);
    }
}

/// A running fake server.
pub struct FakeJitd {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// SHA-256 of the certificate, hex.
    pub tls_sha256: String,
    /// Shared state.
    pub state: Arc<Mutex<State>>,
    address: SocketAddr,
    running: Arc<AtomicBool>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

/// The CA keys of the fake server.
pub struct Keys {
    /// Signs user certificates.
    pub user: TestCa,
    /// Signs host certificates.
    pub host: TestCa,
}

impl FakeJitd {
    /// Start on an ephemeral port.
    pub fn start() -> FakeJitd {
        let (config, tls_sha256) = wire::self_signed();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let url = format!("https://{address}");
        let keys = Arc::new(Keys {
            user: TestCa::new(),
            host: TestCa::new(),
        });
        let state = Arc::new(Mutex::new(State {
            hosts: hosts::Store::new(&keys),
            ..State::default()
        }));
        let running = Arc::new(AtomicBool::new(true));
        let (shared, still_running) = (state.clone(), running.clone());
        let acceptor = std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                if !still_running.load(Ordering::SeqCst) {
                    break; // dropping the listener: connections are refused from now on
                }
                let (config, state, keys) = (config.clone(), shared.clone(), keys.clone());
                std::thread::spawn(move || {
                    wire::serve(tcp, config, |request| respond(request, &state, &keys));
                });
            }
        });
        FakeJitd {
            url,
            tls_sha256,
            state,
            address,
            running,
            acceptor: Mutex::new(Some(acceptor)),
        }
    }

    /// Stop listening: from now on connections are refused.
    pub fn stop(&self) {
        self.running.store(false, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address); // wake the acceptor
        if let Some(acceptor) = self.acceptor.lock().unwrap().take() {
            acceptor.join().unwrap();
        }
    }

    /// A one-time host token for `host` (`jit host enroll`).
    pub fn host_token(&self, host: &str) -> String {
        self.token_with(&self.tls_sha256, &format!("{}{host}", hosts::TOKEN_PREFIX))
    }

    /// An enrollment token for this server.
    pub fn token(&self) -> String {
        self.token_with_pin(&self.tls_sha256)
    }

    /// An enrollment token for `user`.
    pub fn token_for(&self, user: &str) -> String {
        self.token_with(&self.tls_sha256, &format!("{TOKEN_SECRET}-{user}"))
    }

    /// An enrollment token with another TLS pin.
    pub fn token_with_pin(&self, pin: &str) -> String {
        self.token_with(pin, TOKEN_SECRET)
    }

    fn token_with(&self, pin: &str, secret: &str) -> String {
        EnrollmentToken {
            url: self.url.clone(),
            tls_sha256: pin.to_string(),
            secret: secret.to_string(),
        }
        .encode()
    }

    /// Paths of the requests handled so far.
    pub fn paths(&self) -> Vec<String> {
        self.state.lock().unwrap().paths.clone()
    }

    /// The `/v1/certificates` bodies received so far.
    pub fn certificate_requests(&self) -> Vec<CertificateRequest> {
        self.state.lock().unwrap().certificate_requests.clone()
    }

    /// Where the access request `id` stands (`None`: no such request).
    pub fn request_state(&self, id: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        let found = state.requests.requests.iter().find(|r| r.id == id);
        found.map(|r| r.state.clone())
    }

    /// Force the access request `id` into `new_state` (e.g. `expired`).
    pub fn set_request_state(&self, id: &str, new_state: &str) {
        let mut state = self.state.lock().unwrap();
        let found = state.requests.requests.iter_mut().find(|r| r.id == id);
        found.unwrap().state = new_state.to_string();
    }
}

/// A JSON answer.
pub type Answer = (u16, Value);

pub fn ok(body: impl serde::Serialize) -> Answer {
    (200, serde_json::to_value(body).unwrap())
}

pub fn error(code: ErrorCode, message: &str) -> Answer {
    let body = ErrorBody {
        error: ApiError {
            code,
            message: message.to_string(),
            hint: None,
            retry_after_seconds: None,
        },
    };
    (code.http_status(), serde_json::to_value(body).unwrap())
}

/// Every role; all users may use all of them.
fn roles() -> Vec<RoleInfo> {
    let role = |name: &str, principals: &[&str], hosts: &[&str]| RoleInfo {
        name: name.to_string(),
        principals: principals.iter().map(|p| p.to_string()).collect(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        default_ttl_seconds: 900,
        max_ttl_seconds: 3600,
    };
    vec![
        role("db", &["dba"], &["db-*"]),
        role("web", &["deploy", "web"], &["web-*", "*.web.example"]),
        role(APPROVAL_ROLE.0, &["dba-admin"], &[]),
        role(BREAK_GLASS_ROLE, &["root"], &[]),
    ]
}

fn whoami(user: &str) -> Whoami {
    let group = if APPROVERS.contains(&user) {
        "sre-leads"
    } else {
        "sre"
    };
    Whoami {
        user: user.to_string(),
        groups: vec![group.to_string()],
        roles: roles(),
    }
}

fn respond(request: &Request, state: &Mutex<State>, keys: &Keys) -> Reply {
    let mut state = state.lock().unwrap();
    state.paths.push(request.path.clone());
    if let Some(forced) = state.forced.clone() {
        let status = forced.code.http_status();
        let body = serde_json::to_value(ErrorBody { error: forced }).unwrap();
        return (status, body).into();
    }
    hosts::route(request, &mut state, keys)
        .unwrap_or_else(|| route(request, &mut state, &keys.user).into())
}

fn route(request: &Request, state: &mut State, ca: &TestCa) -> Answer {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/healthz") => (200, serde_json::json!({"status": "ok", "version": "fake"})),
        ("POST", "/v1/enroll") => enroll(request, state),
        ("POST", path) => {
            let (user, confirmed) = match check_signature(request, state) {
                Ok(device) => (device.user.clone(), device.confirmed),
                Err(refusal) => return refusal,
            };
            if path == "/v1/enroll/confirm" {
                return confirm(request, state);
            }
            if !confirmed {
                return error(ErrorCode::DeviceNotConfirmed, "device not confirmed");
            }
            match path {
                "/v1/whoami" => ok(whoami(&user)),
                "/v1/certificates" => certificate(request, &user, state, ca),
                "/v1/certificates/revoke" => hosts::revoke_own(request, &user, &mut state.hosts),
                _ => requests::route(path, &user, &request.body, &mut state.requests)
                    .unwrap_or_else(|| error(ErrorCode::NotFound, "no such route")),
            }
        }
        _ => error(ErrorCode::NotFound, "no such route"),
    }
}

fn enroll(request: &Request, state: &mut State) -> Answer {
    let body: EnrollRequest = serde_json::from_slice(&request.body).unwrap();
    let user = match body.token_secret.strip_prefix(&format!("{TOKEN_SECRET}-")) {
        None if body.token_secret == TOKEN_SECRET => "alice",
        Some(user) if USERS.contains(&user) => user,
        _ => return error(ErrorCode::InvalidToken, "unknown token"),
    };
    let device = PublicKey::from_openssh(&body.device_public_key).unwrap();
    let response = EnrollResponse {
        user: user.to_string(),
        device: device.fingerprint(HashAlg::Sha256).to_string(),
        totp_secret: TOTP_SECRET.to_string(),
        otpauth_uri: format!("otpauth://totp/jit:{user}?secret={TOTP_SECRET}&issuer=jit"),
    };
    state.add_device(device, user, false);
    ok(response)
}

fn confirm(request: &Request, state: &mut State) -> Answer {
    if let Err(refusal) = check_code(&request.body) {
        return refusal;
    }
    let named = &request.headers["jit-device"];
    let device = state.devices.get_mut(named).unwrap();
    device.confirmed = true;
    ok(whoami(&device.user))
}

fn certificate(request: &Request, user: &str, state: &mut State, ca: &TestCa) -> Answer {
    if let Err(refusal) = check_code(&request.body) {
        return refusal;
    }
    let body: CertificateRequest = serde_json::from_slice(&request.body).unwrap();
    state.certificate_requests.push(body.clone());
    let roles = roles();
    let Some(role) = roles.iter().find(|r| Some(&r.name) == body.role.as_ref()) else {
        return error(ErrorCode::UnknownRole, "no such role");
    };
    let ttl = body.ttl_seconds.unwrap_or(role.default_ttl_seconds);
    if ttl > role.max_ttl_seconds {
        return error(ErrorCode::TtlTooLong, "ttl too long");
    }
    let break_glass = role.name == BREAK_GLASS_ROLE;
    if break_glass && body.reason.is_none() {
        return error(ErrorCode::ReasonRequired, "role prod-root needs a reason");
    }
    let request_id = if role.name == APPROVAL_ROLE.0 {
        match state.requests.use_approved(user, &role.name) {
            Some(id) => Some(id),
            None => {
                return error(
                    ErrorCode::ApprovalRequired,
                    "role db-admin needs an approved request",
                )
            }
        }
    } else {
        None
    };
    let public = PublicKey::from_openssh(&body.public_key).unwrap();
    state.serial += 1;
    let now = jit::clock::now();
    let principals: Vec<&str> = role.principals.iter().map(String::as_str).collect();
    let grant = Grant {
        user,
        role: &role.name,
        principals: &principals,
        serial: state.serial,
        valid_after: now - 30,
        valid_before: now + ttl,
    };
    let cert = ca.issue(&public, &grant);
    state.hosts.issued.insert(state.serial, user.to_string());
    ok(CertificateResponse {
        certificate: cert.to_openssh().unwrap(),
        role: role.name.clone(),
        serial: state.serial,
        key_id: cert.key_id().to_string(),
        principals: role.principals.clone(),
        valid_after: cert.valid_after(),
        valid_before: cert.valid_before(),
        log_index: state.serial,
        break_glass,
        request_id,
    })
}
