//! PostgreSQL-only tests: several jitd replicas (each a `PostgresStore` with its own pool) on
//! one database must behave like one store; replicas starting together migrate once; and
//! a database outage fails requests fast and heals by itself.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/postgres.rs"]
mod postgres_cluster;
#[path = "support/records.rs"]
mod records;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jit_store::postgres::PostgresStore;
use jit_store::{
    Error, IssuanceLinks, NewAccessRequest, RequestState, Store, TotpCheck, TotpOutcome,
};
use records::{issuance, user_record};

/// A fresh database on the shared cluster.
async fn database() -> String {
    tokio::task::spawn_blocking(postgres_cluster::fresh_database)
        .await
        .unwrap()
}

/// Whether a right code for `step` is accepted for alice (failures never lock her out).
async fn accept_step(store: &dyn Store, step: u64) -> bool {
    let check = TotpCheck {
        user: "alice",
        now: 1000,
        since: 0,
        max_failures: u32::MAX,
        step: Some(step),
    };
    store.check_totp(check).await.unwrap() == TotpOutcome::Accepted
}

/// Two replicas on one fresh database.
async fn replicas() -> [Arc<PostgresStore>; 2] {
    let url = database().await;
    let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
    [Arc::new(a.unwrap()), Arc::new(b.unwrap())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_accept_one_totp_step_once() {
    let stores = replicas().await;
    stores[0].add_user("alice", &[], 10).await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move { accept_step(&*store, 500).await })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        accepted += usize::from(task.await.unwrap());
    }
    assert_eq!(accepted, 1);
    assert!(!accept_step(&*stores[1], 500).await);
    assert!(accept_step(&*stores[1], 501).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_append_to_one_linear_chain() {
    let stores = replicas().await;
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            let store = stores[(i % 2) as usize].clone();
            tokio::spawn(
                async move { store.append_log(&user_record(1000 + i, "x")).await.unwrap() },
            )
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    for store in &stores {
        assert_eq!(store.log_len().await.unwrap(), 200);
        let verified = jit_log::verify_chain(store.log_entries(1, 1000).await.unwrap()).unwrap();
        assert_eq!(verified.entries, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_issue_each_serial_once() {
    let stores = replicas().await;
    for serial in 1..=20u64 {
        let attempts: Vec<_> = (0..2)
            .map(|i| {
                let store = stores[i].clone();
                tokio::spawn(async move {
                    let (record, row) = issuance(1000 + serial, serial);
                    store
                        .record_issuance(&record, &row, IssuanceLinks::default())
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(_) => won += 1,
                Err(Error::SerialTaken) => {}
                Err(other) => panic!("serial {serial}: {other}"),
            }
        }
        assert_eq!(won, 1, "serial {serial}");
    }
    assert_eq!(
        stores[1].log_len().await.unwrap(),
        20,
        "the losers wrote nothing"
    );
    jit_log::verify_chain(stores[0].log_entries(1, 100).await.unwrap()).unwrap();
    assert_eq!(
        stores[0]
            .unexpired_certificates("alice", 1100)
            .await
            .unwrap()
            .len(),
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_count_each_approver_once() {
    let stores = replicas().await;
    for user in ["alice", "bob", "carol"] {
        stores[0].add_user(user, &[], 10).await.unwrap();
    }
    stores[1]
        .create_request(&NewAccessRequest {
            id: "r1".into(),
            requester: "alice".into(),
            role: "web".into(),
            reason: "INC-1".into(),
            ticket: None,
            ttl_seconds: None,
            approvals_needed: 2,
            window_seconds: 3600,
            created_at: 1000,
            expires_at: 90_000,
        })
        .await
        .unwrap();
    let decide = |i: usize, approver: &'static str| {
        let store = stores[i % 2].clone();
        tokio::spawn(async move { store.decide_request("r1", approver, true, None, 1001).await })
    };
    let tasks: Vec<_> = (0..20).map(|i| decide(i, "bob")).collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(request) => {
                ok += 1;
                assert_eq!(request.state, RequestState::Pending);
            }
            Err(Error::Conflict(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(ok, 1, "bob counts once");
    let tasks: Vec<_> = (0..20).map(|i| decide(i, "carol")).collect();
    let mut approved = 0;
    for task in tasks {
        if let Ok(request) = task.await.unwrap() {
            approved += 1;
            assert_eq!(request.state, RequestState::Approved);
        }
    }
    assert_eq!(approved, 1);
    let request = stores[0].access_request("r1", 1002).await.unwrap().unwrap();
    assert_eq!(request.approvers(), ["bob", "carol"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_migrate_once() {
    let url = database().await;
    let connects: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    for connect in connects {
        connect.await.unwrap().unwrap().ping().await.unwrap();
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    // Every migration applied exactly once, in order (the table's key forbids duplicates).
    let expected: Vec<i64> = (1..=versions.len() as i64).collect();
    assert_eq!(versions, expected);
    assert!(versions.len() >= 4, "{versions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_fast() {
    let started = Instant::now();
    let refused = jit_store::open("postgres://jit@127.0.0.1:1/jit", "/".as_ref()).await;
    assert!(
        matches!(refused, Err(Error::Database(_))),
        "{:?}",
        refused.err()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_fast_and_heals_by_itself() {
    let cluster = tokio::task::spawn_blocking(|| postgres_cluster::Cluster::start().unwrap())
        .await
        .unwrap();
    let cluster = Arc::new(cluster);
    let url = cluster.create_database().unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    store.add_user("alice", &[], 10).await.unwrap();

    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop().unwrap())
        .await
        .unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let down = store.user("alice").await;
        assert!(matches!(down, Err(Error::Database(_))), "{down:?}");
        assert!(
            started.elapsed() < jit_store::postgres::ACQUIRE_TIMEOUT + Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
    }

    let resuming = cluster.clone();
    tokio::task::spawn_blocking(move || resuming.resume().unwrap())
        .await
        .unwrap();
    let user = store.user("alice").await.unwrap().unwrap();
    assert_eq!(user.name, "alice");
    assert!(accept_step(&store, 7).await);
    drop(store);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
