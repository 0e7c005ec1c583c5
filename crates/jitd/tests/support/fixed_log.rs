//! The fixed log of the report golden tests: a day of access (2026-11-27 UTC) with every
//! record type, fixed times and serials, and hostile texts (a `<script>` reason, an
//! attribute-breaking ticket, a spreadsheet formula).
#![allow(dead_code)] // each test file uses a different part

use jit_log::{
    seal, DecisionRecord, Denial, Enrollment, Entry, Event, Issuance, Record, RequestRecord,
    ReviewRecord, RevocationRecord, UserChange, GENESIS,
};

/// 2026-11-27T00:00:00Z: the report covers this day.
pub const DAY: u64 = 1_795_737_600;
const POLICY_HASH: &str = "sha256:07255b757d1278c9328f0799d0db09064b3b6cea15ed583731b5cf22e5177306";
pub const SCRIPT: &str = "<script>alert(1)</script> INC-9: primary database down";
pub const TICKET: &str = "INC-9\"><img src=x onerror=alert(2)>";
pub const FORMULA: &str = "=HYPERLINK(\"http://evil.invalid\",\"CHG-8\")";
pub const BREAK_GLASS_SERIAL: u64 = 14_683_068_457_210_863_261;
pub const APPROVED_SERIAL: u64 = 15_728_163_288_550_473_838;

/// Unix seconds at `hours:minutes` UTC on the report day (negative hours: the day before).
pub fn at(hours: i64, minutes: i64) -> u64 {
    (DAY as i64 + hours * 3600 + minutes * 60) as u64
}

fn record(time: u64, event: Event) -> Record {
    Record {
        time,
        policy_hash: POLICY_HASH.into(),
        event,
    }
}

fn issued(
    user: &str,
    role: &str,
    principal: &str,
    serial: u64,
    from: u64,
    minutes: u64,
) -> Issuance {
    Issuance {
        user: user.into(),
        device: format!("SHA256:device-of-{user}"),
        role: role.into(),
        principals: vec![principal.into()],
        serial,
        key_id: format!("{user}@{role}#{serial}"),
        client_key_fingerprint: format!("SHA256:key-{serial}"),
        valid_after: from,
        valid_before: from + minutes * 60,
        extensions: vec!["permit-pty".into()],
        critical_options: Vec::new(),
        source_ip: "10.1.2.3".into(),
        ca_fingerprint: "SHA256:7DesIQF/YQ0Z2VuJKfv34WJJwL8po8c8a9PBLVh0Ra0".into(),
        certificate_sha256: format!("{serial:064x}"),
        request_id: None,
        approvers: Vec::new(),
        reason: None,
        ticket: None,
        break_glass: false,
        out_of_hours: false,
    }
}

fn issue(time: u64, issuance: Issuance) -> Record {
    record(time, Event::Issued(Box::new(issuance)))
}

fn user(time: u64, name: &str, groups: &[&str]) -> Record {
    record(
        time,
        Event::User(UserChange {
            operator: None,
            revoked_serials: vec![],
            user: name.into(),
            action: "added".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }),
    )
}

fn denied(time: u64, user: &str, role: Option<&str>, code: &str, reason: &str) -> Record {
    record(
        time,
        Event::Denied(Denial {
            user: Some(user.into()),
            device: Some(format!("SHA256:device-of-{user}")),
            role: role.map(str::to_string),
            code: code.into(),
            reason: reason.into(),
            source_ip: "10.9.9.9".into(),
        }),
    )
}

fn requested(time: u64, id: &str, reason: &str, ticket: &str) -> Record {
    record(
        time,
        Event::Requested(RequestRecord {
            request_id: id.into(),
            requester: "alice".into(),
            role: "db-migrate".into(),
            reason: reason.into(),
            ticket: Some(ticket.into()),
            ttl_seconds: 1800,
            approvals_needed: 1,
            source_ip: "10.1.2.3".into(),
        }),
    )
}

fn decided(time: u64, id: &str, approve: bool, reason: Option<&str>) -> Record {
    record(
        time,
        Event::Decided(DecisionRecord {
            request_id: id.into(),
            requester: "alice".into(),
            role: "db-migrate".into(),
            approver: "bob".into(),
            approve,
            reason: reason.map(str::to_string),
            state: if approve { "approved" } else { "denied" }.into(),
            source_ip: "10.4.5.6".into(),
        }),
    )
}

