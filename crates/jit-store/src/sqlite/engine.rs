//! The threads that talk to SQLite, so the async runtime never blocks on the database:
//! ONE writer thread group-commits every write that is waiting (one `BEGIN IMMEDIATE`
//! transaction per batch, each write in its own savepoint so one failure does not spoil the
//! others, one fsync per batch, no caller answered before the commit), and a few reader
//! threads answer reads from WAL snapshots. A caller hands a whole operation (a closure
//! over the connection) to a thread once; its statements then run without further
//! hand-offs, from cached prepared statements.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::{Error, Result};

/// Most writes in one transaction.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer thread at most (callers wait for room beyond that).
const QUEUE_DEPTH: usize = 4096;
/// Threads answering reads.
const READERS: usize = 2;
/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 128;

/// After the batch: `None` when it committed, else why it did not.
type Finish = Box<dyn FnOnce(Option<&str>) + Send>;
/// A write: runs on the writer's connection inside its savepoint (or learns that the batch
/// could not start) and returns how to answer its caller once the batch has ended.
type WriteJob = Box<dyn FnOnce(std::result::Result<&Connection, &str>) -> Finish + Send>;
/// A read: runs on a reader's connection and answers its caller itself.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Open a connection with the settings every connection of the store uses.
pub(super) fn connect(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = match read_only {
        true => OpenFlags::SQLITE_OPEN_READ_ONLY,
        false => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if !read_only {
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Unavailable(format!(
                "SQLite would not switch {} to WAL mode (it is in {mode} mode)",
                path.display()
            )));
        }
    }
    // FULL: a commit is on disk (WAL fsynced) before anyone is told it happened.
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(connection)
}

/// Handles to the writer and reader threads (they end when the last handle is dropped).
#[derive(Debug, Clone)]
pub(super) struct Engine {
    writes: mpsc::Sender<WriteJob>,
    reads: std::sync::mpsc::Sender<ReadJob>,
}

fn stopped() -> Error {
    Error::Unavailable("the SQLite store has stopped".into())
}

impl Engine {
    /// Start the writer on `writer` (schema already migrated) and the readers on fresh
    /// read-only connections to `path`.
    pub(super) fn start(path: &Path, writer: Connection) -> Result<Engine> {
        let (writes, queue) = mpsc::channel(QUEUE_DEPTH);
        spawn("jit-sqlite-writer", move || write_loop(&writer, queue))?;
        let (reads, read_queue) = std::sync::mpsc::channel::<ReadJob>();
        let read_queue = Arc::new(Mutex::new(read_queue));
        for n in 0..READERS {
            let connection = connect(path, true)?;
            let queue = read_queue.clone();
            spawn(&format!("jit-sqlite-reader-{n}"), move || {
                read_loop(&connection, &queue)
            })?;
        }
        Ok(Engine { writes, reads })
    }

    /// Run `operation` in the next write batch and wait until that batch is durable.
    pub(super) async fn write<T, F>(&self, operation: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |connection| {
            let outcome = match connection {
                Ok(connection) => in_savepoint(connection, operation),
                Err(why) => Err(Error::Unavailable(why.to_string())),
            };
            Box::new(move |failed_commit: Option<&str>| {
                let answer = match failed_commit {
                    None => outcome,
                    Some(why) => Err(Error::Unavailable(why.to_string())),
                };
                let _ = reply.send(answer);
            })
        });
        self.writes.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Run `operation` on a reader connection.
    pub(super) async fn read<T, F>(&self, operation: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |connection| {
            let _ = reply.send(operation(connection));
        });
        self.reads.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(body)
        .map(drop)
        .map_err(|e| Error::Unavailable(format!("cannot start the SQLite thread {name}: {e}")))
}

/// `operation` inside a savepoint that is undone if it fails. A panicking operation fails
/// alone (its savepoint undone) instead of taking the writer thread, and with it every
/// later write, down.
fn in_savepoint<T>(
    connection: &Connection,
    operation: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    connection.execute_batch("SAVEPOINT job")?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| operation(connection)))
        .unwrap_or_else(|_| {
            Err(Error::Unavailable(
                "a database write failed unexpectedly".into(),
            ))
        });
    if outcome.is_err() {
        connection.execute_batch("ROLLBACK TO SAVEPOINT job")?;
    }
    connection.execute_batch("RELEASE SAVEPOINT job")?;
    outcome
}

fn write_loop(connection: &Connection, mut queue: mpsc::Receiver<WriteJob>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        write_batch(connection, batch);
    }
}

fn write_batch(connection: &Connection, batch: Vec<WriteJob>) {
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        let why = error.to_string();
        for job in batch {
            job(Err(&why))(Some(&why));
        }
        return;
    }
    let finishes: Vec<Finish> = batch.into_iter().map(|job| job(Ok(connection))).collect();
    match connection.execute_batch("COMMIT") {
        Ok(()) => finishes.into_iter().for_each(|finish| finish(None)),
        Err(error) => {
            // Nothing of this batch is durable: every caller gets an error.
            let why = error.to_string();
            let _ = connection.execute_batch("ROLLBACK");
            finishes.into_iter().for_each(|finish| finish(Some(&why)));
        }
    }
}

fn read_loop(connection: &Connection, queue: &Mutex<std::sync::mpsc::Receiver<ReadJob>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            // A panicking read drops its reply (its caller gets an error); the thread goes on.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(connection)));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(dir: &Path) -> Engine {
        let path = dir.join("engine.db");
        let writer = connect(&path, false).unwrap();
        writer
            .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        Engine::start(&path, writer).unwrap()
    }

    fn insert(n: i64) -> impl FnOnce(&Connection) -> Result<()> + Send + 'static {
        move |c| Ok(c.execute("INSERT INTO t (n) VALUES (?)", [n]).map(drop)?)
    }

    fn count(c: &Connection) -> Result<i64> {
        Ok(c.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))?)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_write_fails_alone_and_the_writer_keeps_going() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        engine.write(insert(1)).await.unwrap();
        fn buggy(c: &Connection) -> Result<()> {
            c.execute("INSERT INTO t (n) VALUES (2)", [])?;
            panic!("a bug in a write");
        }
        let panicked = engine.write(buggy).await;
        assert!(
            matches!(panicked, Err(Error::Unavailable(_))),
            "{panicked:?}"
        );
        engine.write(insert(3)).await.unwrap();
        assert_eq!(engine.read(count).await.unwrap(), 2, "row 2 was undone");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_failures_stay_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        // Every key twice: the second insert of each fails on the primary key, alone.
        let writes: Vec<_> = (0..200i64)
            .map(|i| {
                tokio::spawn({
                    let engine = engine.clone();
                    async move { engine.write(insert(i % 100)).await }
                })
            })
            .collect();
        let mut failed = 0;
        for write in writes {
            failed += usize::from(write.await.unwrap().is_err());
        }
        assert_eq!(failed, 100);
        assert_eq!(engine.read(count).await.unwrap(), 100);
    }
}
