//! The ledger checker: walks a store's whole log and its whole state and fails, naming each
//! mismatch, unless they agree exactly in both directions (DESIGN §5: no state without its
//! record, no record without its state). Run it on a data directory or database after a
//! crash: a transaction that committed half would show here.
//!
//! What must agree:
//! - the log verifies as one chain and `log_len` counts its entries;
//! - certificates: each row has exactly one `issued` record with its serial (same user,
//!   role, key ID, validity, CA, and the row's `log_seq` is that record), and vice versa;
//! - access requests: each row has its `requested` record (same requester, role, reason,
//!   ticket, TTL, approvals needed), its decisions are the `decided` records one to one in
//!   order (approver, approve, reason), and its state is the last decision's (or `used`,
//!   exactly when an `issued` record used it, with that serial); and vice versa;
//! - revocations: each row is named by a `revoked` record (or a `user disabled` record's
//!   serials): the first such record has the row's reason, revoker and time, and a serial
//!   row has its certificate's CA and end of validity; every serial or key a record names
//!   has its row;
//! - users: a user exists exactly when an `added` record exists, with the groups and the
//!   `disabled` flag of their last record;
//! - devices: each device has its `registered` record (same user), and is confirmed exactly
//!   when an `enrolled` record names it; and vice versa;
//! - nobody acts while disabled: no `issued`, `requested` or `decided` record of a user
//!   comes after that user's `disabled` record (without an `enabled` in between), and a
//!   `disabled` record leaves none of the user's certificates valid then unrevoked.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jit_log::{DecisionRecord, Event, Issuance, Record, RequestRecord};
use jit_store::{RequestState, Revoked, Store};

/// What the log says, once it agreed with the state (for callers that check what clients
/// were told against it).
#[derive(Debug, Default)]
pub struct Ledger {
    /// Number of log entries.
    pub entries: u64,
    /// Issued certificates: serial -> sequence number of the `issued` record.
    pub issued: BTreeMap<u64, u64>,
    /// Access requests: ID -> their decisions in order (approver, approve).
    pub requests: BTreeMap<String, Vec<(String, bool)>>,
    /// Every revoked serial.
    pub revoked: BTreeSet<u64>,
    /// Users and whether each is disabled now.
    pub users: BTreeMap<String, bool>,
}

/// The first record that named a revocation: what its row must carry.
struct Claim {
    seq: u64,
    time: u64,
    reason: String,
    by: String,
}

#[derive(Default)]
struct UserLog {
    groups: Vec<String>,
    disabled: Option<u64>,
}

struct RequestLog {
    record: RequestRecord,
    decisions: Vec<DecisionRecord>,
    used_by: Option<u64>,
}