/// The fixed log: a day of access with every record type.
pub fn records() -> Vec<Record> {
    let approved = Issuance {
        request_id: Some("r-00000000a1".into()),
        approvers: vec!["bob".into()],
        reason: Some("CHG-7: add index on orders".into()),
        ticket: Some("CHG-7".into()),
        ..issued(
            "alice",
            "db-migrate",
            "postgres",
            APPROVED_SERIAL,
            at(9, 25),
            30,
        )
    };
    let glass = Issuance {
        reason: Some(SCRIPT.into()),
        ticket: Some(TICKET.into()),
        break_glass: true,
        out_of_hours: true,
        ..issued(
            "alice",
            "break-glass",
            "root",
            BREAK_GLASS_SERIAL,
            at(22, 10),
            45,
        )
    };
    vec![
        user(at(-2, 0), "alice", &["sre", "dev"]),
        user(at(-2, 1), "bob", &["sre", "leads"]),
        user(at(-2, 2), "mallory", &["web"]),
        // Issued the evening before, valid into the report day: in the report, clipped.
        issue(
            at(0, -30),
            issued(
                "bob",
                "web",
                "deploy",
                8_016_119_290_375_995_825,
                at(0, -30),
                60,
            ),
        ),
        record(
            at(6, 10),
            Event::Enrolled(Enrollment {
                user: "mallory".into(),
                device: "SHA256:device-of-mallory".into(),
                device_name: "laptop".into(),
                source_ip: "10.9.9.9".into(),
            }),
        ),
        issue(
            at(8, 0),
            issued("alice", "web", "deploy", 1_001, at(8, 0), 60),
        ),
        issue(
            at(8, 30),
            issued("bob", "web", "deploy", 1_002, at(8, 30), 60),
        ),
        denied(
            at(8, 45),
            "mallory",
            Some("db-migrate"),
            "role_not_allowed",
            "role db-migrate is not allowed for mallory",
        ),
        requested(
            at(9, 15),
            "r-00000000a1",
            "CHG-7: add index on orders",
            "CHG-7",
        ),
        decided(at(9, 20), "r-00000000a1", true, None),
        issue(at(9, 25), approved),
        record(
            at(9, 40),
            Event::Revoked(RevocationRecord {
                operator: None,
                kind: "serial".into(),
                target: APPROVED_SERIAL.to_string(),
                serials: vec![APPROVED_SERIAL],
                reason: "CHG-7 finished early".into(),
                revoked_by: "carol".into(),
            }),
        ),
        requested(at(14, 0), "r-00000000b2", FORMULA, "CHG-8"),
        decided(
            at(14, 5),
            "r-00000000b2",
            false,
            Some("not during the freeze"),
        ),
        denied(at(21, 0), "mallory", None, "invalid_otp", "wrong code"),
        issue(at(22, 10), glass),
        denied(
            at(22, 20),
            "mallory",
            Some("break-glass"),
            "reason_required",
            "a reason is required",
        ),
        record(
            at(23, 0),
            Event::Reviewed(ReviewRecord {
                operator: None,
                serial: BREAK_GLASS_SERIAL,
                reviewer: "carol".into(),
                note: "checked with alice: failover of db-1".into(),
            }),
        ),
        record(
            at(23, 30),
            Event::Revoked(RevocationRecord {
                operator: None,
                kind: "user".into(),
                target: "mallory".into(),
                serials: Vec::new(),
                reason: "user disabled".into(),
                revoked_by: "carol".into(),
            }),
        ),
        // Valid past the end of the day: in the report, clipped.
        issue(
            at(23, 45),
            issued("bob", "web", "deploy", 1_003, at(23, 45), 60),
        ),
        // The next day: not in the report.
        issue(
            at(24, 30),
            issued("alice", "web", "deploy", 1_004, at(24, 30), 60),
        ),
    ]
}

pub fn entries() -> Vec<Entry> {
    let mut previous = GENESIS;
    records()
        .iter()
        .enumerate()
        .map(|(n, record)| {
            let (entry, hash) = seal(&previous, n as u64 + 1, record);
            previous = hash;
            entry
        })
        .collect()
}

pub fn export_text(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect()
}
