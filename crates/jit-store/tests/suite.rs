//! The store test suite: every backend must pass the same tests (SQLite, and PostgreSQL on
//! a throwaway cluster with a fresh database per test; each backend gets one
//! `#[tokio::test]` per case through the `store_suite!` macro).
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/changes.rs"]
mod changes;
#[path = "support/postgres.rs"]
mod postgres_cluster;
#[path = "support/records.rs"]
mod records;

use std::sync::Arc;

use changes::Changes as _;
use jit_store::{
    IssuanceLinks, NewAccessRequest, NewDevice, RequestNonce, RequestState, Store, TotpCheck,
    TotpOutcome,
};
use records::{client_key, issuance, user_record};

async fn users_are_unique_and_can_be_disabled(store: Arc<dyn Store>) {
    store.add_user("alice", &["sre".into()], 10).await.unwrap();
    assert!(store.add_user("alice", &[], 11).await.is_err());
    assert!(!store.user("alice").await.unwrap().unwrap().disabled);
    store.set_user_disabled("alice", true).await.unwrap();
    assert!(store.user("alice").await.unwrap().unwrap().disabled);
    assert!(store.set_user_disabled("bob", true).await.is_err());
    assert_eq!(store.users().await.unwrap().len(), 1);
    assert!(store.user("nobody").await.unwrap().is_none());
}

fn device(fingerprint: &str, at: u64) -> NewDevice {
    NewDevice {
        fingerprint: fingerprint.into(),
        user: "ignored: the token decides".into(),
        public_key: "ssh-ed25519 AAAA".into(),
        name: "laptop".into(),
        totp_secret: "JBSWY3DPEHPK3PXP".into(),
        created_at: at,
    }
}

async fn tokens_are_single_use_and_expire(store: Arc<dyn Store>) {
    use jit_store::{Applied, Change, Error};
    store.add_user("alice", &["sre".into()], 10).await.unwrap();
    store.add_user("bob", &["sre".into()], 10).await.unwrap();
    for (hash, user) in [("h1", "alice"), ("h2", "alice"), ("h3", "bob")] {
        store
            .add_enrollment_token(hash, user, 10, 100)
            .await
            .unwrap();
    }
    let register = |hash: &str, fingerprint: &str, at| {
        store.change(Change::RegisterDevice {
            token_hash: hash.into(),
            device: device(fingerprint, at),
        })
    };
    assert_eq!(
        register("h1", "SHA256:one", 50).await.unwrap(),
        Applied::Device {
            user: "alice".into()
        }
    );
    assert_eq!(
        store.device("SHA256:one").await.unwrap().unwrap().user,
        "alice"
    );
    assert!(
        matches!(
            register("h1", "SHA256:two", 51).await,
            Err(Error::NotFound(_))
        ),
        "used twice"
    );
    assert!(
        matches!(
            register("h2", "SHA256:two", 100).await,
            Err(Error::NotFound(_))
        ),
        "expired"
    );
    assert!(matches!(
        register("nope", "SHA256:two", 50).await,
        Err(Error::NotFound(_))
    ));
    store.set_user_disabled("bob", true).await.unwrap();
    assert!(
        matches!(
            register("h3", "SHA256:two", 50).await,
            Err(Error::Conflict(_))
        ),
        "a disabled user's token registers nothing"
    );
    assert!(store.device("SHA256:two").await.unwrap().is_none());
    store.set_user_disabled("bob", false).await.unwrap();
    assert!(
        register("h3", "SHA256:two", 50).await.is_ok(),
        "the refused registration left the token unused"
    );
    assert!(
        matches!(
            store.add_enrollment_token("h4", "nobody", 10, 100).await,
            Err(Error::NotFound(_))
        ),
        "tokens only for known users"
    );
}

/// A TOTP check for `user` at time 1000 (window after 700, at most 5 failures).
fn totp(user: &str, step: Option<u64>) -> TotpCheck<'_> {
    TotpCheck {
        user,
        now: 1000,
        since: 700,
        max_failures: 5,
        step,
        nonce: None,
    }
}

/// A wrong code, recorded as a failure after `earlier_failures` others.
fn refused(earlier_failures: u32) -> TotpOutcome {
    TotpOutcome::Refused { earlier_failures }
}

async fn totp_steps_are_accepted_once_and_in_order(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    let check = |step| store.check_totp(totp("alice", Some(step)));
    assert_eq!(check(100).await.unwrap(), TotpOutcome::Accepted);
    assert_eq!(
        check(100).await.unwrap(),
        TotpOutcome::Replayed,
        "same step twice"
    );
    assert_eq!(
        check(99).await.unwrap(),
        TotpOutcome::Replayed,
        "older step after newer"
    );
    assert_eq!(check(101).await.unwrap(), TotpOutcome::Accepted);
    assert_eq!(
        store.check_totp(totp("ghost", Some(5))).await.unwrap(),
        TotpOutcome::Replayed,
        "unknown user"
    );
    assert_eq!(
        store.check_totp(totp("alice", None)).await.unwrap(),
        refused(0),
        "the replays recorded no failure"
    );
}

async fn concurrent_consumers_of_one_step_get_one_success(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let check = TotpCheck {
                    max_failures: 100,
                    ..totp("alice", Some(500))
                };
                store.check_totp(check).await.unwrap()
            })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        accepted += usize::from(task.await.unwrap() == TotpOutcome::Accepted);
    }
    assert_eq!(accepted, 1);
}

async fn failures_are_counted_in_a_window(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    for (at, earlier) in [(10, 0), (20, 1), (30, 2)] {
        let check = TotpCheck {
            now: at,
            since: 0,
            ..totp("alice", None)
        };
        assert_eq!(store.check_totp(check).await.unwrap(), refused(earlier));
    }
    // Only failures after `since` count.
    let check = TotpCheck {
        now: 40,
        since: 15,
        ..totp("alice", None)
    };
    assert_eq!(store.check_totp(check).await.unwrap(), refused(2));
    let check = TotpCheck {
        now: 40,
        since: 0,
        ..totp("bob", None)
    };
    assert_eq!(store.check_totp(check).await.unwrap(), refused(0));
    // Purging forgets failures up to the given time, and nothing after it.
    assert_eq!(store.purge_expired(0, 20).await.unwrap(), 2);
    let check = TotpCheck {
        now: 50,
        since: 0,
        ..totp("alice", None)
    };
    assert_eq!(
        store.check_totp(check).await.unwrap(),
        refused(2),
        "30 and 40 are left"
    );
}

