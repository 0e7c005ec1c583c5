//! Connections kept checked out of the pool for the statements of every issuance request
//! (device, user, nonce, TOTP), so each is one round trip: sqlx tests a connection with a
//! round trip of its own each time one returns to the pool, which doubled the traffic.
//!
//! A connection goes back on the shelf only after its statement completed or failed on the
//! server (the connection is then in a known state); after any other error, or if the
//! caller's future is dropped mid-statement, it goes back to the pool, which tests it and
//! closes it if broken. One that sat on the shelf longer than [`TEST_WHEN_IDLE_FOR`] is
//! tested before use, so connections cut by a database restart are replaced, not used.
//!
//! At most [`LANES`] are out at once (callers queue for them in turn, giving up after
//! [`ACQUIRE_TIMEOUT`]), so the rest of the pool stays for everything else.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, PgConnection, PgPool, Postgres};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{ACQUIRE_TIMEOUT, TEST_WHEN_IDLE_FOR};
use crate::Result;

/// Most connections the issuance path uses at once (the pool has a few more).
const LANES: usize = 12;

/// The shelf of checked-out connections.
#[derive(Debug)]
pub(super) struct Lanes {
    pool: PgPool,
    shelf: Mutex<Vec<(PoolConnection<Postgres>, Instant)>>,
    turns: Semaphore,
}

/// A connection taken from the lanes; [`Lanes::give_back`] it after its statement.
pub(super) struct Lane<'a> {
    conn: PoolConnection<Postgres>,
    _turn: SemaphorePermit<'a>,
}

impl std::ops::Deref for Lane<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Lane<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Lanes {
    pub(super) fn new(pool: PgPool) -> Lanes {
        Lanes {
            pool,
            shelf: Mutex::new(Vec::with_capacity(LANES)),
            turns: Semaphore::new(LANES),
        }
    }

    /// A connection: the one given back last, else a fresh one from the pool.
    pub(super) async fn take(&self) -> Result<Lane<'_>> {
        let taken = tokio::time::timeout(ACQUIRE_TIMEOUT, self.take_in_turn())
            .await
            .unwrap_or(Err(crate::Error::Database(sqlx::Error::PoolTimedOut)));
        taken.map_err(|error| match error {
            crate::Error::Database(error) => super::pool_error(&self.pool, error),
            other => other,
        })
    }

    async fn take_in_turn(&self) -> Result<Lane<'_>> {
        let turn = self
            .turns
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let top = self
                .shelf
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some((mut conn, since)) = top else {
                let conn = self.pool.acquire().await?;
                return Ok(Lane { conn, _turn: turn });
            };
            if since.elapsed() <= TEST_WHEN_IDLE_FOR || conn.ping().await.is_ok() {
                return Ok(Lane { conn, _turn: turn });
            }
            // broken: dropping it hands it to the pool, which closes it
        }
    }

    /// Put `lane` back after a statement that came to `outcome`.
    pub(super) fn give_back<T>(
        &self,
        lane: Lane<'_>,
        outcome: &std::result::Result<T, sqlx::Error>,
    ) {
        if matches!(outcome, Ok(_) | Err(sqlx::Error::Database(_))) {
            self.shelf
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((lane.conn, Instant::now()));
        }
    }
}
