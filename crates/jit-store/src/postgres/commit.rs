//! Group commit for the PostgreSQL log, the counterpart of SQLite's: one writer task per
//! jitd takes every ledger change (with its record) and issuance that is waiting and writes them in ONE
//! transaction that locks the chain head once (replicas' writers take turns on that lock),
//! keeps it in memory and writes it back once, then commits. No caller is answered before
//! that commit; if it fails, every caller of the batch gets an error.
//!
//! The writer keeps one connection of its own, taken from the pool and detached from it
//! (so it is never returned mid-transaction, and dropping it rolls back). When the database
//! goes away the first statement of a batch fails: the writer then tries once more on a
//! fresh connection, which fails within the pool's acquire timeout while the database is
//! down, answers every caller waiting by then, and starts afresh with the next write.

use sqlx::{PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};

use super::ledger::{commit_in, Written};
use super::log::{issue_in, Head};
use crate::ledger::{Applied, Change, Committed, Failpoint, RecordFor};
use crate::model::OwnedLinks;
use crate::{Error, IssuanceBuilder, Result};

/// Most writes in one transaction (each linked issuance opens a subtransaction, and
/// PostgreSQL caches only 64 of them per transaction cheaply).
const MAX_BATCH: usize = 64;

/// Fresh connections a batch tries before it gives up.
const FRESH_TRIES: u32 = 3;

/// What a caller wants written.
pub(super) enum Write {
    /// An issuance (record + certificate row + links), built for its position.
    Issue(IssuanceBuilder, OwnedLinks),
    /// A state change and its record (the ledger).
    Change(Change, RecordFor),
}

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<Committed>>,
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
    failpoint: std::sync::Arc<Failpoint>,
}

impl Writer {
    /// Start the writer task on `pool` (ends when every handle is dropped).
    pub(super) fn start(pool: PgPool) -> Writer {
        let (jobs, queue) = mpsc::channel(4096);
        let failpoint = std::sync::Arc::<Failpoint>::default();
        tokio::spawn(run(pool, queue, failpoint.clone()));
        Writer { jobs, failpoint }
    }

    /// The fault the ledger's tests arm.
    pub(super) fn failpoint(&self) -> &Failpoint {
        &self.failpoint
    }

    /// Write and wait until the write is committed; returns what it came to and its log
    /// sequence number.
    pub(super) async fn write(&self, write: Write) -> Result<Committed> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> Error {
    Error::Unavailable("the log writer has stopped".into())
}

async fn run(pool: PgPool, mut queue: mpsc::Receiver<Job>, failpoint: std::sync::Arc<Failpoint>) {
    let mut conn: Option<PgConnection> = None;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let head = match begin(&pool, &mut conn).await {
            Ok(head) => head,
            Err(error) => {
                // The database is unreachable (or no connection came free in time: then
                // each caller hears it was busy): nobody waiting now would fare better.
                while let Ok(job) = queue.try_recv() {
                    batch.push(job);
                }
                for job in batch {
                    let _ = job.reply.send(Err(error.for_each_caller()));
                }
                continue;
            }
        };
        let Some(kept) = conn.as_mut() else { continue };
        if !write_batch(kept, head, batch, &failpoint).await {
            conn = None;
        }
    }
}

/// Open the batch transaction, locking the head: on the kept connection, else (or if that
/// fails, e.g. it was cut by a database restart) on a fresh one. Nothing is written yet, so
/// trying again is safe.
async fn begin(pool: &PgPool, conn: &mut Option<PgConnection>) -> Result<Head> {
    if let Some(kept) = conn.as_mut() {
        match Head::lock(kept).await {
            Ok(head) => return Ok(head),
            Err(error) => tracing::info!(%error, "log writer connection lost; reconnecting"),
        }
    }
    *conn = None;
    let mut tries = FRESH_TRIES;
    loop {
        // An idle pooled connection can be cut as well: the next one then is newer.
        let acquired = pool
            .acquire()
            .await
            .map_err(|e| super::pool_error(pool, e))?;
        let fresh = conn.insert(acquired.detach());
        match Head::lock(fresh).await {
            Ok(head) => return Ok(head),
            Err(Error::Database(sqlx::Error::Database(error))) => {
                *conn = None;
                return Err(Error::Database(sqlx::Error::Database(error)));
            }
            Err(error) if tries == 1 => {
                *conn = None;
                return Err(error);
            }
            Err(_) => {
                *conn = None;
                tries -= 1;
            }
        }
    }
}

/// Write every job of the batch and commit; answer each caller. Returns whether the
/// connection is still usable.
async fn write_batch(
    conn: &mut PgConnection,
    mut head: Head,
    batch: Vec<Job>,
    failpoint: &Failpoint,
) -> bool {
    let mut answers = Vec::with_capacity(batch.len());
    // The write that spoiled the batch (its position in `answers`) and why.
    let mut spoiled = None;
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        let written: Written = match job.write {
            Write::Issue(build, links) => logged(issue_in(conn, &mut head, build, &links).await),
            Write::Change(change, record) => {
                commit_in(conn, &mut head, &change, record, failpoint).await
            }
        };
        match written {
            Ok(outcome) => answers.push((job.reply, outcome)),
            Err(error) => {
                spoiled = Some((answers.len(), error));
                answers.push((job.reply, Err(Error::Unavailable(String::new()))));
                break;
            }
        }
    }
    // Jobs not tried after the batch was spoiled: their builders are dropped unused.
    answers.extend(jobs.map(|job| (job.reply, Err(Error::Unavailable(String::new())))));
    let (committed, culprit) = match spoiled {
        Some((at, error)) => (Err(error), Some(at)),
        None => (
            match head.store(conn).await {
                Ok(()) => sqlx::raw_sql("COMMIT")
                    .execute(&mut *conn)
                    .await
                    .map(drop)
                    .map_err(Error::from),
                Err(error) => Err(error),
            },
            None,
        ),
    };
    match committed {
        Ok(()) => {
            for (reply, outcome) in answers {
                let _ = reply.send(outcome);
            }
            true
        }
        Err(error) => {
            // Nothing of this batch is durable: every caller gets an error, the one whose
            // write failed its own (a corrupt value stays corrupt), the others its meaning.
            tracing::warn!(%error, "log batch failed; rolled back");
            let shared = error.for_each_caller();
            let mut own = Some(error);
            for (at, (reply, _)) in answers.into_iter().enumerate() {
                let answer = match (Some(at) == culprit).then(|| own.take()).flatten() {
                    Some(error) => error,
                    None => shared.for_each_caller(),
                };
                let _ = reply.send(Err(answer));
            }
            sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_ok()
        }
    }
}

/// An issuance's outcome as the ledger's.
fn logged(written: super::log::Written) -> Written {
    written.map(|outcome| {
        outcome.map(|seq| Committed {
            applied: Applied::Done,
            seq,
        })
    })
}