async fn a_nonce_checked_with_the_totp_code_is_single_use_too(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    let with_nonce = |nonce, step| TotpCheck {
        nonce: Some(RequestNonce {
            value: nonce,
            expires_at: 2000,
        }),
        ..totp("alice", Some(step))
    };
    assert_eq!(
        store.check_totp(with_nonce("n1", 100)).await.unwrap(),
        TotpOutcome::Accepted
    );
    // The same request again: refused for its nonce, and nothing is counted or used up.
    assert_eq!(
        store.check_totp(with_nonce("n1", 101)).await.unwrap(),
        TotpOutcome::ReplayedRequest
    );
    assert_eq!(
        store.check_totp(with_nonce("n2", 101)).await.unwrap(),
        TotpOutcome::Accepted,
        "step 101 was not used up by the replay"
    );
    assert!(
        !store.remember_nonce("n2", 2000).await.unwrap(),
        "the nonce is remembered like any other"
    );
    for attempt in 0..8u32 {
        let replayed = store.check_totp(TotpCheck {
            step: None,
            ..with_nonce("n1", 0)
        });
        assert_eq!(
            replayed.await.unwrap(),
            TotpOutcome::ReplayedRequest,
            "{attempt}"
        );
    }
    let wrong = TotpCheck {
        step: None,
        ..with_nonce("n3", 0)
    };
    assert_eq!(
        store.check_totp(wrong).await.unwrap(),
        refused(0),
        "replays recorded no failures"
    );
}

async fn nonces_are_single_use(store: Arc<dyn Store>) {
    assert!(store.remember_nonce("n1", 100).await.unwrap());
    assert!(!store.remember_nonce("n1", 100).await.unwrap());
    assert!(store.remember_nonce("n2", 200).await.unwrap());
    // Purging forgets only expired nonces; a purged nonce could be used again (its
    // request is stale by then, which the timestamp check refuses).
    assert_eq!(store.purge_expired(150, 0).await.unwrap(), 1);
    assert!(!store.remember_nonce("n2", 200).await.unwrap());
    assert!(store.remember_nonce("n1", 300).await.unwrap());
}

async fn devices_register_and_confirm(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    let device = NewDevice {
        user: "alice".into(),
        ..device("SHA256:abc", 10)
    };
    store.add_device(&device).await.unwrap();
    assert!(store.add_device(&device).await.is_err());
    assert_eq!(
        store
            .device("SHA256:abc")
            .await
            .unwrap()
            .unwrap()
            .confirmed_at,
        None
    );
    store.confirm_device("SHA256:abc", 20).await.unwrap();
    let (found, owner) = store
        .device_with_owner("SHA256:abc")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.name.as_str(), found.confirmed_at),
        ("laptop", Some(20))
    );
    assert_eq!(owner.unwrap().name, "alice");
    assert!(store
        .device_with_owner("SHA256:zzz")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .device("SHA256:abc")
            .await
            .unwrap()
            .unwrap()
            .confirmed_at,
        Some(20)
    );
    assert!(
        store.confirm_device("SHA256:abc", 21).await.is_err(),
        "confirmed once"
    );
    assert!(format!("{:?}", store.device("SHA256:abc").await.unwrap())
        .find("JBSW")
        .is_none());
}

/// An audit walks the whole state: every certificate (expired ones too, serials above 2^63
/// in u64 order) and every device (confirmed or not).
async fn certificates_and_devices_are_listed_in_full(store: Arc<dyn Store>) {
    for (time, serial) in [(1000, u64::MAX - 1), (1000, 5), (5000, 9)] {
        let (record, row) = issuance(time, serial);
        store
            .record_issuance(&record, &row, IssuanceLinks::default())
            .await
            .unwrap();
    }
    let serials: Vec<u64> = store
        .certificates()
        .await
        .unwrap()
        .iter()
        .map(|c| c.serial)
        .collect();
    assert_eq!(serials, [5, 9, u64::MAX - 1]);
    assert_eq!(
        store
            .unexpired_certificates("alice", 2000)
            .await
            .unwrap()
            .len(),
        1,
        "two of them have expired, yet both are listed"
    );

    assert!(store.devices().await.unwrap().is_empty());
    store.add_user("alice", &[], 10).await.unwrap();
    for fingerprint in ["SHA256:b", "SHA256:a"] {
        let device = NewDevice {
            user: "alice".into(),
            ..device(fingerprint, 10)
        };
        store.add_device(&device).await.unwrap();
    }
    store.confirm_device("SHA256:b", 20).await.unwrap();
    let devices: Vec<(String, Option<u64>)> = store
        .devices()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.fingerprint, d.confirmed_at))
        .collect();
    assert_eq!(
        devices,
        [("SHA256:a".into(), None), ("SHA256:b".into(), Some(20))]
    );
}

async fn the_log_is_one_verifiable_chain_under_concurrency(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..40u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    store.append_log(&user_record(1000 + i, "x")).await.unwrap()
                } else {
                    let (record, row) = issuance(1000 + i, i + 1);
                    store
                        .record_issuance(&record, &row, IssuanceLinks::default())
                        .await
                        .unwrap()
                }
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    assert_eq!(store.log_len().await.unwrap(), 40);
    let entries = store.log_entries(1, 1000).await.unwrap();
    let verified = jit_log::verify_chain(entries).unwrap();
    assert_eq!(verified.entries, 40);
    assert_eq!(store.log_entries(39, 10).await.unwrap().len(), 2);
}

