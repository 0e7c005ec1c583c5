//! Group commit for the SQLite log: one writer task takes every log append and issuance
//! that is waiting, writes them in ONE `BEGIN IMMEDIATE` transaction (each inside its own
//! savepoint, so one failure does not spoil the others) and commits once, so a single fsync
//! makes a whole batch durable. No caller is answered before that commit.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::log::{append_in, issue_in, OwnedLinks};
use crate::{Error, IssuanceBuilder, Result};
use jit_log::Record;

/// Most writes in one transaction.
const MAX_BATCH: usize = 128;

/// What a caller wants written.
pub(super) enum Write {
    /// A log record.
    Append(Record),
    /// An issuance (record + certificate row + links), built for its position.
    Issue(IssuanceBuilder, OwnedLinks),
}

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<u64>>,
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Start the writer task for `pool` (ends when every handle is dropped).
    pub(super) fn start(pool: SqlitePool) -> Writer {
        let (jobs, queue) = mpsc::channel(4096);
        tokio::spawn(run(pool, queue));
        Writer { jobs }
    }

    /// Write and wait until the write is durable; returns its log sequence number.
    pub(super) async fn write(&self, write: Write) -> Result<u64> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| Error::Unavailable("the log writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Unavailable("the log writer has stopped".into()))?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        write_batch(&pool, batch).await;
    }
}

async fn write_batch(pool: &SqlitePool, batch: Vec<Job>) {
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(error) => {
            let message = error.to_string();
            for job in batch {
                let _ = job.reply.send(Err(Error::Unavailable(message.clone())));
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        let outcome = one(&mut tx, job.write).await;
        answers.push((job.reply, outcome));
    }
    match tx.commit().await {
        Ok(()) => {
            for (reply, outcome) in answers {
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            // Nothing of this batch is durable: every caller gets an error.
            let message = error.to_string();
            for (reply, _) in answers {
                let _ = reply.send(Err(Error::Unavailable(message.clone())));
            }
        }
    }
}

/// One write inside the batch transaction, in a savepoint undone if the write fails.
async fn one(tx: &mut sqlx::SqliteConnection, write: Write) -> Result<u64> {
    sqlx::query("SAVEPOINT job").execute(&mut *tx).await?;
    let outcome = match write {
        Write::Append(record) => append_in(tx, &record).await,
        Write::Issue(build, links) => issue_in(tx, build, &links).await,
    };
    if outcome.is_err() {
        sqlx::query("ROLLBACK TO SAVEPOINT job")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("RELEASE SAVEPOINT job")
        .execute(&mut *tx)
        .await?;
    outcome
}
