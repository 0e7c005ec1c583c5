//! Connections kept checked out of the pool for the statements of every issuance request
//! (device, user, nonce, TOTP), so each is one round trip: sqlx tests a connection with a
//! round trip of its own each time one returns to the pool, which doubled the traffic.
//!
//! A connection goes back on the shelf only after its statement completed or failed on the
//! server (the connection is then in a known state); after any other error, or if the
//! caller's future is dropped mid-statement, it goes back to the pool, which tests it and
//! closes it if broken. One that sat on the shelf longer than [`TEST_WHEN_IDLE_FOR`] is
//! tested before use, so connections cut by a database restart are replaced, not used.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, PgPool, Postgres};

use super::TEST_WHEN_IDLE_FOR;
use crate::Result;

/// Most connections on the shelf; the rest of the pool stays for everything else.
const SHELF: usize = 12;

/// The shelf of checked-out connections.
#[derive(Debug)]
pub(super) struct Lanes {
    pool: PgPool,
    shelf: Mutex<Vec<(PoolConnection<Postgres>, Instant)>>,
}

impl Lanes {
    pub(super) fn new(pool: PgPool) -> Lanes {
        Lanes {
            pool,
            shelf: Mutex::new(Vec::with_capacity(SHELF)),
        }
    }

    /// A connection: the one used last, else a fresh one from the pool.
    pub(super) async fn take(&self) -> Result<PoolConnection<Postgres>> {
        loop {
            let top = self
                .shelf
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some((mut conn, since)) = top else {
                return Ok(self.pool.acquire().await?);
            };
            if since.elapsed() <= TEST_WHEN_IDLE_FOR || conn.ping().await.is_ok() {
                return Ok(conn);
            }
            // broken: dropping it hands it to the pool, which closes it
        }
    }

    /// Put `conn` back after a statement that came to `outcome`.
    pub(super) fn give_back<T>(
        &self,
        conn: PoolConnection<Postgres>,
        outcome: &std::result::Result<T, sqlx::Error>,
    ) {
        if matches!(outcome, Ok(_) | Err(sqlx::Error::Database(_))) {
            let mut shelf = self.shelf.lock().unwrap_or_else(PoisonError::into_inner);
            if shelf.len() < SHELF {
                shelf.push((conn, Instant::now()));
            }
        }
    }
}