async fn a_taken_serial_writes_nothing(store: Arc<dyn Store>) {
    let (record, row) = issuance(1000, 7);
    store
        .record_issuance(&record, &row, IssuanceLinks::default())
        .await
        .unwrap();
    let again = store
        .record_issuance(&record, &row, IssuanceLinks::default())
        .await;
    assert!(matches!(again, Err(jit_store::Error::SerialTaken)));
    assert_eq!(
        store.log_len().await.unwrap(),
        1,
        "the failed issuance left no record"
    );
    let (record, row) = issuance(1000, u64::MAX - 1);
    store
        .record_issuance(&record, &row, IssuanceLinks::default())
        .await
        .unwrap();
    let live = store.unexpired_certificates("alice", 1100).await.unwrap();
    assert_eq!(
        live.iter().map(|c| c.serial).collect::<Vec<_>>(),
        vec![7, u64::MAX - 1]
    );
    assert!(store
        .unexpired_certificates("alice", 1600)
        .await
        .unwrap()
        .is_empty());
    jit_log::verify_chain(store.log_entries(1, 10).await.unwrap()).unwrap();
}

async fn a_key_is_certified_once(store: Arc<dyn Store>) {
    let (record, row) = issuance(1000, 7);
    store
        .record_issuance(&record, &row, IssuanceLinks::default())
        .await
        .unwrap();
    let found = store.certificate_by_client_key(&client_key(7)).await;
    assert_eq!(found.unwrap().map(|c| c.serial), Some(7));
    assert!(store
        .certificate_by_client_key(&client_key(8))
        .await
        .unwrap()
        .is_none());
    // The same key under another serial: refused, with and without links (one statement or
    // a savepoint on PostgreSQL), and nothing of it is written.
    let same_key = |serial| {
        let (record, mut row) = issuance(1001, serial);
        row.client_key_fingerprint = Some(client_key(7));
        (record, row)
    };
    for (serial, links) in [
        (8, IssuanceLinks::default()),
        (
            9,
            IssuanceLinks {
                break_glass_reason: Some("INC-1"),
                ..IssuanceLinks::default()
            },
        ),
    ] {
        let (record, row) = same_key(serial);
        let again = store.record_issuance(&record, &row, links).await;
        assert!(
            matches!(again, Err(jit_store::Error::KeyReused)),
            "{serial}: {again:?}"
        );
        assert!(store.certificate(serial).await.unwrap().is_none());
    }
    assert_eq!(store.log_len().await.unwrap(), 1, "refusals left no record");
    assert!(store.pending_reviews().await.unwrap().is_empty());
    // Serial and key both taken: the serial answers first (jitd retries that one).
    let again = store
        .record_issuance(&record, &row, IssuanceLinks::default())
        .await;
    assert!(
        matches!(again, Err(jit_store::Error::SerialTaken)),
        "{again:?}"
    );
    // Rows without a fingerprint (issued before the store kept one) never collide.
    for serial in [20, 21] {
        let (record, mut row) = issuance(1002, serial);
        row.client_key_fingerprint = None;
        store
            .record_issuance(&record, &row, IssuanceLinks::default())
            .await
            .unwrap();
    }
    // Concurrent issuances of one key: exactly one is written.
    let tasks: Vec<_> = (30..46u64)
        .map(|serial| {
            let store = store.clone();
            tokio::spawn(async move {
                let (record, mut row) = issuance(1003, serial);
                row.client_key_fingerprint = Some(client_key(30));
                store
                    .record_issuance(&record, &row, IssuanceLinks::default())
                    .await
            })
        })
        .collect();
    let (mut written, mut reused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => written += 1,
            Err(jit_store::Error::KeyReused) => reused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((written, reused), (1, 15));
    assert_eq!(store.log_len().await.unwrap(), 4);
    jit_log::verify_chain(store.log_entries(1, 10).await.unwrap()).unwrap();
}

async fn failed_writes_do_not_spoil_concurrent_ones(store: Arc<dyn Store>) {
    // 64 concurrent issuances, every serial twice: grouped writes (one transaction per
    // batch) must keep the 32 winners and undo only the 32 losers.
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let (record, row) = issuance(1000 + i, 1 + i % 32);
                store
                    .record_issuance(&record, &row, IssuanceLinks::default())
                    .await
            })
        })
        .collect();
    let (mut written, mut taken) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => written += 1,
            Err(jit_store::Error::SerialTaken) => taken += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((written, taken), (32, 32));
    assert_eq!(store.log_len().await.unwrap(), 32);
    let entries = store.log_entries(1, 100).await.unwrap();
    assert_eq!(entries.len(), 32);
    jit_log::verify_chain(entries).unwrap();
    for serial in 1..=32 {
        assert!(
            store.certificate(serial).await.unwrap().is_some(),
            "{serial}"
        );
    }
}

async fn an_issuance_counts_its_totp_attempt_first(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    let base = store.log_len().await.unwrap();
    let issue = |serial, check| {
        let store = store.clone();
        async move {
            let (record, row) = issuance(1000, serial);
            let links = IssuanceLinks {
                totp: Some(check),
                ..IssuanceLinks::default()
            };
            store.record_issuance(&record, &row, links).await
        }
    };
    // A right code: issued, and its step is spent.
    assert_eq!(issue(1, totp("alice", Some(100))).await.unwrap(), base + 1);
    assert_eq!(
        store.check_totp(totp("alice", Some(100))).await.unwrap(),
        TotpOutcome::Replayed
    );
    // The spent code again with an issuance: nothing issued, nothing counted.
    assert!(matches!(
        issue(2, totp("alice", Some(100))).await,
        Err(jit_store::Error::TotpRefused(TotpOutcome::Replayed))
    ));
    // A wrong code: nothing issued, the failure counted (the first).
    assert!(matches!(
        issue(2, totp("alice", None)).await,
        Err(jit_store::Error::TotpRefused(TotpOutcome::Refused {
            earlier_failures: 0
        }))
    ));
    assert_eq!(store.log_len().await.unwrap(), base + 1);
    assert!(store.certificate(2).await.unwrap().is_none());
    // A replayed request: nothing counted, nothing issued.
    let with_nonce = TotpCheck {
        nonce: Some(RequestNonce {
            value: "n1",
            expires_at: 2000,
        }),
        ..totp("alice", Some(101))
    };
    assert_eq!(issue(3, with_nonce).await.unwrap(), base + 2);
    assert!(matches!(
        issue(4, with_nonce).await,
        Err(jit_store::Error::TotpRefused(TotpOutcome::ReplayedRequest))
    ));
    // Locked out: refused without looking at the code.
    for _ in 0..4 {
        store.check_totp(totp("alice", None)).await.unwrap();
    }
    assert!(matches!(
        issue(5, totp("alice", Some(102))).await,
        Err(jit_store::Error::TotpRefused(TotpOutcome::LockedOut(t))) if t.len() == 5
    ));
    assert_eq!(store.log_len().await.unwrap(), base + 2);
    jit_log::verify_chain(store.log_entries(1, 10).await.unwrap()).unwrap();
}

