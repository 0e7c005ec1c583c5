//! `jit audit`: an auditor's own check of the issuance log over the API, with nothing but
//! the log's public key to trust: signed checkpoints, every record against the signed
//! Merkle tree head, consistency with a checkpoint kept from an earlier run, and inclusion
//! proofs for single certificates.
//!
//! Entries and proofs need the auditor group; the calls are GETs signed by this device.
//! Checkpoint signatures are checked by [`log_key`], with ed25519-dalek directly: the CLI
//! never links jit-ca (the crate that holds the CA signer), so it checks the same bytes
//! (`"jit-checkpoint-v1\n"` + checkpoint text) itself.

pub mod log_key;

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use jit_log::merkle::{entry_leaf_hash, ConsistencyProof, InclusionProof};
use jit_log::{Entry, Event, SignedCheckpoint};
use jit_proto::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::cli::{AuditArgs, AuditCommand, CheckpointArgs, LogKeyArg, ProveArgs, VerifyArgs};
use crate::clock::rfc3339;
use crate::error::{fail, rehint};
use crate::home::Home;
use crate::session::Session;
pub use log_key::LogKey;

/// Records asked for per `/v1/log/entries` call (the server's maximum).
const PAGE: u64 = 1000;

/// What to do when the log fails a check.
const TAMPER_HINT: &str = "keep the evidence (the kept checkpoint file and this output) and tell \
    your security team: the log or its server may have been tampered with";

/// Run `jit audit ...`.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let session = Session::open(&Home::locate()?)?;
    match args.command {
        AuditCommand::Checkpoint(args) => checkpoint(&session, args).await,
        AuditCommand::Verify(args) => verify(&session, args).await,
        AuditCommand::Prove(args) => prove(&session, args).await,
    }
}

/// The log key (from `--log-key`, else from `GET /v1/log/key`) and the newest checkpoint,
/// its signature verified.
async fn signed_checkpoint(
    session: &Session,
    key: &LogKeyArg,
) -> anyhow::Result<(LogKey, SignedCheckpoint)> {
    let key = match &key.log_key {
        Some(path) => LogKey::read(path)?,
        None => {
            #[derive(Deserialize)]
            struct Served {
                key: String,
            }
            let served: Served = session
                .client()
                .get("/v1/log/key")
                .await
                .context("cannot fetch the log key")?;
            LogKey::parse(&served.key, "the server's /v1/log/key")?
        }
    };
    let signed: SignedCheckpoint = session
        .client()
        .get("/v1/log/checkpoint")
        .await
        .context("cannot fetch the log's checkpoint")?;
    key.verify(&signed)?;
    Ok((key, signed))
}

fn describe(signed: &SignedCheckpoint) -> String {
    let c = &signed.checkpoint;
    format!(
        "{} record(s), tree head {}, signed {}",
        c.tree_size,
        hex::encode(c.root_hash),
        rfc3339(c.timestamp)
    )
}

/// `log key SHA256:... (from FILE)`, or a note that the server served it.
fn key_origin(key: &LogKey, arg: &LogKeyArg) -> String {
    match &arg.log_key {
        Some(path) => format!("log key {} (from {})", key.fingerprint(), path.display()),
        None => format!(
            "log key {} (as the server serves it; pin it with --log-key FILE, from `jitd ca show --log`)",
            key.fingerprint()
        ),
    }
}

/// `jit audit checkpoint`.
async fn checkpoint(session: &Session, args: CheckpointArgs) -> anyhow::Result<()> {
    let (key, signed) = signed_checkpoint(session, &args.key).await?;
    if args.json {
        println!("{}", serde_json::to_string(&signed)?);
        return Ok(());
    }
    println!(
        "checkpoint of {}: {}",
        signed.checkpoint.origin,
        describe(&signed)
    );
    println!("signature verified with {}", key_origin(&key, &args.key));
    Ok(())
}

