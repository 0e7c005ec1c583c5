//! Enrolled users written straight into jitd's store, and the pre-signed certificate
//! requests a phase sends.
//!
//! The server accepts a TOTP code for steps `t-1..=t+1` and only for a step later than the
//! last one the user used. So a user gives at most two certificates per 30 s window: one
//! with the code of the current step `s`, then one with the code of `s+1`. A phase sends
//! every step-`s` request before any step-`s+1` one, so a user's second request is always
//! thousands of requests behind its first.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use jit_mfa::{code_at, time_step, TotpSecret, SECRET_LEN, STEP_SECONDS};
use jit_proto::api::{CertificateRequest, Freshness};
use jit_store::{Change, NewDevice, Store};
use rand::RngCore as _;
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{Algorithm, PrivateKey, PublicKey};

/// The API path every benchmark request goes to.
pub const CERTIFICATES_PATH: &str = "/v1/certificates";

/// How many rows are written to the store at once (SQLite has one writer anyway).
const WRITERS: usize = 1;

/// One enrolled user as the benchmark plays it: device key, TOTP secret, last step used.
pub struct BenchUser {
    name: String,
    device: PrivateKey,
    totp: TotpSecret,
    last_step: Option<u64>,
}

/// Every enrolled user.
pub struct Pool {
    users: Vec<BenchUser>,
}

/// A request ready to send: the exact body bytes and the two signature headers.
pub struct Prepared {
    /// JSON body (the bytes that were signed).
    pub body: Vec<u8>,
    /// `jit-device` header.
    pub device: String,
    /// `jit-signature` header.
    pub signature: String,
}

/// Not enough unused TOTP steps for a phase at this moment; the next 30 s step brings more.
#[derive(Debug)]
pub struct Shortage {
    wanted: usize,
    available: usize,
}

impl std::fmt::Display for Shortage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not enough unused TOTP codes for {} requests ({} users have one); \
             raise --max-users or lower --scale",
            self.wanted, self.available
        )
    }
}

impl std::error::Error for Shortage {}

/// Seconds until the next TOTP step begins.
pub fn until_next_step() -> anyhow::Result<u64> {
    Ok(STEP_SECONDS - unix_now()? % STEP_SECONDS)
}

/// Unix seconds now.
pub fn unix_now() -> anyhow::Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs())
}

/// Make `count` users in group `bench`, each with one confirmed Ed25519 device and a
/// fresh TOTP secret, through the store's own operations.
pub async fn create(store: Arc<dyn Store>, count: usize) -> anyhow::Result<Pool> {
    let now = unix_now()?;
    let users = tokio::task::spawn_blocking(move || make_users(count))
        .await
        .context("generating users panicked")??;
    let mut rows = Vec::with_capacity(users.len());
    for user in &users {
        rows.push(NewDevice {
            fingerprint: jit::signing::fingerprint(&user.device),
            user: user.name.clone(),
            public_key: user.device.public_key().to_openssh()?,
            name: "jit-bench".into(),
            totp_secret: user.totp.to_base32(),
            created_at: now,
        });
    }
    let chunk = rows.len().div_ceil(WRITERS).max(1);
    let mut writers = tokio::task::JoinSet::new();
    for part in rows.chunks(chunk) {
        let part = part.to_vec();
        let store = store.clone();
        writers.spawn(async move {
            for device in part {
                enroll(store.as_ref(), device, now).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done.context("a store writer panicked")?
            .context("cannot enroll a benchmark user in the store")?;
    }
    Ok(Pool { users })
}

/// Enroll one benchmark user through the ledger, as `jitd user add` and `jit enroll` do:
/// user, token, device, confirmation, each with its log record.
async fn enroll(store: &dyn Store, device: NewDevice, now: u64) -> anyhow::Result<()> {
    let (user, fingerprint) = (device.user.clone(), device.fingerprint.clone());
    let record = |event| {
        jit_store::ledger::record(jit_log::Record {
            time: now,
            policy_hash: "sha256:bench".into(),
            event,
        })
    };
    let user_change = |action: &str| {
        jit_log::Event::User(jit_log::UserChange {
            user: user.clone(),
            action: action.into(),
            groups: vec!["bench".into()],
            operator: None,
            revoked_serials: vec![],
        })
    };
    let enrollment = jit_log::Enrollment {
        user: user.clone(),
        device: fingerprint.clone(),
        device_name: device.name.clone(),
        source_ip: "127.0.0.1".into(),
    };
    let token_hash = format!("bench-{fingerprint}");
    let changes = [
        (
            Change::AddUser {
                name: user.clone(),
                groups: vec!["bench".into()],
                at: now,
            },
            record(user_change("added")),
        ),
        (
            Change::AddEnrollmentToken {
                token_hash: token_hash.clone(),
                user: user.clone(),
                at: now,
                expires_at: now + 3600,
            },
            record(user_change("token_created")),
        ),
        (
            Change::RegisterDevice { token_hash, device },
            record(jit_log::Event::Registered(enrollment.clone())),
        ),
        (
            Change::ConfirmDevice {
                fingerprint,
                at: now,
            },
            record(jit_log::Event::Enrolled(enrollment)),
        ),
    ];
    for (change, record) in changes {
        store.commit(change, record).await?;
    }
    Ok(())
}

fn make_users(count: usize) -> anyhow::Result<Vec<BenchUser>> {
    let mut rng = rand::rngs::OsRng;
    (0..count)
        .map(|i| {
            let mut secret = [0u8; SECRET_LEN];
            rng.fill_bytes(&mut secret);
            Ok(BenchUser {
                name: format!("bench-{i:05}"),
                device: PrivateKey::random(&mut rng, Algorithm::Ed25519)?,
                totp: TotpSecret::from_random(&secret),
                last_step: None,
            })
        })
        .collect()
}

impl Pool {
    /// Sign `count` certificate requests, dated now: every step-`s` code first, then every
    /// step-`s+1` code. Signing runs on every core before the phase's clock starts.
    pub fn prepare(&mut self, count: usize) -> anyhow::Result<Vec<Prepared>> {
        let now = unix_now()?;
        let plan = self.allocate(time_step(now), count)?;
        let users = &self.users;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let chunk = plan.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = plan
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|&(user, step)| sign_request(&users[user], step, now))
                            .collect::<anyhow::Result<Vec<Prepared>>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(count);
            for handle in handles {
                match handle.join() {
                    Ok(part) => out.extend(part?),
                    Err(_) => bail!("a signing thread panicked"),
                }
            }
            Ok(out)
        })
    }

    /// Pick `(user, step)` pairs for `count` requests at current step `s`, and mark the
    /// steps used. Users whose codes for `s`, `s+1` and `s+2` are not all distinct are
    /// skipped (a server seeing equal codes credits the highest step).
    fn allocate(&mut self, s: u64, count: usize) -> anyhow::Result<Vec<(usize, u64)>> {
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut rest = Vec::new();
        for (index, user) in self.users.iter().enumerate() {
            let usable = |step: u64| user.last_step.is_none_or(|last| last < step);
            if !usable(s + 1) || !distinct_codes(&user.totp, s) {
                continue;
            }
            if usable(s) && first.len() < count.div_ceil(2) {
                first.push(index);
            } else if usable(s) {
                rest.push(index);
            } else {
                second.push(index);
            }
        }
        // Step s+1: users that already spent step s elsewhere first, then those of this
        // phase's first half (far behind their first request), then fresh ones.
        second.extend(first.iter().copied());
        second.extend(rest);
        let mut plan: Vec<(usize, u64)> = first.iter().map(|&u| (u, s)).collect();
        let wanted_second = count.saturating_sub(plan.len());
        if second.len() < wanted_second {
            return Err(Shortage {
                wanted: count,
                available: first.len() + second.len(),
            }
            .into());
        }
        plan.extend(second.into_iter().take(wanted_second).map(|u| (u, s + 1)));
        for &(user, step) in &plan {
            self.users[user].last_step = Some(step);
        }
        Ok(plan)
    }
}

