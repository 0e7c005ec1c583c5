//! The in-process limit: on one thread, with no HTTP, TLS, JSON or storage, how many
//! requests per second can have their device signature verified and a certificate signed
//! (with an in-memory Ed25519 CA key, as jitd holds it)?

use std::time::{Duration, Instant};

use anyhow::Context as _;
use jit_ca::signer::Ed25519Signer;
use jit_ca::user_cert::{sign_user_certificate, UserCertificateRequest};
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{Algorithm, PrivateKey, PublicKey};

use crate::users::CERTIFICATES_PATH;

/// Distinct signed requests cycled through.
const SAMPLES: usize = 256;

/// Operations per second on one thread.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Request-signature verification alone.
    pub verify_per_sec: f64,
    /// Certificate build + sign + encode alone.
    pub sign_per_sec: f64,
    /// Both, as one issuance needs them: the in-process limit.
    pub both_per_sec: f64,
}

struct Sample {
    device: PublicKey,
    body: Vec<u8>,
    signature: String,
    client_key: PublicKey,
}

/// Measure for about `3 * each` on the calling thread.
pub fn measure(each: Duration) -> anyhow::Result<Limit> {
    let mut rng = rand::rngs::OsRng;
    let samples = (0..SAMPLES)
        .map(|i| {
            let device = PrivateKey::random(&mut rng, Algorithm::Ed25519)?;
            let client = ed25519_dalek::SigningKey::generate(&mut rng);
            let client_key = PublicKey::new(
                KeyData::Ed25519(Ed25519PublicKey::from(client.verifying_key())),
                "",
            );
            let body = format!(
                r#"{{"timestamp":1,"nonce":"{i:032x}","role":"bench","public_key":"{}","otp":"123456"}}"#,
                client_key.to_openssh()?
            )
            .into_bytes();
            let headers = jit::signing::sign(&device, "POST", CERTIFICATES_PATH, &body)?;
            Ok(Sample {
                device: device.public_key().clone(),
                body,
                signature: headers.signature,
                client_key,
            })
        })
        .collect::<anyhow::Result<Vec<Sample>>>()?;
    let ca = Ed25519Signer::new(ed25519_dalek::SigningKey::generate(&mut rng), "bench CA");
    let principals = vec!["bench".to_string()];
    let extensions = vec!["permit-pty".to_string()];

    let verify = |sample: &Sample| {
        jit_ca::device::verify_request_signature(
            &sample.device,
            &sample.signature,
            "POST",
            CERTIFICATES_PATH,
            &sample.body,
        )
        .context("a benchmark signature did not verify")
    };
    let mut sign = |sample: &Sample, serial: u64| {
        sign_user_certificate(
            &ca,
            &mut rng,
            &UserCertificateRequest {
                public_key: &sample.client_key,
                user: "bench-00000",
                role: "bench",
                principals: &principals,
                serial,
                now: 1_700_000_000,
                backdate: Duration::from_secs(30),
                ttl: Duration::from_secs(300),
                extensions: &extensions,
                critical_options: &[],
                receipt: None,
            },
        )
        .map(drop)
        .context("signing a benchmark certificate failed")
    };

    let verify_per_sec = rate(each, |i| verify(&samples[i % SAMPLES]))?;
    let sign_per_sec = rate(each, |i| sign(&samples[i % SAMPLES], i as u64 + 1))?;
    let both_per_sec = rate(each, |i| {
        let sample = &samples[i % SAMPLES];
        verify(sample)?;
        sign(sample, i as u64 + 1)
    })?;
    Ok(Limit {
        verify_per_sec,
        sign_per_sec,
        both_per_sec,
    })
}

/// Run `op` in batches until `duration` passed; operations per second.
fn rate(
    duration: Duration,
    mut op: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    for i in 0..200 {
        op(i)?;
    }
    let started = Instant::now();
    let mut done = 0;
    while started.elapsed() < duration {
        for _ in 0..100 {
            op(done)?;
            done += 1;
        }
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