/// The log folded into what the state should be; `problems` collects what cannot be so.
#[derive(Default)]
struct Expected {
    issued: BTreeMap<u64, (u64, Issuance)>,
    requests: BTreeMap<String, RequestLog>,
    serial_claims: BTreeMap<u64, Claim>,
    key_claims: BTreeMap<String, Claim>,
    users: BTreeMap<String, UserLog>,
    /// Each user's certificates so far: (serial, valid_before).
    certificates_of: BTreeMap<String, Vec<(u64, u64)>>,
    registered: BTreeMap<String, String>,
    enrolled: BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Expected {
    /// `user` acted (record `seq`, `what`): they must exist and be enabled at that point.
    fn acting(&mut self, seq: u64, user: &str, what: &str) {
        match self.users.get(user).map(|u| u.disabled) {
            None => self.problems.push(format!(
                "log record {seq} ({what}) names user {user}, who was never added before it"
            )),
            Some(Some(disabled)) => self.problems.push(format!(
                "log record {seq} ({what}) is by user {user}, disabled since record {disabled}"
            )),
            Some(None) => {}
        }
    }

    /// A device record (`registered` or `confirmed`, into `devices`): once per device each.
    fn device(
        devices: &mut BTreeMap<String, String>,
        problems: &mut Vec<String>,
        seq: u64,
        enrollment: jit_log::Enrollment,
        what: &str,
    ) {
        if let Some(user) = devices.insert(enrollment.device.clone(), enrollment.user) {
            problems.push(format!(
                "device {} is {what} twice in the log (for {user}, again at record {seq})",
                enrollment.device
            ));
        }
    }

    /// Disabling `user` (record `seq` at `time`) revokes each of their certificates still
    /// valid then (DESIGN §4), with this record or before it.
    fn disabled_leaves_nothing_valid(&mut self, seq: u64, time: u64, user: &str) {
        for (serial, valid_before) in self.certificates_of.get(user).into_iter().flatten() {
            if *valid_before > time && !self.serial_claims.contains_key(serial) {
                self.problems.push(format!(
                    "log record {seq} disables user {user}, but their certificate {serial} (valid until {valid_before}) is not revoked with it or before it"
                ));
            }
        }
    }

    fn add(&mut self, seq: u64, record: Record) {
        let time = record.time;
        match record.event {
            Event::Issued(issuance) => {
                self.acting(seq, &issuance.user, "issued");
                if let Some(id) = &issuance.request_id {
                    match self.requests.get_mut(id) {
                        Some(request) if request.used_by.is_none() => {
                            request.used_by = Some(issuance.serial)
                        }
                        Some(request) => self.problems.push(format!(
                            "log record {seq} issues serial {} under request {id}, already used by serial {}",
                            issuance.serial,
                            request.used_by.unwrap_or_default()
                        )),
                        None => self.problems.push(format!(
                            "log record {seq} issues serial {} under request {id}, which no earlier record requested",
                            issuance.serial
                        )),
                    }
                }
                self.certificates_of
                    .entry(issuance.user.clone())
                    .or_default()
                    .push((issuance.serial, issuance.valid_before));
                if let Some((first, _)) = self.issued.get(&issuance.serial) {
                    self.problems.push(format!(
                        "serial {} is issued twice in the log: records {first} and {seq}",
                        issuance.serial
                    ));
                } else {
                    self.issued.insert(issuance.serial, (seq, *issuance));
                }
            }
            Event::Requested(request) => {
                self.acting(seq, &request.requester, "requested");
                if self.requests.contains_key(&request.request_id) {
                    self.problems.push(format!(
                        "request {} is requested twice in the log (again at record {seq})",
                        request.request_id
                    ));
                    return;
                }
                let id = request.request_id.clone();
                self.requests.insert(
                    id,
                    RequestLog {
                        record: request,
                        decisions: Vec::new(),
                        used_by: None,
                    },
                );
            }
            Event::Decided(decision) => {
                self.acting(seq, &decision.approver, "decided");
                match self.requests.get_mut(&decision.request_id) {
                    Some(request) => request.decisions.push(decision),
                    None => self.problems.push(format!(
                        "log record {seq} decides request {}, which no earlier record requested",
                        decision.request_id
                    )),
                }
            }
            Event::Revoked(revoked) => {
                let claim = || Claim {
                    seq,
                    time,
                    reason: revoked.reason.clone(),
                    by: revoked.revoked_by.clone(),
                };
                if revoked.kind == "key" {
                    self.key_claims
                        .entry(revoked.target.clone())
                        .or_insert_with(claim);
                }
                for serial in &revoked.serials {
                    self.serial_claims.entry(*serial).or_insert_with(claim);
                }
            }
            Event::User(change) => {
                let known = self.users.contains_key(&change.user);
                match (change.action.as_str(), known) {
                    ("added", false) => {}
                    ("added", true) => self.problems.push(format!(
                        "log record {seq} adds user {}, added before",
                        change.user
                    )),
                    (action, false) => self.problems.push(format!(
                        "log record {seq} ({action}) names user {}, who was never added before it",
                        change.user
                    )),
                    _ => {}
                }
                let user = self.users.entry(change.user.clone()).or_default();
                user.groups = change.groups.clone();
                match change.action.as_str() {
                    "disabled" => user.disabled = user.disabled.or(Some(seq)),
                    "enabled" => user.disabled = None,
                    _ => {}
                }
                let by = change.operator.map(|o| o.name).unwrap_or_default();
                for serial in &change.revoked_serials {
                    self.serial_claims.entry(*serial).or_insert_with(|| Claim {
                        seq,
                        time,
                        reason: "user disabled".into(),
                        by: by.clone(),
                    });
                }
                if change.action == "disabled" {
                    self.disabled_leaves_nothing_valid(seq, time, &change.user);
                }
            }
            Event::Registered(enrollment) => {
                let devices = &mut self.registered;
                Self::device(devices, &mut self.problems, seq, enrollment, "registered")
            }
            Event::Enrolled(enrollment) => {
                let devices = &mut self.enrolled;
                Self::device(devices, &mut self.problems, seq, enrollment, "confirmed")
            }
            // No state of their own, or none this checker walks (hosts, reviews).
            _ => {}
        }
    }
}

/// Every log entry, in order.
async fn all_entries(store: &dyn Store) -> anyhow::Result<Vec<jit_log::Entry>> {
    let mut entries: Vec<jit_log::Entry> = Vec::new();
    loop {
        let from = entries.last().map_or(1, |e| e.seq + 1);
        let batch = store.log_entries(from, 1000).await?;
        if batch.is_empty() {
            return Ok(entries);
        }
        entries.extend(batch);
    }
}

/// Check that `store`'s log and state agree exactly (see the module doc); the log's view
/// when they do, else an error listing every mismatch.
pub async fn check(store: &dyn Store) -> anyhow::Result<Ledger> {
    let entries = all_entries(store).await?;
    let mut expected = Expected::default();
    if let Err(e) = jit_log::verify_chain(entries.iter().cloned()) {
        expected.problems.push(format!("the log chain: {e}"));
    }
    let length = store.log_len().await?;
    if length != entries.len() as u64 {
        expected.problems.push(format!(
            "log_len says {length} entries, but {} were read",
            entries.len()
        ));
    }
    for entry in &entries {
        match entry.record() {
            Ok(record) => expected.add(entry.seq, record),
            Err(e) => expected.problems.push(e.to_string()),
        }
    }
    let mut ledger = Ledger {
        entries: entries.len() as u64,
        ..Ledger::default()
    };
    check_certificates(store, &mut expected, &mut ledger).await?;
    check_requests(store, &mut expected, &mut ledger).await?;
    check_revocations(store, &mut expected, &mut ledger).await?;
    check_users_and_devices(store, &mut expected, &mut ledger).await?;
    if expected.problems.is_empty() {
        return Ok(ledger);
    }
    let mut text = format!(
        "the store's state and its log ({} entries) disagree ({} mismatches):",
        entries.len(),
        expected.problems.len()
    );
    for problem in &expected.problems {
        let _ = write!(text, "\n  - {problem}");
    }
    anyhow::bail!(text)
}

async fn check_certificates(
    store: &dyn Store,
    expected: &mut Expected,
    ledger: &mut Ledger,
) -> anyhow::Result<()> {
    let mut unseen: BTreeSet<u64> = expected.issued.keys().copied().collect();
    for row in store.certificates().await? {
        let serial = row.serial;
        let Some((seq, record)) = expected.issued.get(&serial) else {
            expected.problems.push(format!(
                "certificate {serial} ({}) is in the state but no `issued` record names it",
                row.key_id
            ));
            continue;
        };
        unseen.remove(&serial);
        ledger.issued.insert(serial, *seq);
        let in_log = (
            &record.user,
            &record.role,
            &record.key_id,
            record.valid_after,
            record.valid_before,
            &record.ca_fingerprint,
        );
        let in_state = (
            &row.user,
            &row.role,
            &row.key_id,
            row.valid_after,
            row.valid_before,
            &row.ca_fingerprint,
        );
        if in_log != in_state {
            expected.problems.push(format!(
                "certificate {serial}: the state has {in_state:?}, its record {seq} says {in_log:?}"
            ));
        }
        let row_seq = store.issuance_seq(serial).await?;
        if row_seq != Some(*seq) {
            expected.problems.push(format!(
                "certificate {serial}: the state links log record {row_seq:?}, but its `issued` record is {seq}"
            ));
        }
    }
    for serial in unseen {
        let seq = expected.issued[&serial].0;
        expected.problems.push(format!(
            "log record {seq} issues serial {serial}, but the state has no such certificate"
        ));
    }
    Ok(())
}

async fn check_requests(
    store: &dyn Store,
    expected: &mut Expected,
    ledger: &mut Ledger,
) -> anyhow::Result<()> {
    let mut unseen: BTreeSet<String> = expected.requests.keys().cloned().collect();
    // `now = 0`: the stored state, before lapsing is applied (which no record describes).
    for row in store.recent_requests(0, 0).await? {
        let id = row.request.id.clone();
        let Some(log) = expected.requests.get(&id) else {
            expected.problems.push(format!(
                "request {id} is in the state but no `requested` record names it"
            ));
            continue;
        };
        unseen.remove(&id);
        let r = &log.record;
        let in_log = (
            &r.requester,
            &r.role,
            &r.reason,
            &r.ticket,
            Some(r.ttl_seconds),
            r.approvals_needed,
        );
        let asked = &row.request;
        let in_state = (
            &asked.requester,
            &asked.role,
            &asked.reason,
            &asked.ticket,
            asked.ttl_seconds,
            asked.approvals_needed,
        );
        if in_log != in_state {
            expected.problems.push(format!(
                "request {id}: the state asked for {in_state:?}, its record says {in_log:?}"
            ));
        }
        let log_decisions: Vec<(&str, bool, Option<&str>)> = log
            .decisions
            .iter()
            .map(|d| (d.approver.as_str(), d.approve, d.reason.as_deref()))
            .collect();
        let state_decisions: Vec<(&str, bool, Option<&str>)> = row
            .decisions
            .iter()
            .map(|d| (d.approver.as_str(), d.approve, d.reason.as_deref()))
            .collect();
        if log_decisions != state_decisions {
            expected.problems.push(format!(
                "request {id}: the state has decisions {state_decisions:?}, the log {log_decisions:?}"
            ));
        }
        let state_now = match (row.state, row.used_serial) {
            (RequestState::Used, serial) => format!("used by {serial:?}"),
            (state, None) => state.as_str().to_string(),
            (state, Some(serial)) => format!("{} with a used serial {serial}", state.as_str()),
        };
        let state_logged = match log.used_by {
            Some(serial) => format!("used by {:?}", Some(serial)),
            None => log
                .decisions
                .last()
                .map_or("pending", |d| d.state.as_str())
                .to_string(),
        };
        if state_now != state_logged {
            expected.problems.push(format!(
                "request {id}: the state is {state_now}, the log says {state_logged}"
            ));
        }
        ledger.requests.insert(
            id,
            log_decisions.iter().map(|d| (d.0.into(), d.1)).collect(),
        );
    }
    for id in unseen {
        expected.problems.push(format!(
            "a `requested` record names request {id}, but the state has no such request"
        ));
    }
    Ok(())
}

async fn check_revocations(
    store: &dyn Store,
    expected: &mut Expected,
    ledger: &mut Ledger,
) -> anyhow::Result<()> {
    let mut unseen_serials: BTreeSet<u64> = expected.serial_claims.keys().copied().collect();
    let mut unseen_keys: BTreeSet<String> = expected.key_claims.keys().cloned().collect();
    // `now = 0`: every row, since no certificate is valid before 0 (DESIGN §5).
    for row in store.revocations(0).await? {
        let (what, claim) = match &row.target {
            Revoked::Serial {
                serial,
                ca_fingerprint,
                valid_before,
            } => {
                unseen_serials.remove(serial);
                ledger.revoked.insert(*serial);
                let certificate = store.certificate(*serial).await?;
                let expected_ca = certificate
                    .as_ref()
                    .map(|c| (c.ca_fingerprint.as_str(), c.valid_before));
                if expected_ca != Some((ca_fingerprint.as_str(), *valid_before)) {
                    expected.problems.push(format!(
                        "the revocation of serial {serial} names (CA, end of validity) {:?}, its certificate row {expected_ca:?}",
                        (ca_fingerprint, valid_before)
                    ));
                }
                (
                    format!("serial {serial}"),
                    expected.serial_claims.get(serial),
                )
            }
            Revoked::Key { public_key } => {
                let fingerprint = ssh_key::PublicKey::from_openssh(public_key)
                    .map(|k| k.fingerprint(ssh_key::HashAlg::Sha256).to_string())
                    .unwrap_or_else(|e| format!("(unreadable key: {e})"));
                unseen_keys.remove(&fingerprint);
                (
                    format!("key {fingerprint}"),
                    expected.key_claims.get(&fingerprint),
                )
            }
            Revoked::KeyId { key_id, .. } => (format!("key ID {key_id}"), None),
        };
        let Some(claim) = claim else {
            expected.problems.push(format!(
                "the revocation of {what} is in the state but no record names it"
            ));
            continue;
        };
        let in_state = (&row.reason, &row.revoked_by, row.created_at);
        let in_log = (&claim.reason, &claim.by, claim.time);
        if in_state != in_log {
            expected.problems.push(format!(
                "the revocation of {what}: the state has (reason, by, at) {in_state:?}, its first record {} says {in_log:?}",
                claim.seq
            ));
        }
    }
    for serial in unseen_serials {
        let seq = expected.serial_claims[&serial].seq;
        expected.problems.push(format!(
            "log record {seq} revokes serial {serial}, but the state has no such revocation"
        ));
    }
    for key in unseen_keys {
        let seq = expected.key_claims[&key].seq;
        expected.problems.push(format!(
            "log record {seq} revokes key {key}, but the state has no such revocation"
        ));
    }
    Ok(())
}

async fn check_users_and_devices(
    store: &dyn Store,
    expected: &mut Expected,
    ledger: &mut Ledger,
) -> anyhow::Result<()> {
    let mut unseen: BTreeSet<String> = expected.users.keys().cloned().collect();
    for user in store.users().await? {
        let Some(log) = expected.users.get(&user.name) else {
            expected.problems.push(format!(
                "user {} is in the state but no `added` record names them",
                user.name
            ));
            continue;
        };
        unseen.remove(&user.name);
        let in_log = (&log.groups, log.disabled.is_some());
        if (&user.groups, user.disabled) != in_log {
            expected.problems.push(format!(
                "user {}: the state has (groups, disabled) {:?}, the log {in_log:?}",
                user.name,
                (&user.groups, user.disabled)
            ));
        }
        ledger.users.insert(user.name, user.disabled);
    }
    for name in unseen {
        expected.problems.push(format!(
            "the log adds user {name}, but the state has no such user"
        ));
    }

    let mut registered = expected.registered.clone();
    let mut enrolled = expected.enrolled.clone();
    for device in store.devices().await? {
        let fingerprint = &device.fingerprint;
        match registered.remove(fingerprint) {
            Some(user) if user == device.user => {}
            Some(user) => expected.problems.push(format!(
                "device {fingerprint} belongs to {} in the state, to {user} in the log",
                device.user
            )),
            None => expected.problems.push(format!(
                "device {fingerprint} of {} is in the state but no `registered` record names it",
                device.user
            )),
        }
        match (device.confirmed_at, enrolled.remove(fingerprint)) {
            (Some(_), Some(user)) if user == device.user => {}
            (None, None) => {}
            (confirmed, record) => expected.problems.push(format!(
                "device {fingerprint} of {}: confirmed at {confirmed:?} in the state, `enrolled` record for {record:?} in the log",
                device.user
            )),
        }
    }
    for (fingerprint, user) in registered.into_iter().chain(enrolled) {
        expected.problems.push(format!(
            "the log registers or confirms device {fingerprint} of {user}, but the state has no such device"
        ));
    }
    Ok(())
}
