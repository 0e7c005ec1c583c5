//! `jit host sync` against the fake jitd: both files written, ETags honoured, and every
//! failure (server down, garbage, truncation) keeps the old files byte for byte.

use crate::bench::{stderr, stdout, text};
use crate::fake_jitd::hosts::{empty_krl, etag};
use crate::host_bench::{inode, mode, names, HostBench};

#[test]
fn sync_writes_both_files_and_an_unchanged_etag_keeps_them() {
    let host = HostBench::new();
    assert!(!host.dir().exists());
    let out = host.sync_with_server(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let served = host.server.state.lock().unwrap().hosts.krl.clone();
    let user_ca = host.server.state.lock().unwrap().hosts.user_ca_file.clone();
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), served);
    assert_eq!(std::fs::read(host.file("user_ca.pub")).unwrap(), user_ca);
    assert_eq!(mode(&host.dir()), 0o755);
    assert_eq!(mode(&host.file("revoked.krl")), 0o644);
    assert_eq!(mode(&host.file("user_ca.pub")), 0o644);
    assert!(
        stdout(&out).contains("jit: revoked.krl: updated (KRL version 1, 0 CA section(s), 0 revoked key(s), 44 bytes)"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("jit: user_ca.pub: updated (1 key)"));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(host.file("sync.json")).unwrap()).unwrap();
    assert_eq!(state["krl_etag"], etag(&served));
    assert_eq!(state["server_url"], host.server.url);
    let synced_at = state["last_success"].as_u64().unwrap();
    assert!(synced_at.abs_diff(jit::clock::now()) < 60);
    assert_eq!(state["krl_refreshed_at"], synced_at);

    // Same ETag: the server answers 304 and nothing is rewritten. No flags: the server
    // remembered in sync.json is used.
    let (krl_inode, ca_inode) = (
        inode(&host.file("revoked.krl")),
        inode(&host.file("user_ca.pub")),
    );
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("jit: revoked.krl: unchanged (not modified since the last sync)"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("jit: user_ca.pub: unchanged (1 key)"));
    let conditions = host
        .server
        .state
        .lock()
        .unwrap()
        .hosts
        .krl_conditions
        .clone();
    assert_eq!(conditions, [None, Some(etag(&served))]);
    assert_eq!(inode(&host.file("revoked.krl")), krl_inode);
    assert_eq!(inode(&host.file("user_ca.pub")), ca_inode);
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), served);

    // A new KRL on the server replaces the file.
    let newer = empty_krl(2);
    host.server.state.lock().unwrap().hosts.krl = newer.clone();
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), newer);
    assert!(stdout(&out).contains("revoked.krl: updated (KRL version 2"));

    // A deleted file is fetched in full again (no If-None-Match without a file to keep).
    std::fs::remove_file(host.file("revoked.krl")).unwrap();
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), newer);
    let last = host
        .server
        .state
        .lock()
        .unwrap()
        .hosts
        .krl_conditions
        .last()
        .cloned();
    assert_eq!(last, Some(None));
}

#[test]
fn a_stopped_server_keeps_the_old_files_and_alerts_once_the_krl_is_stale() {
    let host = HostBench::new();
    host.enroll();
    let out = host.sync(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "host.json names the server: {}",
        text(&out)
    );
    let krl = std::fs::read(host.file("revoked.krl")).unwrap();
    let user_ca = std::fs::read(host.file("user_ca.pub")).unwrap();
    let before = names(&host.dir());

    host.server.stop();
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "jit: revoked.krl was NOT refreshed (the old file is kept): could not reach the server"
        ),
        "{err}"
    );
    assert!(err.contains("jit: user_ca.pub was NOT refreshed"), "{err}");
    assert!(
        err.contains("error: host sync from https://127.0.0.1:")
            && err.contains("failed: user_ca.pub and revoked.krl not refreshed"),
        "{err}"
    );
    assert!(err.contains("hint: check that jitd is running"), "{err}");
    assert!(!err.contains("ALERT"), "fresh enough: {err}");
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), krl);
    assert_eq!(std::fs::read(host.file("user_ca.pub")).unwrap(), user_ca);
    assert_eq!(names(&host.dir()), before, "no temporary files left");

    // The last refresh three hours ago: past the default 2h, an ALERT and status 2.
    let three_hours_ago = jit::clock::now() - 3 * 3_600;
    host.edit_sync_json(|state| state["krl_refreshed_at"] = three_hours_ago.into());
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "ALERT: KRL on this host is stale (last refreshed {}, 3h ago; --stale-after 2h)",
            jit::clock::rfc3339(three_hours_ago)
        )),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), krl);

    let out = host.sync(&["--stale-after", "4h"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!stderr(&out).contains("ALERT"));
}

#[test]
fn garbage_or_truncated_answers_are_refused_and_the_old_files_kept() {
    let host = HostBench::new();
    let out = host.sync_with_server(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let krl = std::fs::read(host.file("revoked.krl")).unwrap();
    let user_ca = std::fs::read(host.file("user_ca.pub")).unwrap();

    {
        let mut state = host.server.state.lock().unwrap();
        state.hosts.krl = b"<html><body>Please log in</body></html>".to_vec();
        state.hosts.user_ca_file = b"<html>Please log in</html>\n".to_vec();
    }
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "the server's /v1/krl was refused: not a usable KRL: it does not start with the KRL magic"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "the server's /v1/ca/user_ca.pub was refused: line 1 is not an OpenSSH public key"
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), krl);
    assert_eq!(std::fs::read(host.file("user_ca.pub")).unwrap(), user_ca);

    // A KRL cut short, and a key file without keys: refused too.
    let mut cut = empty_krl(7);
    cut.extend_from_slice(&[1, 0, 0, 0, 9, b'x']);
    {
        let mut state = host.server.state.lock().unwrap();
        state.hosts.krl = cut;
        state.hosts.user_ca_file = b"# no keys today\n".to_vec();
    }
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("not a usable KRL: truncated"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("it holds no public key"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), krl);
    assert_eq!(std::fs::read(host.file("user_ca.pub")).unwrap(), user_ca);

    // Well framed, but not a KRL sshd 9.2 loads (it would then refuse every key login): an
    // extension section (OpenSSH 9.4+), a certificates section that holds no CA key, and a
    // revoked serial 0.
    let mut serial_zero = vec![0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 8];
    serial_zero.extend_from_slice(&0u64.to_be_bytes());
    let cases: [(u8, &[u8], &str); 3] = [
        (255, b"", "unknown section type 255"),
        (1, b"ca and serials", "truncated"),
        (1, &serial_zero, "serial 0"),
    ];
    for (kind, body, why) in cases {
        let mut framed = empty_krl(8);
        framed.push(kind);
        framed.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        framed.extend_from_slice(body);
        host.server.state.lock().unwrap().hosts.krl = framed;
        let out = host.sync(&[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            stderr(&out).contains(&format!("/v1/krl was refused: not a usable KRL: {why}")),
            "{}",
            text(&out)
        );
        assert_eq!(std::fs::read(host.file("revoked.krl")).unwrap(), krl);
    }
}

#[test]
fn sync_without_a_known_server_says_how_to_name_one() {
    let host = HostBench::new();
    let out = host.sync(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("error: no jit server to sync from"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("hint: pass --server URL --tls-sha256 HEX"));
}
