//! The real jitd for the CLI's tests: `jitd::test_support::TestServer` (the real API over
//! TLS on 127.0.0.1, a SQLite store, fresh CA keys, the system clock) running [`POLICY`],
//! with alice (group sre) and the approvers bob and carol (group sre-leads).

use jit_proto::api::CertificateRequest;
use jit_proto::token::EnrollmentToken;
use jitd::state::Settings;
pub use jitd::test_support::TestServer;

/// Roles: `db` and `web` (plain), `db-admin` (2 approvals from sre-leads) and `prod-root`
/// (break-glass, needs a reason). Everyone may use every role.
pub const POLICY: &str = r#"
[defaults]
default_ttl = "15m"
max_ttl = "1h"

[roles.db]
groups = ["sre", "sre-leads"]
principals = ["dba"]
hosts = ["db-*"]

[roles.web]
groups = ["sre", "sre-leads"]
principals = ["deploy", "web"]
hosts = ["web-*", "*.web.example"]

[roles.db-admin]
groups = ["sre", "sre-leads"]
principals = ["dba-admin"]
approval = { approvers = ["group:sre-leads"], count = 2, window = "10m" }

[roles.prod-root]
groups = ["sre", "sre-leads"]
principals = ["root"]
break_glass = true
require_reason = true
"#;

/// The users and their group.
pub const USERS: [(&str, &str); 3] = [
    ("alice", "sre"),
    ("bob", "sre-leads"),
    ("carol", "sre-leads"),
];

/// A server with default settings.
pub fn start() -> TestServer {
    start_with(Settings::default())
}

/// A server with `settings` (e.g. a short request lifetime or attempt limit).
pub fn start_with(settings: Settings) -> TestServer {
    let server = TestServer::start(POLICY, settings).unwrap();
    for (user, group) in USERS {
        server.add_user(user, &[group]).unwrap();
    }
    server
}

/// What the CLI's tests ask of the real jitd besides its API.
pub trait Jitd {
    /// An enrollment token for `user`, as `jitd user token` prints it.
    fn token_for(&self, user: &str) -> String;
    /// An enrollment token for alice.
    fn token(&self) -> String {
        self.token_for("alice")
    }
    /// An enrollment token for alice that pins another TLS certificate.
    fn token_with_pin(&self, pin: &str) -> String;
    /// A one-time host token for `host` (names `host` and `host.example.com`).
    fn host_token(&self, host: &str) -> String;
    /// Paths of the requests that reached the server, in order.
    fn paths(&self) -> Vec<String>;
    /// The bodies of the `POST /v1/certificates` requests received, in order.
    fn certificate_requests(&self) -> Vec<CertificateRequest>;
    /// Serials revoked so far, in order.
    fn revoked_serials(&self) -> Vec<u64>;
    /// The KRL `GET /v1/krl` serves now.
    fn krl(&self) -> Vec<u8>;
    /// What `GET /v1/ca/user_ca.pub` serves.
    fn user_ca_file(&self) -> Vec<u8>;
    /// The host CA public keys `GET /v1/ca` publishes, OpenSSH lines without comments.
    fn host_ca(&self) -> Vec<String>;
}

fn encode(server: &TestServer, pin: &str, secret: String) -> String {
    EnrollmentToken {
        url: server.url.clone(),
        tls_sha256: pin.to_string(),
        secret,
    }
    .encode()
}

impl Jitd for TestServer {
    fn token_for(&self, user: &str) -> String {
        encode(
            self,
            &self.tls_sha256,
            self.enrollment_secret(user).unwrap(),
        )
    }

    fn token_with_pin(&self, pin: &str) -> String {
        encode(self, pin, self.enrollment_secret("alice").unwrap())
    }

    fn host_token(&self, host: &str) -> String {
        let names = [host.to_string(), format!("{host}.example.com")];
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        encode(
            self,
            &self.tls_sha256,
            self.host_secret(host, &names).unwrap(),
        )
    }

    fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|seen| seen.path).collect()
    }

    fn certificate_requests(&self) -> Vec<CertificateRequest> {
        let seen = self.seen().into_iter();
        seen.filter(|s| s.method == "POST" && s.path == "/v1/certificates")
            .map(|s| serde_json::from_slice(&s.body).unwrap())
            .collect()
    }

    fn revoked_serials(&self) -> Vec<u64> {
        let state = self.state.clone();
        let revocations = self
            .block_on(async move { state.store.revocations(state.clock.now()).await })
            .unwrap();
        let mut revocations: Vec<_> = revocations.into_iter().collect();
        revocations.sort_by_key(|r| r.created_at);
        revocations
            .iter()
            .filter_map(|r| match r.target {
                jit_store::Revoked::Serial { serial, .. } => Some(serial),
                _ => None,
            })
            .collect()
    }

    fn krl(&self) -> Vec<u8> {
        let state = self.state.clone();
        self.block_on(async move {
            let keys = state.user_ca_keys();
            jitd::revoke::build_krl(state.store.as_ref(), &keys, state.clock.now()).await
        })
        .unwrap()
        .bytes
    }

    fn user_ca_file(&self) -> Vec<u8> {
        let line = self.state.user_ca.public_key().to_openssh().unwrap();
        format!("{line}\n").into_bytes()
    }

    fn host_ca(&self) -> Vec<String> {
        let keys = self.state.host_ca_keys();
        let line = |key: &ssh_key::PublicKey| {
            let bare = ssh_key::PublicKey::new(key.key_data().clone(), "");
            bare.to_openssh().unwrap()
        };
        keys.iter().map(line).collect()
    }
}
