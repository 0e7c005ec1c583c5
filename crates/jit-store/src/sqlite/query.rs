//! Small helpers over rusqlite for the SQLite store: run a cached prepared statement and
//! turn its rows into model values with the shared converters of `stored`.

use rusqlite::{Connection, Params, Row};

use crate::{rules, Error, Result};

/// Execute a statement; returns the number of rows it changed.
pub(super) fn execute(connection: &Connection, sql: &str, params: impl Params) -> Result<usize> {
    Ok(connection.prepare_cached(sql)?.execute(params)?)
}

/// Execute an insert; a unique-constraint violation becomes `exists()` (the thing exists).
pub(super) fn insert_new(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    exists: impl FnOnce() -> Error,
) -> Result<usize> {
    connection
        .prepare_cached(sql)?
        .execute(params)
        .map_err(|e| rules::on_unique(e, exists))
}

/// The first row of a query, converted, if there is one.
pub(super) fn first<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    convert: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(convert(row)?)),
        None => Ok(None),
    }
}

/// Every row of a query, converted.
pub(super) fn all<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    mut convert: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(convert(row)?);
    }
    Ok(out)
}

/// The first column of a row, for single-value queries.
pub(super) fn column<T: rusqlite::types::FromSql>(row: &Row<'_>) -> Result<T> {
    Ok(row.get(0)?)
}