/// `jit audit verify` as `--json` prints it.
#[derive(Debug, Serialize)]
struct Verified<'a> {
    records: u64,
    head: String,
    root: String,
    checkpoint: &'a SignedCheckpoint,
    kept: Option<&'a SignedCheckpoint>,
    log_key: &'a str,
}

/// `jit audit verify`.
async fn verify(session: &Session, args: VerifyArgs) -> anyhow::Result<()> {
    let (key, signed) = signed_checkpoint(session, &args.key).await?;
    let kept = match &args.keep {
        Some(path) => read_kept(path, &key)?,
        None => None,
    };
    if let Some(kept) = &kept {
        check_consistency(session, kept, &signed).await?;
    }
    let entries = download(session).await?;
    let mut checkpoints: Vec<_> = kept.iter().map(|k| k.checkpoint.clone()).collect();
    checkpoints.push(signed.checkpoint.clone());
    let summary = jit_log::audit(&entries, &checkpoints)
        .map_err(|error| fail(format!("log verification FAILED: {error}"), TAMPER_HINT))?;
    if let Some(path) = &args.keep {
        let json = serde_json::to_string(&signed)? + "\n";
        crate::atomic::write(path, json.as_bytes(), 0o644)?;
    }
    if args.json {
        let result = Verified {
            records: summary.entries,
            head: hex::encode(summary.head),
            root: hex::encode(summary.root),
            checkpoint: &signed,
            kept: kept.as_ref(),
            log_key: key.fingerprint(),
        };
        println!("{}", serde_json::to_string(&result)?);
        return Ok(());
    }
    println!(
        "log verified: {} record(s), chain head {}",
        summary.entries,
        hex::encode(summary.head)
    );
    println!("checkpoint: {}; the records match it", describe(&signed));
    println!("signature verified with {}", key_origin(&key, &args.key));
    if summary.uncovered() > 0 {
        println!(
            "{} record(s) after the checkpoint are protected by the hash chain only until the next checkpoint",
            summary.uncovered()
        );
    }
    match (&args.keep, &kept) {
        (Some(path), Some(kept)) => println!(
            "consistent with the checkpoint kept in {} ({}); kept the new one for next time",
            path.display(),
            describe(kept)
        ),
        (Some(path), None) => println!(
            "kept this checkpoint in {}: the next `jit audit verify --keep {}` checks the log still extends it",
            path.display(),
            path.display()
        ),
        (None, _) => {}
    }
    Ok(())
}

/// The checkpoint kept in `path` by an earlier run (none on the first run), signed by `key`.
fn read_kept(path: &Path, key: &LogKey) -> anyhow::Result<Option<SignedCheckpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let kept: SignedCheckpoint = serde_json::from_str(text.trim()).map_err(|e| {
        fail(
            format!("{} does not hold a signed checkpoint ({e})", path.display()),
            "give the file an earlier `jit audit verify --keep` wrote, or a new path to start over",
        )
    })?;
    key.verify(&kept).map_err(|error| {
        fail(
            format!(
                "the checkpoint kept in {} does not verify with the log key: {error:#}",
                path.display()
            ),
            "the log key changed or the file was edited; compare the key with the one you trust \
             (`jitd ca show --log`) before starting a new file",
        )
    })?;
    Ok(Some(kept))
}

/// The server's consistency proof from `kept` to `newest`, checked.
async fn check_consistency(
    session: &Session,
    kept: &SignedCheckpoint,
    newest: &SignedCheckpoint,
) -> anyhow::Result<()> {
    let (old, new) = (kept.checkpoint.tree_size, newest.checkpoint.tree_size);
    if kept.checkpoint.origin != newest.checkpoint.origin {
        return Err(fail(
            format!(
                "the kept checkpoint is of log {:?}, the server's of {:?}",
                kept.checkpoint.origin, newest.checkpoint.origin
            ),
            "keep one file per log: give --keep a new path for this server, or the right server for this file",
        ));
    }
    if new < old {
        return Err(fail(
            format!(
                "log verification FAILED: the newest checkpoint covers {new} record(s), fewer than the {old} of the kept one (records were removed, or the log was rolled back)"
            ),
            TAMPER_HINT,
        ));
    }
    let proof: ConsistencyProof = session
        .get(&format!(
            "/v1/log/proof/consistency?first={old}&second={new}"
        ))
        .await
        .context("cannot fetch a consistency proof")?;
    kept.checkpoint
        .verify_consistency(&newest.checkpoint, &proof)
        .map_err(|error| {
            fail(
                format!(
                    "log verification FAILED: the newest checkpoint does not extend the kept one ({error}): history was rewritten"
                ),
                TAMPER_HINT,
            )
        })
}