fn new_request(id: &str, requester: &str, needed: u32, now: u64) -> NewAccessRequest {
    NewAccessRequest {
        id: id.into(),
        requester: requester.into(),
        role: "web".into(),
        reason: "INC-1".into(),
        ticket: Some("INC-1".into()),
        ttl_seconds: Some(600),
        approvals_needed: needed,
        window_seconds: 3600,
        created_at: now,
        expires_at: now + 86400,
    }
}

async fn approvals_need_distinct_people_and_are_used_once(store: Arc<dyn Store>) {
    for user in ["alice", "bob", "carol"] {
        store.add_user(user, &["sre".into()], 10).await.unwrap();
    }
    store
        .create_request(&new_request("r1", "alice", 2, 1000))
        .await
        .unwrap();
    let self_approval = store.decide_request("r1", "alice", true, None, 1001).await;
    assert!(matches!(self_approval, Err(jit_store::Error::Conflict(_))));
    let one = store
        .decide_request("r1", "bob", true, None, 1002)
        .await
        .unwrap();
    assert_eq!(one.state, RequestState::Pending, "one of two approvals");
    let twice = store.decide_request("r1", "bob", true, None, 1003).await;
    assert!(
        matches!(twice, Err(jit_store::Error::Conflict(_))),
        "bob counts once"
    );
    let two = store
        .decide_request("r1", "carol", true, None, 1004)
        .await
        .unwrap();
    assert_eq!(two.state, RequestState::Approved);
    assert_eq!(two.usable_until, Some(1004 + 3600));
    assert_eq!(
        two.approvers(),
        vec!["bob".to_string(), "carol".to_string()]
    );
    assert!(
        store
            .decide_request("r1", "carol", false, Some("no"), 1005)
            .await
            .is_err(),
        "decided"
    );

    let usable = store
        .usable_request("alice", "web", 1100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(usable.request.id, "r1");
    assert!(store
        .usable_request("alice", "db", 1100)
        .await
        .unwrap()
        .is_none());
    assert!(
        store
            .usable_request("alice", "web", 1004 + 3600)
            .await
            .unwrap()
            .is_none(),
        "window over"
    );

    let (mut record, row) = issuance(1100, 42);
    record.time = 1100;
    let links = IssuanceLinks {
        request_id: Some("r1"),
        ..IssuanceLinks::default()
    };
    let base = store.record_issuance(&record, &row, links).await.unwrap();
    let (record2, row2) = issuance(1101, 43);
    let again = store.record_issuance(&record2, &row2, links).await;
    assert!(
        matches!(again, Err(jit_store::Error::Conflict(_))),
        "used once"
    );
    assert_eq!(
        store.log_len().await.unwrap(),
        base,
        "the refused second use wrote nothing"
    );
    let used = store.access_request("r1", 1102).await.unwrap().unwrap();
    assert_eq!(
        (used.state, used.used_serial),
        (RequestState::Used, Some(42))
    );
}

async fn denied_and_lapsed_requests_yield_nothing(store: Arc<dyn Store>) {
    for user in ["alice", "bob"] {
        store.add_user(user, &["sre".into()], 10).await.unwrap();
    }
    store
        .create_request(&new_request("d1", "alice", 1, 1000))
        .await
        .unwrap();
    let denied = store
        .decide_request("d1", "bob", false, Some("not now"), 1001)
        .await
        .unwrap();
    assert_eq!(denied.state, RequestState::Denied);
    assert!(store
        .usable_request("alice", "web", 1002)
        .await
        .unwrap()
        .is_none());
    store
        .create_request(&new_request("e1", "alice", 1, 1000))
        .await
        .unwrap();
    assert_eq!(store.pending_request_count(1000).await.unwrap(), 1);
    let late = store
        .decide_request("e1", "bob", true, None, 1000 + 86400)
        .await;
    assert!(
        matches!(late, Err(jit_store::Error::Conflict(_))),
        "lapsed while pending"
    );
    let listed = store.recent_requests(0, 1000 + 86400).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|r| r.state == RequestState::Expired));
}

async fn alerts_queue_retry_and_deliver(store: Arc<dyn Store>) {
    let id = store
        .enqueue_alert("break_glass", "{\"text\":\"x\"}", 100)
        .await
        .unwrap();
    assert_eq!(store.due_alerts(100, 10).await.unwrap().len(), 1);
    store
        .alert_failed(id, "connection refused", 130)
        .await
        .unwrap();
    assert!(
        store.due_alerts(120, 10).await.unwrap().is_empty(),
        "backing off"
    );
    let due = store.due_alerts(130, 10).await.unwrap();
    assert_eq!((due.len(), due[0].attempts), (1, 1));
    store.alert_delivered(id, 131).await.unwrap();
    assert!(store.due_alerts(1000, 10).await.unwrap().is_empty());
}

