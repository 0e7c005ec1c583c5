//! What hosts and their engineers use from the fake jitd: `GET /v1/ca`,
//! `GET /v1/ca/user_ca.pub`, `GET /v1/krl` (ETag, `304` on `If-None-Match`),
//! `POST /v1/hosts/enroll` (one-time tokens `host-tok-NAME`), `POST /v1/hosts/renew`
//! (signed by the host key, checked independently), and `POST /v1/certificates/revoke`.

use std::collections::{HashMap, HashSet};

use jit_proto::api::{
    CaKeys, HostCertificateResponse, HostEnrollRequest, HostRenewRequest, RevokeOwn,
    RevokeOwnResponse,
};
use jit_proto::ErrorCode;
use sha2::Digest as _;
use ssh_key::{HashAlg, PublicKey};

use super::wire::{Reply, Request};
use super::{error, ok, signer, verify_signed, Answer, Keys, State};

/// Host tokens are this prefix and the host name.
pub const TOKEN_PREFIX: &str = "host-tok-";
/// Lifetime of the host certificates issued, unless a test changes it.
pub const HOST_TTL: u64 = 30 * 86_400;

/// What the server publishes and remembers for hosts.
#[derive(Default)]
pub struct Store {
    /// `user_ca` of `GET /v1/ca`.
    pub user_ca: Vec<String>,
    /// `host_ca` of `GET /v1/ca` (a test adds a key to simulate a rotation).
    pub host_ca: Vec<String>,
    /// Body of `GET /v1/ca/user_ca.pub` (a test may make it garbage).
    pub user_ca_file: Vec<u8>,
    /// Body of `GET /v1/krl` (a test may make it garbage).
    pub krl: Vec<u8>,
    /// `If-None-Match` of each `GET /v1/krl`, in order.
    pub krl_conditions: Vec<Option<String>>,
    /// Enrolled hosts: key fingerprint -> (name, key).
    pub hosts: HashMap<String, (String, PublicKey)>,
    /// Host tokens already used.
    pub used_tokens: HashSet<String>,
    /// Lifetime of new host certificates, in seconds.
    pub host_ttl: u64,
    /// How many renewals were served.
    pub renewals: usize,
    /// User certificates issued: serial -> user.
    pub issued: HashMap<u64, String>,
    /// Serials revoked by their owners, in order.
    pub revoked: Vec<u64>,
}

impl Store {
    /// The store of a server with these CA keys and an empty KRL.
    pub fn new(keys: &Keys) -> Store {
        let user_ca = keys.user.public_line();
        Store {
            user_ca_file: format!("{user_ca}\n").into_bytes(),
            user_ca: vec![user_ca],
            host_ca: vec![keys.host.public_line()],
            krl: empty_krl(1),
            host_ttl: HOST_TTL,
            ..Store::default()
        }
    }
}

/// A KRL without revocations, as `ssh-keygen -k` writes it, with `version`.
pub fn empty_krl(version: u64) -> Vec<u8> {
    jit_krl::empty(version, jit::clock::now())
        .encode()
        .expect("an empty KRL encodes")
}

/// The ETag the fake gives `bytes` (jitd's form: quoted SHA-256).
pub fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Answer the host routes; `None` for any other request.
pub fn route(request: &Request, state: &mut State, keys: &Keys) -> Option<Reply> {
    let store = &mut state.hosts;
    let reply = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/ca") => ok(CaKeys {
            user_ca: store.user_ca.clone(),
            host_ca: store.host_ca.clone(),
        })
        .into(),
        ("GET", "/v1/ca/user_ca.pub") => {
            Reply::bytes(200, "text/plain", store.user_ca_file.clone())
        }
        ("GET", "/v1/krl") => krl(request, store),
        ("POST", "/v1/hosts/enroll") => enroll(request, store, keys).into(),
        ("POST", "/v1/hosts/renew") => renew(request, state, keys).into(),
        _ => return None,
    };
    Some(reply)
}

fn krl(request: &Request, store: &mut Store) -> Reply {
    let condition = request.headers.get("if-none-match").cloned();
    store.krl_conditions.push(condition.clone());
    let tag = etag(&store.krl);
    if condition.as_deref() == Some(tag.as_str()) {
        return Reply::bytes(304, "application/octet-stream", Vec::new()).header("etag", &tag);
    }
    Reply::bytes(200, "application/octet-stream", store.krl.clone()).header("etag", &tag)
}

fn enroll(request: &Request, store: &mut Store, keys: &Keys) -> Answer {
    let body: HostEnrollRequest = serde_json::from_slice(&request.body).unwrap();
    let Some(host) = body.token_secret.strip_prefix(TOKEN_PREFIX) else {
        return error(ErrorCode::InvalidToken, "unknown host token");
    };
    if !store.used_tokens.insert(body.token_secret.clone()) {
        return error(ErrorCode::InvalidToken, "host token already used");
    }
    let key = PublicKey::from_openssh(&body.public_key).unwrap();
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    store
        .hosts
        .insert(fingerprint, (host.to_string(), key.clone()));
    issue(store, keys, host, &key)
}

fn renew(request: &Request, state: &mut State, keys: &Keys) -> Answer {
    let Some((host, key)) = state.hosts.hosts.get(&signer(request)).cloned() else {
        return error(ErrorCode::UnknownDevice, "unknown host key");
    };
    if let Err(refusal) = verify_signed(request, &key, &mut state.nonces) {
        return refusal;
    }
    let body: HostRenewRequest = serde_json::from_slice(&request.body).unwrap();
    let named = PublicKey::from_openssh(&body.public_key).unwrap();
    if named.key_data() != key.key_data() {
        return error(ErrorCode::BadRequest, "public_key is not the signing key");
    }
    state.hosts.renewals += 1;
    issue(&state.hosts, keys, &host, &key)
}

fn issue(store: &Store, keys: &Keys, host: &str, key: &PublicKey) -> Answer {
    let now = jit::clock::now();
    let principals = vec![host.to_string(), format!("{host}.example.com")];
    let validity = (now - 60, now + store.host_ttl);
    let serial = 1_000 + store.renewals as u64;
    let cert = keys
        .host
        .issue_host(key, host, &principals, serial, validity);
    ok(HostCertificateResponse {
        host: host.to_string(),
        certificate: cert.to_openssh().unwrap(),
        principals,
        valid_after: validity.0,
        valid_before: validity.1,
    })
}

/// `POST /v1/certificates/revoke` by `user` (signature already checked).
pub fn revoke_own(request: &Request, user: &str, store: &mut Store) -> Answer {
    let body: RevokeOwn = serde_json::from_slice(&request.body).unwrap();
    for serial in &body.serials {
        if store.issued.get(serial).map(String::as_str) != Some(user) {
            return error(
                ErrorCode::NotFound,
                &format!("certificate {serial} is not one of yours"),
            );
        }
    }
    store.revoked.extend(&body.serials);
    ok(RevokeOwnResponse {
        revoked: body.serials,
    })
}
