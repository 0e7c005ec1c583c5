//! The CA keys in force live in the store, next to the log that records each change to
//! them: a rotation or a retirement commits with its record, and every jitd sharing the
//! store sees it. The key material stays in its files under the data directory.
//!
//! A data directory from before keeps its keys in `jitd.toml` (`user_ca_key`,
//! `user_ca_previous`...): the first start adopts them into the store, once, with an
//! `adopted` record each; after that `jitd.toml`'s entries are not read again.

use std::path::{Path, PathBuf};

use jit_ca::custody::Passphrase;
use jit_ca::signer::Ed25519Signer;
use jit_ca::PublicKey;
use jit_log::{CaChange, Event, Operator, Record};
use jit_store::{CaKey, CaKeyState, CaKind, Change, Store};

use crate::config::Config;

/// Errors of the CA key set (admin commands print them; `serve` refuses to start).
#[derive(Debug, thiserror::Error)]
pub enum CaKeysError {
    /// The store failed or refused the change.
    #[error(transparent)]
    Store(#[from] jit_store::Error),
    /// A key file could not be read, written or decrypted.
    #[error("CA key file {file}: {source}")]
    File {
        /// The file.
        file: PathBuf,
        /// Why.
        source: jit_ca::Error,
    },
    /// A stored public key does not parse.
    #[error("the stored public key of CA key {0} is not an OpenSSH public key")]
    BadPublicKey(String),
    /// The store has no active key of a kind.
    #[error("no active {0} CA key is recorded; run `jitd ca rotate --{0}` to make one")]
    NoActiveKey(&'static str),
}

/// The CA keys loaded for signing and publishing.
pub struct Loaded {
    /// Signs user certificates.
    pub user_ca: Ed25519Signer,
    /// Signs host certificates.
    pub host_ca: Ed25519Signer,
    /// Earlier user CA keys, still trusted.
    pub user_previous: Vec<PublicKey>,
    /// Earlier host CA keys, still published.
    pub host_previous: Vec<PublicKey>,
}

/// The record of a change to a CA key.
pub fn record(
    key: &CaKey,
    action: &str,
    operator: Option<Operator>,
    policy_hash: &str,
    now: u64,
) -> Record {
    Record {
        time: now,
        policy_hash: policy_hash.to_string(),
        event: Event::Ca(CaChange {
            ca: key.kind.as_str().into(),
            action: action.into(),
            fingerprint: key.fingerprint.clone(),
            public_key: key.public_key.clone(),
            operator,
        }),
    }
}

/// A key row for `public`, kept in `file` (relative to the data directory).
pub fn key_row(
    public: &PublicKey,
    file: &Path,
    kind: CaKind,
    state: CaKeyState,
    now: u64,
) -> Result<CaKey, CaKeysError> {
    Ok(CaKey {
        fingerprint: jit_ca::device::fingerprint(public),
        kind,
        file: file.display().to_string(),
        public_key: public
            .to_openssh()
            .map_err(|_| CaKeysError::BadPublicKey(file.display().to_string()))?,
        state,
        added_at: now,
        retired_at: None,
    })
}

/// A key row for the key file `file` (relative to `data_dir`), read without the passphrase.
fn key_of_file(
    data_dir: &Path,
    file: &Path,
    kind: CaKind,
    state: CaKeyState,
    now: u64,
) -> Result<CaKey, CaKeysError> {
    let path = data_dir.join(file);
    let public =
        jit_ca::custody::public_key_of_file(&path).map_err(|source| CaKeysError::File {
            file: path.clone(),
            source,
        })?;
    key_row(&public, file, kind, state, now)
}

/// Adopt `jitd.toml`'s CA keys into the store, once: only when the store knows no CA key
/// yet (another replica adopting at the same moment is no error).
pub async fn adopt(
    store: &dyn Store,
    data_dir: &Path,
    config: &Config,
    policy_hash: &str,
    now: u64,
) -> Result<(), CaKeysError> {
    if !store.ca_keys().await?.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::new();
    for (kind, active, previous) in [
        (CaKind::User, &config.user_ca_key, &config.user_ca_previous),
        (CaKind::Host, &config.host_ca_key, &config.host_ca_previous),
    ] {
        // Earlier keys first, the active one last (adding an active key demotes none then).
        for file in previous.iter().rev() {
            keys.push(key_of_file(
                data_dir,
                file,
                kind,
                CaKeyState::Previous,
                now,
            )?);
        }
        keys.push(key_of_file(
            data_dir,
            active,
            kind,
            CaKeyState::Active,
            now,
        )?);
    }
    for key in keys {
        let record = record(&key, "adopted", None, policy_hash, now);
        let change = Change::AddCaKey { key };
        match store
            .commit(change, jit_store::ledger::record(record))
            .await
        {
            Ok(_) | Err(jit_store::Error::AlreadyExists(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Load the active keys (with `passphrase`) and the earlier public keys, as the store
/// lists them.
pub async fn load(
    store: &dyn Store,
    data_dir: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<Loaded, CaKeysError> {
    let keys = store.ca_keys().await?;
    let active = |kind: CaKind| -> Result<Ed25519Signer, CaKeysError> {
        let key = keys
            .iter()
            .find(|k| k.kind == kind && k.state == CaKeyState::Active)
            .ok_or(CaKeysError::NoActiveKey(kind.as_str()))?;
        let path = data_dir.join(&key.file);
        jit_ca::custody::load_key_file(&path, passphrase)
            .map_err(|source| CaKeysError::File { file: path, source })
    };
    let previous = |kind: CaKind| -> Result<Vec<PublicKey>, CaKeysError> {
        keys.iter()
            .filter(|k| k.kind == kind && k.state == CaKeyState::Previous)
            .map(|k| {
                jit_ca::device::parse_public_key(&k.public_key)
                    .map_err(|_| CaKeysError::BadPublicKey(k.fingerprint.clone()))
            })
            .collect()
    };
    Ok(Loaded {
        user_ca: active(CaKind::User)?,
        host_ca: active(CaKind::Host)?,
        user_previous: previous(CaKind::User)?,
        host_previous: previous(CaKind::Host)?,
    })
}