async fn break_glass_issuances_wait_for_review(store: Arc<dyn Store>) {
    let (record, row) = issuance(1000, 9);
    let links = IssuanceLinks {
        break_glass_reason: Some("db down"),
        ..IssuanceLinks::default()
    };
    let seq = store.record_issuance(&record, &row, links).await.unwrap();
    let pending = store.pending_reviews().await.unwrap();
    assert_eq!(
        (pending.len(), pending[0].serial, pending[0].log_seq),
        (1, 9, seq)
    );
    assert_eq!(pending[0].reason, "db down");
    let done = store
        .ack_review(9, "carol", "checked with alice", 1100)
        .await
        .unwrap();
    assert_eq!(done.acked_by.as_deref(), Some("carol"));
    assert!(store.pending_reviews().await.unwrap().is_empty());
    assert!(matches!(
        store.ack_review(9, "carol", "again", 1101).await,
        Err(jit_store::Error::Conflict(_))
    ));
    assert!(matches!(
        store.ack_review(10, "carol", "x", 1101).await,
        Err(jit_store::Error::NotFound(_))
    ));
}

async fn revocations_leave_the_list_when_the_certificate_expires(store: Arc<dyn Store>) {
    use jit_store::{Revocation, Revoked};
    let (record, row) = issuance(1000, 77);
    store
        .record_issuance(&record, &row, IssuanceLinks::default())
        .await
        .unwrap();
    assert_eq!(
        store.certificate(77).await.unwrap().unwrap().key_id,
        "alice@web#77"
    );
    assert_eq!(
        store
            .certificate_by_key_id("alice@web#77")
            .await
            .unwrap()
            .unwrap()
            .serial,
        77
    );
    let revocation = |target| Revocation {
        target,
        reason: "laptop stolen".into(),
        revoked_by: "op".into(),
        created_at: 1001,
    };
    let serial = Revoked::Serial {
        serial: 77,
        ca_fingerprint: "SHA256:ca".into(),
        valid_before: 1600,
    };
    let key = Revoked::Key {
        public_key: "ssh-ed25519 AAAA".into(),
    };
    assert!(store.revoke(&revocation(serial.clone())).await.unwrap());
    assert!(
        !store.revoke(&revocation(serial.clone())).await.unwrap(),
        "once"
    );
    assert!(store.revoke(&revocation(key.clone())).await.unwrap());
    assert!(store.is_serial_revoked(77).await.unwrap());
    assert!(!store.is_serial_revoked(78).await.unwrap());
    assert_eq!(store.revocations(1500).await.unwrap().len(), 2);
    let later = store.revocations(1600).await.unwrap();
    assert_eq!(
        later.len(),
        1,
        "the expired certificate left; the key stays"
    );
    assert_eq!(later[0].target, key);
}

async fn hosts_enroll_once_with_their_token(store: Arc<dyn Store>) {
    use jit_store::{Applied, Change, Error};
    let principals = vec!["web-1".to_string(), "10.0.0.5".to_string()];
    store
        .add_host("web-1", &principals, "h1", 500, 100)
        .await
        .unwrap();
    let enroll = |hash: &str, key: &str, at| {
        store.change(Change::EnrollHost {
            token_hash: hash.into(),
            public_key: key.into(),
            at,
        })
    };
    let found = store.host_by_token("h1", 200).await.unwrap().unwrap();
    assert_eq!(found.principals, principals);
    let Applied::Host(host) = enroll("h1", "ssh-ed25519 HOSTKEY", 200).await.unwrap() else {
        panic!("enrolling a host comes to the host");
    };
    assert_eq!((host.name.as_str(), host.principals), ("web-1", principals));
    assert!(store.host_by_token("h1", 201).await.unwrap().is_none());
    assert!(
        matches!(
            enroll("h1", "ssh-ed25519 OTHER", 201).await,
            Err(Error::NotFound(_))
        ),
        "single use"
    );
    assert_eq!(
        store
            .host_by_key("ssh-ed25519 HOSTKEY")
            .await
            .unwrap()
            .unwrap()
            .name,
        "web-1"
    );
    store
        .change(Change::SetHostKey {
            name: "web-1".into(),
            public_key: "ssh-ed25519 RENEWED".into(),
        })
        .await
        .unwrap();
    assert!(store
        .host_by_key("ssh-ed25519 HOSTKEY")
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store
            .change(Change::SetHostKey {
                name: "web-9".into(),
                public_key: "ssh-ed25519 X".into(),
            })
            .await,
        Err(Error::NotFound(_))
    ));
    store
        .add_host("web-2", &["web-2".into()], "h2", 150, 100)
        .await
        .unwrap();
    assert!(store.host_by_token("h2", 150).await.unwrap().is_none());
    assert!(
        matches!(
            enroll("h2", "ssh-ed25519 LATE", 150).await,
            Err(Error::NotFound(_))
        ),
        "expired"
    );
}

async fn checkpoints_are_kept_once_per_tree_size(store: Arc<dyn Store>) {
    assert!(store.add_checkpoint(5, "{\"a\":5}", 100).await.unwrap());
    assert!(store.add_checkpoint(3, "{\"a\":3}", 101).await.unwrap());
    assert!(
        !store.add_checkpoint(5, "{\"other\":5}", 102).await.unwrap(),
        "one per size"
    );
    assert_eq!(
        store.checkpoints().await.unwrap(),
        vec!["{\"a\":3}".to_string(), "{\"a\":5}".to_string()]
    );
    assert_eq!(
        store.latest_checkpoint().await.unwrap().as_deref(),
        Some("{\"a\":5}")
    );
}

