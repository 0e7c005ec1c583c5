//! Log records and certificate rows the store tests write (shared by the test files).

use jit_log::{Event, Issuance, Record, UserChange};
use jit_store::CertificateRow;

/// A "user added" record at `time`.
pub fn user_record(time: u64, user: &str) -> Record {
    Record {
        time,
        policy_hash: "sha256:00".into(),
        event: Event::User(UserChange {
            operator: None,
            revoked_serials: vec![],
            user: user.into(),
            action: "added".into(),
            groups: vec!["sre".into()],
        }),
    }
}

/// The fingerprint of the (fresh) key certified by the test issuance of `serial`.
pub fn client_key(serial: u64) -> String {
    format!("SHA256:client-{serial}")
}

/// An issuance of `serial` to alice at `time`, and its certificate row.
pub fn issuance(time: u64, serial: u64) -> (Record, CertificateRow) {
    let record = Record {
        time,
        policy_hash: "sha256:00".into(),
        event: Event::Issued(Box::new(Issuance {
            user: "alice".into(),
            device: "SHA256:dev".into(),
            role: "web".into(),
            principals: vec!["deploy".into()],
            serial,
            key_id: format!("alice@web#{serial}"),
            client_key_fingerprint: client_key(serial),
            valid_after: time - 30,
            valid_before: time + 600,
            extensions: vec![],
            critical_options: vec![],
            source_ip: "127.0.0.1".into(),
            ca_fingerprint: "SHA256:ca".into(),
            certificate_sha256: "00".repeat(32),
            request_id: None,
            approvers: vec![],
            reason: None,
            ticket: None,
            break_glass: false,
            out_of_hours: false,
        })),
    };
    let row = CertificateRow {
        serial,
        user: "alice".into(),
        role: "web".into(),
        key_id: format!("alice@web#{serial}"),
        valid_after: time - 30,
        valid_before: time + 600,
        ca_fingerprint: "SHA256:ca".into(),
        client_key_fingerprint: Some(client_key(serial)),
    };
    (record, row)
}