/// Every entry, a page at a time, with a progress line on a terminal.
async fn download(session: &Session) -> anyhow::Result<Vec<Entry>> {
    let progress = std::io::stderr().is_terminal();
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let start = entries.len() as u64 + 1;
        let page: Vec<Entry> = session
            .get(&format!(
                "/v1/log/entries?start={start}&end={}",
                start + PAGE - 1
            ))
            .await
            .context("cannot download the log's records")?;
        if page.is_empty() {
            break;
        }
        entries.extend(page);
        if progress {
            eprint!("\rdownloaded {} record(s)", entries.len());
        }
    }
    if progress {
        eprintln!();
    }
    Ok(entries)
}

/// `/v1/log/proof/inclusion`'s answer.
#[derive(Debug, Serialize, Deserialize)]
struct Inclusion {
    entry: Entry,
    proof: InclusionProof,
}

/// `jit audit prove`.
async fn prove(session: &Session, args: ProveArgs) -> anyhow::Result<()> {
    let (key, signed) = signed_checkpoint(session, &args.key).await?;
    let size = signed.checkpoint.tree_size;
    let answer: Inclusion = session
        .get(&format!(
            "/v1/log/proof/inclusion?serial={}&tree_size={size}",
            args.serial
        ))
        .await
        .map_err(|e| {
            let e = rehint(
                e,
                ErrorCode::BadRequest,
                "the issuance is newer than the newest checkpoint: try again after the next one (jitd signs one every minute)",
            );
            rehint(
                e,
                ErrorCode::NotFound,
                "check the serial (`jit status`, sshd's `(serial N)`); a certificate with no issuance record was not issued through this log",
            )
        })
        .with_context(|| format!("cannot get an inclusion proof for serial {}", args.serial))?;
    let record = answer.entry.record().map_err(|e| {
        fail(
            format!("the server sent a record jit cannot read: {e}"),
            TAMPER_HINT,
        )
    })?;
    let issued = match &record.event {
        Event::Issued(issued) if issued.serial == args.serial => issued,
        _ => {
            return Err(fail(
                format!(
                    "the server answered with record {}, which is not the issuance of serial {}",
                    answer.entry.seq, args.serial
                ),
                TAMPER_HINT,
            ))
        }
    };
    if answer.entry.seq != answer.proof.index + 1 {
        return Err(fail(
            format!(
                "the server sent record {} with a proof for leaf {} (record {})",
                answer.entry.seq,
                answer.proof.index,
                answer.proof.index + 1
            ),
            TAMPER_HINT,
        ));
    }
    signed
        .checkpoint
        .verify_inclusion(&entry_leaf_hash(&answer.entry), &answer.proof)
        .map_err(|error| fail(format!("inclusion proof FAILED: {error}"), TAMPER_HINT))?;
    if args.json {
        let json = serde_json::json!({
            "record": record,
            "seq": answer.entry.seq,
            "proof": answer.proof,
            "checkpoint": signed,
        });
        println!("{json}");
        return Ok(());
    }
    println!(
        "serial {} is record {} of the log: {} as {} ({}), valid {} to {}",
        args.serial,
        answer.entry.seq,
        issued.user,
        issued.role,
        issued.principals.join(","),
        rfc3339(issued.valid_after),
        rfc3339(issued.valid_before)
    );
    println!(
        "inclusion proof verified against the checkpoint of {}",
        describe(&signed)
    );
    println!("signature verified with {}", key_origin(&key, &args.key));
    Ok(())
}