async fn an_issuance_is_built_for_its_log_position(store: Arc<dyn Store>) {
    store.append_log(&user_record(900, "x")).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let written = seen.clone();
    let seq = store
        .record_issuance_at(
            Box::new(move |seq| {
                *written.lock().unwrap() = Some(seq);
                Ok(issuance(1000, 11))
            }),
            IssuanceLinks::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (seq, *seen.lock().unwrap()),
        (2, Some(2)),
        "built for the position it got"
    );
    assert_eq!(store.issuance_seq(11).await.unwrap(), Some(2));
    assert_eq!(store.issuance_seq(12).await.unwrap(), None);
    // A builder that fails writes nothing and leaves the head where it was.
    let failed = store
        .record_issuance_at(
            Box::new(|_| Err(jit_store::Error::Corrupt("signing failed".into()))),
            IssuanceLinks::default(),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(store.log_len().await.unwrap(), 2);
    let (record, row) = issuance(1001, 12);
    assert_eq!(
        store
            .record_issuance(&record, &row, IssuanceLinks::default())
            .await
            .unwrap(),
        3
    );
    jit_log::verify_chain(store.log_entries(1, 10).await.unwrap()).unwrap();
}

async fn concurrent_totp_attempts_count_at_most_the_limit(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.check_totp(totp("alice", None)).await.unwrap() })
        })
        .collect();
    let mut refused_codes = 0;
    for task in tasks {
        match task.await.unwrap() {
            TotpOutcome::Refused { .. } => refused_codes += 1,
            TotpOutcome::LockedOut(times) => assert_eq!(times.len(), 5),
            other => panic!("no code was right and no nonce was given: {other:?}"),
        }
    }
    assert_eq!(refused_codes, 5, "at most five codes count per window");
    // Locked out, even a right code is not looked at (and its step stays unused).
    assert!(matches!(
        store.check_totp(totp("alice", Some(40))).await.unwrap(),
        TotpOutcome::LockedOut(t) if t.len() == 5
    ));
    // Once the window has passed, that step is accepted.
    let later = TotpCheck {
        now: 2000,
        since: 1500,
        ..totp("alice", Some(40))
    };
    assert_eq!(
        store.check_totp(later).await.unwrap(),
        TotpOutcome::Accepted
    );
}

fn ca_key(fingerprint: &str, state: jit_store::CaKeyState) -> jit_store::CaKey {
    jit_store::CaKey {
        fingerprint: fingerprint.into(),
        kind: jit_store::CaKind::User,
        file: format!("user_ca-{fingerprint}"),
        public_key: format!("ssh-ed25519 {fingerprint}"),
        state,
        added_at: 100,
        retired_at: None,
    }
}

/// One active key per kind: a rotation demotes the active key, only an earlier key can
/// retire, and each only once.
async fn ca_keys_rotate_and_retire(store: Arc<dyn Store>) {
    use jit_store::{CaKeyState, Change, Error};
    let add = |fingerprint: &str, state| {
        store.change(Change::AddCaKey {
            key: ca_key(fingerprint, state),
        })
    };
    let retire = |fingerprint: &str| {
        store.change(Change::RetireCaKey {
            fingerprint: fingerprint.into(),
            at: 500,
        })
    };
    add("SHA256:old", CaKeyState::Previous).await.unwrap();
    add("SHA256:a", CaKeyState::Active).await.unwrap();
    add("SHA256:b", CaKeyState::Active).await.unwrap();
    assert!(matches!(
        add("SHA256:b", CaKeyState::Active).await,
        Err(Error::AlreadyExists(_))
    ));
    let states = |keys: Vec<jit_store::CaKey>| {
        let mut states: Vec<_> = keys.into_iter().map(|k| (k.fingerprint, k.state)).collect();
        states.sort_by(|a, b| a.0.cmp(&b.0));
        states
    };
    assert_eq!(
        states(store.ca_keys().await.unwrap()),
        vec![
            ("SHA256:a".to_string(), CaKeyState::Previous),
            ("SHA256:b".to_string(), CaKeyState::Active),
            ("SHA256:old".to_string(), CaKeyState::Previous),
        ]
    );
    assert!(
        matches!(retire("SHA256:b").await, Err(Error::Conflict(_))),
        "the signing key"
    );
    assert!(matches!(
        retire("SHA256:none").await,
        Err(Error::NotFound(_))
    ));
    retire("SHA256:a").await.unwrap();
    assert!(
        matches!(retire("SHA256:a").await, Err(Error::Conflict(_))),
        "once"
    );
    let retired = store
        .ca_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.fingerprint == "SHA256:a")
        .unwrap();
    assert_eq!(
        (retired.state, retired.retired_at),
        (CaKeyState::Retired, Some(500))
    );
}

/// What a change's state looks like in the store's reads (empty where only a repeat of the
/// change can tell: a token left behind would make the repeat fail).
async fn state_of(store: &dyn Store, change: &jit_store::Change) -> String {
    use jit_store::Change;
    match change {
        Change::AddUser { name, .. } => format!("{:?}", store.user(name).await.unwrap()),
        Change::SetUserDisabled { name, .. } => format!(
            "{:?} {:?}",
            store.user(name).await.unwrap(),
            store.revocations(0).await.unwrap()
        ),
        Change::RegisterDevice { device, .. } => {
            format!("{:?}", store.device(&device.fingerprint).await.unwrap())
        }
        Change::ConfirmDevice { fingerprint, .. } => {
            format!("{:?}", store.device(fingerprint).await.unwrap())
        }
        Change::CreateRequest(request) => {
            format!(
                "{:?}",
                store.access_request(&request.id, 1000).await.unwrap()
            )
        }
        Change::DecideRequest { id, .. } => {
            format!("{:?}", store.access_request(id, 1000).await.unwrap())
        }
        Change::Revoke(_) => format!("{:?}", store.revocations(0).await.unwrap()),
        Change::AddHost {
            name, token_hash, ..
        } => format!(
            "{:?} {:?}",
            store.host(name).await.unwrap(),
            store.host_by_token(token_hash, 1000).await.unwrap()
        ),
        Change::EnrollHost { token_hash, .. } => {
            format!("{:?}", store.host_by_token(token_hash, 1000).await.unwrap())
        }
        Change::SetHostKey { name, .. } => format!("{:?}", store.host(name).await.unwrap()),
        Change::AckReview { .. } => format!("{:?}", store.pending_reviews().await.unwrap()),
        Change::AddCaKey { .. } | Change::RetireCaKey { .. } => {
            format!("{:?}", store.ca_keys().await.unwrap())
        }
        _ => String::new(),
    }
}