fn distinct_codes(totp: &TotpSecret, s: u64) -> bool {
    let code = |step: u64| code_at(totp, step * STEP_SECONDS);
    let (a, b, c) = (code(s), code(s + 1), code(s + 2));
    a != b && b != c && a != c
}

/// One request as `jit ssh` makes it: a fresh Ed25519 key to certify, the TOTP code of
/// `step`, freshness dated `now`, signed by the user's device key.
fn sign_request(user: &BenchUser, step: u64, now: u64) -> anyhow::Result<Prepared> {
    let ephemeral = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let public = PublicKey::new(
        KeyData::Ed25519(Ed25519PublicKey::from(ephemeral.verifying_key())),
        "",
    );
    let request = CertificateRequest {
        freshness: Freshness {
            timestamp: now,
            nonce: jit::signing::freshness(now).nonce,
        },
        role: Some("bench".into()),
        host: None,
        ttl_seconds: None,
        public_key: public.to_openssh()?,
        otp: code_at(&user.totp, step * STEP_SECONDS),
        reason: None,
        ticket: None,
    };
    let body = serde_json::to_vec(&request)?;
    let headers = jit::signing::sign(&user.device, "POST", CERTIFICATES_PATH, &body)?;
    Ok(Prepared {
        body,
        device: headers.device,
        signature: headers.signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(count: usize) -> Pool {
        Pool {
            users: make_users(count).unwrap(),
        }
    }

    #[test]
    fn a_user_gets_each_step_once_and_step_s_comes_first() {
        let mut pool = pool(10);
        let plan = pool.allocate(100, 20).unwrap();
        assert_eq!(plan.len(), 20);
        let mut seen = std::collections::HashSet::new();
        for pair in &plan {
            assert!(seen.insert(*pair), "{pair:?} twice");
        }
        let first_late = plan.iter().position(|&(_, step)| step == 101).unwrap();
        assert!(plan[first_late..].iter().all(|&(_, step)| step == 101));
        // Everything of steps 100 and 101 is spent now.
        assert!(pool.allocate(100, 1).is_err());
        // One step later, everyone has step 102 left.
        assert_eq!(pool.allocate(101, 10).unwrap().len(), 10);
    }

    #[test]
    fn requests_carry_a_code_and_verify() {
        let mut pool = pool(2);
        let prepared = pool.prepare(3).unwrap();
        assert_eq!(prepared.len(), 3);
        let body: CertificateRequest = serde_json::from_slice(&prepared[0].body).unwrap();
        assert_eq!(body.otp.len(), 6);
        let key = pool.users[0].device.public_key().clone();
        let signer_matches = prepared.iter().any(|p| {
            jit_ca::device::verify_request_signature(
                &key,
                &p.signature,
                "POST",
                CERTIFICATES_PATH,
                &p.body,
            )
            .is_ok()
        });
        assert!(signer_matches);
    }
}
