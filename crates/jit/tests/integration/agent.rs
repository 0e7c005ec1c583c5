//! `jit::agent` against a real OpenSSH ssh-agent.

use jit::agent::Agent;
use jit::ssh::reusable;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey};

use crate::ca::{Grant, TestCa};
use crate::ssh_agent::TestAgent;

fn new_key() -> PrivateKey {
    PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap()
}

fn serials(certs: &[jit::agent::JitCertificate]) -> Vec<(String, u64)> {
    certs
        .iter()
        .map(|c| (c.role.clone(), c.certificate.serial()))
        .collect()
}

#[tokio::test]
async fn certificates_are_installed_replaced_reused_and_removed() {
    let process = TestAgent::start();
    let mut agent = Agent::connect(process.socket()).await.unwrap();
    let ca = TestCa::new();
    let now = jit::clock::now();

    // A key the engineer loaded by hand: jit must never touch it.
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("id_ed25519");
    new_key()
        .write_openssh_file(&plain, LineEnding::LF)
        .unwrap();
    assert!(process.ssh_add(&[plain.to_str().unwrap()]).status.success());

    let key1 = new_key();
    let cert1 = ca.issue(
        key1.public_key(),
        &Grant {
            user: "alice",
            role: "web",
            principals: &["deploy"],
            serial: 1,
            valid_after: now - 60,
            valid_before: now + 600,
        },
    );
    agent.install("web", &key1, &cert1, 600).await.unwrap();
    let listing = process.list();
    assert!(listing.contains("(ED25519-CERT)"), "{listing}");
    assert!(listing.contains("jit:web"), "{listing}");

    // A new certificate for the same role replaces the old one.
    let key2 = new_key();
    let cert2 = ca.issue(
        key2.public_key(),
        &Grant {
            user: "alice",
            role: "web",
            principals: &["deploy"],
            serial: 2,
            valid_after: now - 60,
            valid_before: now + 900,
        },
    );
    agent.install("web", &key2, &cert2, 900).await.unwrap();
    let key3 = new_key();
    let cert3 = ca.issue(
        key3.public_key(),
        &Grant {
            user: "alice",
            role: "db",
            principals: &["dba"],
            serial: 3,
            valid_after: now - 60,
            valid_before: now + 300,
        },
    );
    agent.install("db", &key3, &cert3, 300).await.unwrap();
    let certs = agent.jit_certificates().await.unwrap();
    assert_eq!(serials(&certs), [("web".into(), 2), ("db".into(), 3)]);

    // Reuse only with more than 30 s left.
    let web = agent.certificates_for("web").await.unwrap();
    assert_eq!(reusable(web.clone(), now).unwrap().certificate.serial(), 2);
    assert!(reusable(web.clone(), now + 870).is_none());
    assert!(reusable(web, now + 869).is_some());

    // Removing one role keeps the other and the hand-loaded key.
    assert_eq!(agent.remove_jit(Some("web")).await.unwrap(), ["web"]);
    assert_eq!(
        serials(&agent.jit_certificates().await.unwrap()),
        [("db".into(), 3)]
    );
    assert_eq!(agent.remove_jit(None).await.unwrap(), ["db"]);
    assert!(agent.jit_certificates().await.unwrap().is_empty());
    let listing = process.list();
    assert_eq!(listing.lines().count(), 1, "{listing}");
    assert!(!listing.contains("CERT"), "{listing}");
}

#[tokio::test]
async fn a_certificate_for_another_key_is_refused() {
    let process = TestAgent::start();
    let mut agent = Agent::connect(process.socket()).await.unwrap();
    let ca = TestCa::new();
    let now = jit::clock::now();
    let cert = ca.issue(
        new_key().public_key(),
        &Grant {
            user: "alice",
            role: "web",
            principals: &["deploy"],
            serial: 9,
            valid_after: now,
            valid_before: now + 60,
        },
    );
    let err = agent
        .install("web", &new_key(), &cert, 60)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("different key"), "{err}");
    assert!(agent.jit_certificates().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_agent_drops_the_certificate_when_its_lifetime_ends() {
    let process = TestAgent::start();
    let mut agent = Agent::connect(process.socket()).await.unwrap();
    let ca = TestCa::new();
    let now = jit::clock::now();
    let key = new_key();
    let cert = ca.issue(
        key.public_key(),
        &Grant {
            user: "alice",
            role: "web",
            principals: &["deploy"],
            serial: 4,
            valid_after: now - 60,
            valid_before: now + 1,
        },
    );
    agent.install("web", &key, &cert, 1).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(agent.jit_certificates().await.unwrap().is_empty());
}
