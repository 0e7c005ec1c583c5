//! PostgreSQL-only tests: several jitd replicas (each a `PostgresStore` with its own pool) on
//! one database must behave like one store; replicas starting together migrate once; and
//! a database outage fails requests fast and heals by itself.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "support/changes.rs"]
mod changes;
#[path = "support/postgres.rs"]
mod postgres_cluster;
#[path = "support/records.rs"]
mod records;

use std::sync::Arc;
use std::time::{Duration, Instant};

use changes::Changes as _;
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
        nonce: None,
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

/// Issue `serial` through `record_issuance_at`; the result, and whether the builder was
/// given the log position the store returned.
async fn issue_at(
    store: Arc<PostgresStore>,
    serial: u64,
    request: Option<&str>,
) -> Result<u64, Error> {
    let given = Arc::new(std::sync::Mutex::new(None));
    let slot = given.clone();
    let build = Box::new(move |seq: u64| {
        *slot.lock().unwrap() = Some(seq);
        Ok(issuance(1000, serial))
    });
    let links = IssuanceLinks {
        request_id: request,
        ..IssuanceLinks::default()
    };
    let seq = store.record_issuance_at(build, links).await?;
    assert_eq!(*given.lock().unwrap(), Some(seq), "serial {serial}");
    Ok(seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_failing_write_does_not_spoil_its_batch() {
    let url = database().await;
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    for user in ["alice", "bob"] {
        store.add_user(user, &[], 10).await.unwrap();
    }
    store
        .create_request(&NewAccessRequest {
            id: "r1".into(),
            requester: "alice".into(),
            role: "web".into(),
            reason: "INC-1".into(),
            ticket: None,
            ttl_seconds: None,
            approvals_needed: 1,
            window_seconds: 3600,
            created_at: 900,
            expires_at: 90_000,
        })
        .await
        .unwrap();
    store
        .decide_request("r1", "bob", true, None, 901)
        .await
        .unwrap();
    // The set-up wrote its own records (two users, the request, the decision).
    let before = store.log_len().await.unwrap();
    // All at once, so they share batches: serials 1..=40, serials 1..=20 again (taken),
    // two issuances using the one approval, a builder that fails, and plain appends.
    let mut tasks = tokio::task::JoinSet::new();
    for serial in (1..=40).chain(1..=20) {
        let store = store.clone();
        tasks.spawn(async move { ("serial", issue_at(store, serial, None).await) });
    }
    for serial in [101, 102] {
        let store = store.clone();
        tasks.spawn(async move { ("request", issue_at(store, serial, Some("r1")).await) });
    }
    let failing = store.clone();
    tasks.spawn(async move {
        let build: jit_store::IssuanceBuilder =
            Box::new(|_| Err(Error::Corrupt("builder failed".into())));
        let outcome = failing
            .record_issuance_at(build, IssuanceLinks::default())
            .await;
        ("builder", outcome)
    });
    for i in 0..20 {
        let store = store.clone();
        tasks.spawn(async move {
            (
                "append",
                store.append_log(&user_record(1000 + i, "x")).await,
            )
        });
    }
    let mut seqs = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (kind, outcome) in tasks.join_all().await {
        let label = match outcome {
            Ok(seq) => {
                seqs.push(seq);
                format!("{kind} ok")
            }
            Err(Error::SerialTaken) => format!("{kind} taken"),
            Err(Error::Conflict(_)) => format!("{kind} conflict"),
            Err(Error::Corrupt(_)) => format!("{kind} corrupt"),
            Err(other) => panic!("{kind}: {other}"),
        };
        *counts.entry(label).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<String, usize> = [
        ("append ok", 20),
        ("builder corrupt", 1),
        ("request conflict", 1),
        ("request ok", 1),
        ("serial ok", 40),
        ("serial taken", 20),
    ]
    .into_iter()
    .map(|(label, n)| (label.to_string(), n))
    .collect();
    assert_eq!(counts, expected);
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (before + 1..=before + 61).collect::<Vec<_>>(),
        "no gaps, no position twice"
    );
    assert_eq!(store.log_len().await.unwrap(), before + 61);
    let verified = jit_log::verify_chain(store.log_entries(1, 1000).await.unwrap()).unwrap();
    assert_eq!(verified.entries, before + 61);
    let certificates = store.unexpired_certificates("alice", 1100).await.unwrap();
    assert_eq!(certificates.len(), 41);
    let request = store.access_request("r1", 1002).await.unwrap().unwrap();
    assert_eq!(request.state, RequestState::Used);
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
    // Every migration applied exactly once (the table's key forbids duplicates): the
    // versions are those of the migration files.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut expected: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            entry.unwrap().file_name().to_string_lossy()[..4]
                .parse()
                .unwrap()
        })
        .collect();
    expected.sort_unstable();
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
        // Down, not busy: the pool could open no connection (sqlx says "timed out" either way).
        assert_eq!(
            down.as_ref().err().map(Error::kind),
            Some(jit_store::ErrorKind::Unavailable),
            "{down:?}"
        );
        assert!(
            started.elapsed() < jit_store::postgres::ACQUIRE_TIMEOUT + Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        // The log writer too: each of several writes at once fails within about as long.
        let started = Instant::now();
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..4 {
            let store = store.clone();
            writes.spawn(async move { store.append_log(&user_record(2000 + i, "x")).await });
        }
        for down in writes.join_all().await {
            assert!(down.is_err(), "{down:?}");
        }
        assert!(
            started.elapsed() < jit_store::postgres::ACQUIRE_TIMEOUT + Duration::from_secs(1),
            "log writes took {:?}",
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
    let before = store.log_len().await.unwrap();
    assert_eq!(
        store.append_log(&user_record(3000, "x")).await.unwrap(),
        before + 1
    );
    drop(store);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

/// The two backends' schemas stay equivalent: the same tables with the same columns, and
/// the same indexes that enforce a rule (unique ones). PostgreSQL may have more only where
/// it keeps what SQLite does differently (named below).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sqlite_and_postgresql_schemas_stay_equivalent() {
    use std::collections::BTreeSet;
    // PostgreSQL-only: the ids the TOTP function gives each counted failure (migration 5;
    // SQLite counts an attempt inside one write transaction and needs none).
    const POSTGRES_ONLY: &[&str] = &["totp_failures.id"];
    let dir = tempfile::tempdir().unwrap();
    jit_store::open("sqlite://jit.db", dir.path())
        .await
        .unwrap();
    let sqlite = rusqlite::Connection::open(dir.path().join("jit.db")).unwrap();
    let tables: Vec<String> = sqlite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut sqlite_columns = BTreeSet::new();
    for table in &tables {
        let columns: Vec<String> = sqlite
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for column in columns {
            sqlite_columns.insert(format!("{table}.{column}"));
        }
    }
    let url = database().await;
    PostgresStore::connect(&url).await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let postgres_columns: BTreeSet<String> = rows
        .into_iter()
        .map(|(table, column)| format!("{table}.{column}"))
        .filter(|column| !POSTGRES_ONLY.contains(&column.as_str()))
        .collect();
    let only_sqlite: Vec<_> = sqlite_columns.difference(&postgres_columns).collect();
    let only_postgres: Vec<_> = postgres_columns.difference(&sqlite_columns).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "columns only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
    );
}