/// The ledger's promise, change by change: with a failure injected between the state change
/// and its record, neither is written; then the same change commits with exactly its record.
async fn every_change_commits_with_its_record_or_not_at_all(store: Arc<dyn Store>) {
    use jit_store::{ledger, CaKeyState, Change, Revocation, Revoked};
    let (record, row) = issuance(990, 5);
    let links = IssuanceLinks {
        break_glass_reason: Some("db down"),
        ..IssuanceLinks::default()
    };
    store.record_issuance(&record, &row, links).await.unwrap();
    store.add_user("bob", &[], 10).await.unwrap();
    store
        .add_enrollment_token("bob-token", "bob", 10, 2000)
        .await
        .unwrap();
    store
        .add_host("web-0", &["web-0".into()], "web-0-token", 2000, 10)
        .await
        .unwrap();
    let revocation = Revocation {
        target: Revoked::Serial {
            serial: 5,
            ca_fingerprint: "SHA256:ca".into(),
            valid_before: 1590,
        },
        reason: "left".into(),
        revoked_by: "op".into(),
        created_at: 1000,
    };
    let request = NewAccessRequest {
        id: "r-1".into(),
        requester: "alice".into(),
        role: "db".into(),
        reason: "migration".into(),
        ticket: None,
        ttl_seconds: Some(600),
        approvals_needed: 1,
        window_seconds: 600,
        created_at: 1000,
        expires_at: 5000,
    };
    let changes = vec![
        Change::Note,
        Change::AddUser {
            name: "alice".into(),
            groups: vec!["sre".into()],
            at: 1000,
        },
        Change::AddEnrollmentToken {
            token_hash: "alice-token".into(),
            user: "alice".into(),
            at: 1000,
            expires_at: 2000,
        },
        Change::RegisterDevice {
            token_hash: "alice-token".into(),
            device: device("SHA256:alice", 1000),
        },
        Change::ConfirmDevice {
            fingerprint: "SHA256:alice".into(),
            at: 1000,
        },
        Change::CreateRequest(request),
        Change::DecideRequest {
            id: "r-1".into(),
            approver: "bob".into(),
            approve: true,
            reason: None,
            at: 1000,
        },
        Change::Revoke(vec![Revocation {
            target: Revoked::Key {
                public_key: "ssh-ed25519 STOLEN".into(),
            },
            ..revocation.clone()
        }]),
        Change::SetUserDisabled {
            name: "alice".into(),
            disabled: true,
            at: 1000,
            reason: revocation.reason.clone(),
            revoked_by: revocation.revoked_by.clone(),
        },
        Change::AddHost {
            name: "web-1".into(),
            principals: vec!["web-1".into()],
            token_hash: "web-1-token".into(),
            expires_at: 2000,
            at: 1000,
        },
        Change::EnrollHost {
            token_hash: "web-0-token".into(),
            public_key: "ssh-ed25519 HOST0".into(),
            at: 1000,
        },
        Change::SetHostKey {
            name: "web-0".into(),
            public_key: "ssh-ed25519 HOST0B".into(),
        },
        Change::AckReview {
            serial: 5,
            by: "carol".into(),
            note: "fine".into(),
            at: 1000,
        },
    ];
    store
        .change(Change::AddCaKey {
            key: ca_key("SHA256:ca-1", CaKeyState::Active),
        })
        .await
        .unwrap();
    let mut changes = changes;
    changes.push(Change::AddCaKey {
        key: ca_key("SHA256:ca-2", CaKeyState::Active),
    });
    changes.push(Change::RetireCaKey {
        fingerprint: "SHA256:ca-1".into(),
        at: 1000,
    });
    let mut covered: Vec<&str> = Vec::new();
    for change in changes {
        let name = change.name();
        covered.push(name);
        let (length, state) = (
            store.log_len().await.unwrap(),
            state_of(store.as_ref(), &change).await,
        );
        store.failpoint().arm();
        let failed = store
            .commit(change.clone(), ledger::record(user_record(1000, name)))
            .await;
        assert!(
            failed.is_err(),
            "{name}: the injected failure fails the commit"
        );
        assert_eq!(
            store.log_len().await.unwrap(),
            length,
            "{name}: no record without its state"
        );
        assert_eq!(
            state_of(store.as_ref(), &change).await,
            state,
            "{name}: no state without its record"
        );
        let committed = store
            .commit(change.clone(), ledger::record(user_record(1000, name)))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(committed.seq, length + 1, "{name}");
        let entry = &store.log_entries(committed.seq, 1).await.unwrap()[0];
        assert_eq!(
            entry.body,
            user_record(1000, name).canonical_json(),
            "{name}"
        );
        if name != "note" && name != "add_enrollment_token" {
            assert_ne!(
                state_of(store.as_ref(), &change).await,
                state,
                "{name}: the state changed"
            );
        }
    }
    let mut every = Change::NAMES.to_vec();
    every.sort_unstable();
    covered.sort_unstable();
    assert_eq!(covered, every, "every kind of change is tried here");
    jit_log::verify_chain(store.log_entries(1, 1000).await.unwrap()).unwrap();
}

/// A refused change writes no record, and a record that cannot be built undoes its change.
async fn a_refused_change_writes_no_record(store: Arc<dyn Store>) {
    use jit_store::{Change, Error};
    store.add_user("alice", &[], 10).await.unwrap();
    let length = store.log_len().await.unwrap();
    let again = Change::AddUser {
        name: "alice".into(),
        groups: vec![],
        at: 11,
    };
    let refused = store
        .commit(again, jit_store::ledger::record(user_record(11, "alice")))
        .await;
    assert!(matches!(refused, Err(Error::AlreadyExists(_))));
    let unbuildable: jit_store::RecordFor = Box::new(|_| Err(Error::Corrupt("no record".into())));
    let add = Change::AddUser {
        name: "bob".into(),
        groups: vec![],
        at: 12,
    };
    assert!(store.commit(add, unbuildable).await.is_err());
    assert!(
        store.user("bob").await.unwrap().is_none(),
        "the change went with its record"
    );
    assert_eq!(store.log_len().await.unwrap(), length);
}

