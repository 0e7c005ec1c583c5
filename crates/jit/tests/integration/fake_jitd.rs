//! A fake jitd over TLS with a self-signed certificate: just enough of `/v1` to drive the
//! CLI, and an independent check of the device signatures it receives.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use jit_proto::api::{
    CertificateRequest, CertificateResponse, EnrollRequest, EnrollResponse, RoleInfo, Whoami,
};
use jit_proto::token::EnrollmentToken;
use jit_proto::{ApiError, ErrorBody, ErrorCode};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use sha2::Digest as _;
use ssh_encoding::Decode as _;
use ssh_key::{HashAlg, PublicKey, SshSig};

use crate::ca::{Grant, TestCa};

/// The secret inside tokens this server accepts.
pub const TOKEN_SECRET: &str = "tok-s3cret";
/// The only TOTP code this server accepts.
pub const GOOD_CODE: &str = "123456";
/// The TOTP secret handed out at enrollment.
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";

/// What the server has seen and holds.
#[derive(Default)]
pub struct State {
    /// The enrolled device key.
    pub device: Option<PublicKey>,
    /// Whether the device confirmed.
    pub confirmed: bool,
    /// Paths of the requests that reached a handler, in order.
    pub paths: Vec<String>,
    /// Last serial issued.
    pub serial: u64,
    /// Nonces seen.
    pub nonces: HashSet<String>,
    /// When set, every request gets this error.
    pub forced: Option<ApiError>,
}

/// A running fake server.
pub struct FakeJitd {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// SHA-256 of the certificate, hex.
    pub tls_sha256: String,
    /// Shared state.
    pub state: Arc<Mutex<State>>,
}

impl FakeJitd {
    /// Start on an ephemeral port.
    pub fn start() -> FakeJitd {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let der = certified.cert.der().clone();
        let tls_sha256 = hex::encode(sha2::Sha256::digest(der.as_ref()));
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let ca = Arc::new(TestCa::new());
        let shared = state.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, state, ca) = (config.clone(), shared.clone(), ca.clone());
                std::thread::spawn(move || serve(tcp, config, &state, &ca));
            }
        });
        FakeJitd {
            url,
            tls_sha256,
            state,
        }
    }

    /// An enrollment token for this server.
    pub fn token(&self) -> String {
        self.token_with_pin(&self.tls_sha256)
    }

    /// An enrollment token with another TLS pin.
    pub fn token_with_pin(&self, pin: &str) -> String {
        EnrollmentToken {
            url: self.url.clone(),
            tls_sha256: pin.to_string(),
            secret: TOKEN_SECRET.to_string(),
        }
        .encode()
    }

    /// Paths of the requests handled so far.
    pub fn paths(&self) -> Vec<String> {
        self.state.lock().unwrap().paths.clone()
    }
}

/// One HTTP request.
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>, state: &Mutex<State>, ca: &TestCa) {
    let conn = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let Some(request) = read_request(&mut tls) else {
        return; // e.g. the client refused our certificate
    };
    let (status, body) = route(&request, state, ca);
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(body.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..header_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while data.len() < header_end + length {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body: data[header_end..header_end + length].to_vec(),
    })
}

