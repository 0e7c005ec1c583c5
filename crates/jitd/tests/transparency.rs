//! The log as a Merkle tree over the API: signed checkpoints, inclusion proofs by index and
//! by serial, consistency between checkpoints, and reading restricted to auditors.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/fixture.rs"]
mod fixture;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use fixture::*;
use jit_log::merkle::{entry_leaf_hash, ConsistencyProof, InclusionProof};
use jit_log::{Entry, SignedCheckpoint};
use jit_proto::signing::{signed_bytes, HEADER_DEVICE, HEADER_SIGNATURE, SIGNATURE_NAMESPACE};
use ssh_key::{HashAlg, PrivateKey};

const POLICY: &str = "[roles.web]\ngroups = [\"sre\"]\nprincipals = [\"deploy\"]\n";

/// A signed GET: timestamp and nonce ride in the (signed) query string.
fn signed_get(f: &Fixture, key: &PrivateKey, path: &str) -> Request<Body> {
    let fresh = f.freshness();
    let sep = if path.contains('?') { '&' } else { '?' };
    let path = format!(
        "{path}{sep}timestamp={}&nonce={}",
        fresh.timestamp, fresh.nonce
    );
    let signature = key
        .sign(
            SIGNATURE_NAMESPACE,
            HashAlg::Sha512,
            &signed_bytes("GET", &path, b""),
        )
        .unwrap();
    let mut encoded = Vec::new();
    ssh_encoding::Encode::encode(&signature, &mut encoded).unwrap();
    Request::get(path)
        .header(
            HEADER_DEVICE,
            key.public_key().fingerprint(HashAlg::Sha256).to_string(),
        )
        .header(
            HEADER_SIGNATURE,
            base64::engine::general_purpose::STANDARD.encode(encoded),
        )
        .body(Body::empty())
        .unwrap()
}

async fn checkpoint(f: &Fixture) -> SignedCheckpoint {
    let (status, body) = f
        .call(
            Request::get("/v1/log/checkpoint")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signed: SignedCheckpoint = serde_json::from_value(body).unwrap();
    jit_ca::checkpoint::verify(
        f.state.log_key.public_key(),
        &signed.checkpoint.signed_text(),
        &signed.signature,
    )
    .expect("the checkpoint is signed by the log key");
    assert_eq!(signed.key_id, f.state.log_key.fingerprint());
    signed
}

#[tokio::test]
async fn checkpoints_and_proofs_verify_and_only_auditors_read_entries() {
    let f = fixture(POLICY).await;
    let alice = f.enrolled("alice", &["sre"]).await;
    let auditor = f.enrolled("ada", &["auditors"]).await;
    let (status, issued) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK);
    let serial = issued["serial"].as_u64().unwrap();

    let first = checkpoint(&f).await;
    let records = f.assert_log_verifies().await;
    assert_eq!(first.checkpoint.tree_size, records.len() as u64);

    // Inclusion by serial, checked against the signed checkpoint.
    let (status, body) = f
        .call(signed_get(
            &f,
            &auditor.key,
            &format!(
                "/v1/log/proof/inclusion?serial={serial}&tree_size={}",
                first.checkpoint.tree_size
            ),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry: Entry = serde_json::from_value(body["entry"].clone()).unwrap();
    let proof: InclusionProof = serde_json::from_value(body["proof"].clone()).unwrap();
    assert!(entry.body.contains(&serial.to_string()));
    first
        .checkpoint
        .verify_inclusion(&entry_leaf_hash(&entry), &proof)
        .unwrap();

    // More records, a newer checkpoint, and a consistency proof between the two.
    f.next_step();
    let (status, _) = f
        .issue(&alice, &f.certificate_request(&alice, "web", None))
        .await;
    assert_eq!(status, StatusCode::OK);
    jitd::transparency::checkpoint_now(&f.state)
        .await
        .unwrap()
        .expect("a new checkpoint");
    let second = checkpoint(&f).await;
    assert!(second.checkpoint.tree_size > first.checkpoint.tree_size);
    let (status, body) = f
        .call(signed_get(
            &f,
            &auditor.key,
            &format!(
                "/v1/log/proof/consistency?first={}&second={}",
                first.checkpoint.tree_size, second.checkpoint.tree_size
            ),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let proof: ConsistencyProof = serde_json::from_value(body).unwrap();
    first
        .checkpoint
        .verify_consistency(&second.checkpoint, &proof)
        .unwrap();

    // Entries for auditors; everyone else is refused; a replayed signed GET is refused.
    let request = signed_get(&f, &auditor.key, "/v1/log/entries?start=1&end=3");
    let (status, body) = f.call(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 3);
    let (status, body) = f
        .call(signed_get(&f, &alice.key, "/v1/log/entries?start=1&end=3"))
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "role_not_allowed")
    );
    let (status, _) = f
        .call(
            Request::get("/v1/log/entries?start=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The stored checkpoints plus the log pass the offline audit.
    let entries = f.state.store.log_entries(1, 10_000).await.unwrap();
    let checkpoints: Vec<_> = f
        .state
        .store
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|json| {
            serde_json::from_str::<SignedCheckpoint>(json)
                .unwrap()
                .checkpoint
        })
        .collect();
    let summary = jit_log::audit(&entries, &checkpoints).unwrap();
    assert_eq!(summary.checkpoints, 2);
}

#[tokio::test]
async fn no_new_records_no_new_checkpoint() {
    let f = fixture(POLICY).await;
    let (status, _) = f
        .call(
            Request::get("/v1/log/checkpoint")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an empty log has no checkpoint"
    );
    let _alice = f.enrolled("alice", &["sre"]).await;
    assert!(jitd::transparency::checkpoint_now(&f.state)
        .await
        .unwrap()
        .is_some());
    assert!(jitd::transparency::checkpoint_now(&f.state)
        .await
        .unwrap()
        .is_none());
}