async fn replays_of_an_accepted_code_never_lock_the_user_out(store: Arc<dyn Store>) {
    store.add_user("alice", &[], 10).await.unwrap();
    assert_eq!(
        store.check_totp(totp("alice", Some(100))).await.unwrap(),
        TotpOutcome::Accepted
    );
    // Many more replays of the accepted code than the limit allows failures, at once.
    let replays: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.check_totp(totp("alice", Some(100))).await })
        })
        .collect();
    for replay in replays {
        assert_eq!(replay.await.unwrap().unwrap(), TotpOutcome::Replayed);
    }
    assert_eq!(
        store.check_totp(totp("alice", Some(101))).await.unwrap(),
        TotpOutcome::Accepted,
        "not locked out: the next step's code works"
    );
    // A wrong code still counts, up to the lockout.
    for earlier in 0..5 {
        assert_eq!(
            store.check_totp(totp("alice", None)).await.unwrap(),
            refused(earlier)
        );
    }
    assert!(matches!(
        store.check_totp(totp("alice", Some(102))).await.unwrap(),
        TotpOutcome::LockedOut(t) if t.len() == 5
    ));
}

async fn a_write_probe_succeeds_on_a_healthy_store(store: Arc<dyn Store>) {
    store.probe_write(1000).await.unwrap();
    store.probe_write(1001).await.unwrap();
    // Concurrent probes (several load balancers) all succeed on the one row.
    let probes: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.probe_write(1002 + n).await })
        })
        .collect();
    for probe in probes {
        probe.await.unwrap().unwrap();
    }
}

/// Disabling a user and issuing to them never interleave badly: the disable revokes every
/// certificate issued before it, in its own transaction, and an issuance after it is refused
/// in the issuance's transaction.
async fn disabling_a_user_revokes_what_was_issued_and_refuses_the_rest(store: Arc<dyn Store>) {
    use jit_store::{Applied, Change, Error};
    store.add_user("alice", &[], 10).await.unwrap();
    for serial in [7, 8] {
        let (record, row) = issuance(1000, serial);
        store
            .record_issuance(&record, &row, IssuanceLinks::default())
            .await
            .unwrap();
    }
    let disabled = store
        .change(Change::SetUserDisabled {
            name: "alice".into(),
            disabled: true,
            at: 1001,
            reason: "user disabled".into(),
            revoked_by: "op".into(),
        })
        .await
        .unwrap();
    assert_eq!(disabled, Applied::RevokedSerials(vec![7, 8]));
    assert!(store.is_serial_revoked(7).await.unwrap() && store.is_serial_revoked(8).await.unwrap());
    let length = store.log_len().await.unwrap();
    let (record, row) = issuance(1002, 9);
    let refused = store
        .record_issuance(&record, &row, IssuanceLinks::default())
        .await;
    assert!(
        matches!(refused, Err(Error::UserDisabled(_))),
        "{refused:?}"
    );
    let links = IssuanceLinks {
        break_glass_reason: Some("still disabled"),
        ..IssuanceLinks::default()
    };
    let (record, row) = issuance(1002, 10);
    let refused = store.record_issuance(&record, &row, links).await;
    assert!(
        matches!(refused, Err(Error::UserDisabled(_))),
        "{refused:?}"
    );
    assert_eq!(store.log_len().await.unwrap(), length, "nothing written");
    assert!(store.certificate(9).await.unwrap().is_none());
}

macro_rules! store_suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        let (_guard, store) = $open.await;
                        super::$name(store).await;
                    }
                };
            }
            case!(users_are_unique_and_can_be_disabled);
            case!(tokens_are_single_use_and_expire);
            case!(totp_steps_are_accepted_once_and_in_order);
            case!(concurrent_consumers_of_one_step_get_one_success);
            case!(failures_are_counted_in_a_window);
            case!(nonces_are_single_use);
            case!(a_nonce_checked_with_the_totp_code_is_single_use_too);
            case!(devices_register_and_confirm);
            case!(certificates_and_devices_are_listed_in_full);
            case!(the_log_is_one_verifiable_chain_under_concurrency);
            case!(a_taken_serial_writes_nothing);
            case!(a_key_is_certified_once);
            case!(failed_writes_do_not_spoil_concurrent_ones);
            case!(an_issuance_counts_its_totp_attempt_first);
            case!(approvals_need_distinct_people_and_are_used_once);
            case!(denied_and_lapsed_requests_yield_nothing);
            case!(alerts_queue_retry_and_deliver);
            case!(break_glass_issuances_wait_for_review);
            case!(revocations_leave_the_list_when_the_certificate_expires);
            case!(hosts_enroll_once_with_their_token);
            case!(checkpoints_are_kept_once_per_tree_size);
            case!(an_issuance_is_built_for_its_log_position);
            case!(concurrent_totp_attempts_count_at_most_the_limit);
            case!(every_change_commits_with_its_record_or_not_at_all);
            case!(a_refused_change_writes_no_record);
            case!(ca_keys_rotate_and_retire);
            case!(disabling_a_user_revokes_what_was_issued_and_refuses_the_rest);
            case!(replays_of_an_accepted_code_never_lock_the_user_out);
            case!(a_write_probe_succeeds_on_a_healthy_store);
        }
    };
}

async fn open_sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = jit_store::open("sqlite://jit.db", dir.path())
        .await
        .unwrap();
    (dir, store)
}

store_suite!(sqlite, open_sqlite());

async fn open_postgres() -> (String, Arc<dyn Store>) {
    let url = tokio::task::spawn_blocking(postgres_cluster::fresh_database)
        .await
        .unwrap();
    let store = jit_store::open(&url, std::path::Path::new("/nonexistent"))
        .await
        .unwrap();
    (url, store)
}

store_suite!(postgres, open_postgres());