fn error(code: ErrorCode, message: &str) -> (u16, Value) {
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

fn whoami() -> Whoami {
    let role = |name: &str, principals: &[&str], hosts: &[&str]| RoleInfo {
        name: name.to_string(),
        principals: principals.iter().map(|p| p.to_string()).collect(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        default_ttl_seconds: 900,
        max_ttl_seconds: 3600,
    };
    Whoami {
        user: "alice".to_string(),
        groups: vec!["sre".to_string()],
        roles: vec![
            role("db", &["dba"], &["db-*"]),
            role("web", &["deploy", "web"], &["web-*", "*.web.example"]),
        ],
    }
}

fn route(request: &Request, state: &Mutex<State>, ca: &TestCa) -> (u16, Value) {
    let mut state = state.lock().unwrap();
    state.paths.push(request.path.clone());
    if let Some(forced) = state.forced.clone() {
        let status = forced.code.http_status();
        return (
            status,
            serde_json::to_value(ErrorBody { error: forced }).unwrap(),
        );
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/healthz") => (200, serde_json::json!({"status": "ok", "version": "fake"})),
        ("POST", "/v1/enroll") => enroll(request, &mut state),
        ("POST", path) => {
            if let Err(refusal) = check_signature(request, &mut state) {
                return refusal;
            }
            match path {
                "/v1/enroll/confirm" => confirm(request, &mut state),
                "/v1/whoami" if state.confirmed => (200, serde_json::to_value(whoami()).unwrap()),
                "/v1/whoami" => error(ErrorCode::DeviceNotConfirmed, "device not confirmed"),
                "/v1/certificates" => certificate(request, &mut state, ca),
                _ => error(ErrorCode::NotFound, "no such route"),
            }
        }
        _ => error(ErrorCode::NotFound, "no such route"),
    }
}

fn enroll(request: &Request, state: &mut State) -> (u16, Value) {
    let body: EnrollRequest = serde_json::from_slice(&request.body).unwrap();
    if body.token_secret != TOKEN_SECRET {
        return error(ErrorCode::InvalidToken, "unknown token");
    }
    let device = PublicKey::from_openssh(&body.device_public_key).unwrap();
    let response = EnrollResponse {
        user: "alice".to_string(),
        device: device.fingerprint(HashAlg::Sha256).to_string(),
        totp_secret: TOTP_SECRET.to_string(),
        otpauth_uri: format!("otpauth://totp/jit:alice?secret={TOTP_SECRET}&issuer=jit"),
    };
    state.device = Some(device);
    state.confirmed = false;
    (200, serde_json::to_value(response).unwrap())
}

/// Verify `jit-device` / `jit-signature` over the exact body bytes, and the nonce.
fn check_signature(request: &Request, state: &mut State) -> Result<(), (u16, Value)> {
    let device = state
        .device
        .clone()
        .ok_or_else(|| error(ErrorCode::UnknownDevice, "no device"))?;
    let named = request
        .headers
        .get("jit-device")
        .cloned()
        .unwrap_or_default();
    if named != device.fingerprint(HashAlg::Sha256).to_string() {
        return Err(error(ErrorCode::UnknownDevice, "unknown device"));
    }
    let raw = request
        .headers
        .get("jit-signature")
        .cloned()
        .unwrap_or_default();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| error(ErrorCode::BadSignature, "not base64"))?;
    let sig = SshSig::decode(&mut raw.as_slice())
        .map_err(|_| error(ErrorCode::BadSignature, "not an SSHSIG"))?;
    let message = jit_proto::signing::signed_bytes("POST", &request.path, &request.body);
    device
        .verify(jit_proto::signing::SIGNATURE_NAMESPACE, &message, &sig)
        .map_err(|_| error(ErrorCode::BadSignature, "signature does not verify"))?;
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let nonce = body["nonce"].as_str().unwrap_or_default().to_string();
    let timestamp = body["timestamp"].as_u64().unwrap_or(0);
    if nonce.len() != 32 || timestamp.abs_diff(jit::clock::now()) > 60 {
        return Err(error(ErrorCode::StaleRequest, "bad freshness"));
    }
    if !state.nonces.insert(nonce) {
        return Err(error(ErrorCode::ReplayedRequest, "nonce seen before"));
    }
    Ok(())
}

fn check_code(body: &[u8]) -> Result<(), (u16, Value)> {
    let value: Value = serde_json::from_slice(body).unwrap();
    if value["otp"].as_str() == Some(GOOD_CODE) {
        Ok(())
    } else {
        Err(error(ErrorCode::InvalidOtp, "wrong code"))
    }
}

fn confirm(request: &Request, state: &mut State) -> (u16, Value) {
    if let Err(refusal) = check_code(&request.body) {
        return refusal;
    }
    state.confirmed = true;
    (200, serde_json::to_value(whoami()).unwrap())
}

fn certificate(request: &Request, state: &mut State, ca: &TestCa) -> (u16, Value) {
    if !state.confirmed {
        return error(ErrorCode::DeviceNotConfirmed, "device not confirmed");
    }
    if let Err(refusal) = check_code(&request.body) {
        return refusal;
    }
    let body: CertificateRequest = serde_json::from_slice(&request.body).unwrap();
    let roles = whoami().roles;
    let Some(role) = roles.iter().find(|r| Some(&r.name) == body.role.as_ref()) else {
        return error(ErrorCode::UnknownRole, "no such role");
    };
    let ttl = body.ttl_seconds.unwrap_or(role.default_ttl_seconds);
    if ttl > role.max_ttl_seconds {
        return error(ErrorCode::TtlTooLong, "ttl too long");
    }
    let public = PublicKey::from_openssh(&body.public_key).unwrap();
    state.serial += 1;
    let now = jit::clock::now();
    let principals: Vec<&str> = role.principals.iter().map(String::as_str).collect();
    let grant = Grant {
        user: "alice",
        role: &role.name,
        principals: &principals,
        serial: state.serial,
        valid_after: now - 30,
        valid_before: now + ttl,
    };
    let cert = ca.issue(&public, &grant);
    let response = CertificateResponse {
        certificate: cert.to_openssh().unwrap(),
        role: role.name.clone(),
        serial: state.serial,
        key_id: cert.key_id().to_string(),
        principals: role.principals.clone(),
        valid_after: cert.valid_after(),
        valid_before: cert.valid_before(),
        log_index: state.serial,
        break_glass: false,
        request_id: None,
    };
    (200, serde_json::to_value(response).unwrap())
}
