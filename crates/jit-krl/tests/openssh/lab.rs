//! A scratch directory driven through `ssh-keygen`: keys, certificates (`-s`), reference
//! KRLs (`-k`) and OpenSSH's own answers (`-Q`, `-Ql`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use jit_krl::{Certificate, CertificateRevocations, Krl, PublicKey};

pub const HEADER_BYTES: usize = 8 + 4 + 8 + 8 + 8 + 4 + 4;
/// Section type and length, CA key string (Ed25519 blob: 51 bytes), empty reserved string.
pub const ED25519_CA_SECTION_HEADER: usize = 1 + 4 + 4 + 51 + 4;

/// A scratch directory with keys, certificates and KRLs, driven through `ssh-keygen`.
pub struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Self {
        let found = Command::new("ssh-keygen").arg("-?").output();
        if found.is_err() {
            panic!("ssh-keygen is missing: apt-get install -y openssh-client");
        }
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn keygen_cmd(&self, args: &[&str]) -> Output {
        let output = Command::new("ssh-keygen")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        output
    }

    pub fn run_ok(&self, args: &[&str]) {
        let output = self.keygen_cmd(args);
        assert!(
            output.status.success(),
            "ssh-keygen {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A new Ed25519 key pair `name` / `name.pub`; returns the public key.
    pub fn key(&self, name: &str) -> PublicKey {
        self.run_ok(&["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", name]);
        PublicKey::from_openssh(
            &std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap(),
        )
        .unwrap()
    }

    /// A certificate of `key` signed by `ca`; returns the certificate file's name.
    pub fn cert(&self, ca: &str, key: &str, id: &str, serial: u64) -> String {
        let stem = format!("{key}-by-{ca}-{serial}-{}", id.replace(['@', ' '], "_"));
        std::fs::copy(
            self.path(&format!("{key}.pub")),
            self.path(&format!("{stem}.pub")),
        )
        .unwrap();
        let serial = serial.to_string();
        self.run_ok(&[
            "-q",
            "-s",
            ca,
            "-I",
            id,
            "-n",
            "p",
            "-z",
            &serial,
            // ssh-key cannot read a validity that never ends (2^64 - 1).
            "-V",
            "20200101:20991231",
            &format!("{stem}.pub"),
        ]);
        format!("{stem}-cert.pub")
    }

    /// The public key `name.pub` made by [`Lab::key`].
    pub fn key_of(&self, name: &str) -> PublicKey {
        PublicKey::from_openssh(&self.pub_line(name)).unwrap()
    }

    /// A certificate file made by [`Lab::cert`], read back.
    pub fn certificate(&self, file: &str) -> Certificate {
        Certificate::read_file(&self.path(file)).unwrap()
    }

    /// A file of the lab.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// The text of `name.pub` (one line: "type base64 comment").
    pub fn pub_line(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.pub")))
            .unwrap()
            .trim_end()
            .to_string()
    }

    pub fn write(&self, name: &str, krl: &Krl) -> Vec<u8> {
        let bytes = krl.encode().unwrap();
        std::fs::write(self.path(name), &bytes).unwrap();
        bytes
    }

    /// `ssh-keygen -k` from a spec (`serial: N`, `serial: A-B`, `id: X`, `key: ...`), for
    /// the CA `ca` ("none": any CA).
    pub fn reference(&self, name: &str, ca: Option<&str>, spec: &str) -> Vec<u8> {
        self.keygen_krl(name, ca, spec, false)
    }

    /// `ssh-keygen -k -u`: add a spec to an existing KRL.
    pub fn update_reference(&self, name: &str, ca: Option<&str>, spec: &str) -> Vec<u8> {
        self.keygen_krl(name, ca, spec, true)
    }

    fn keygen_krl(&self, name: &str, ca: Option<&str>, spec: &str, update: bool) -> Vec<u8> {
        let spec_name = format!("{name}.spec");
        std::fs::write(self.path(&spec_name), spec).unwrap();
        // `-s none`: entries for any CA.
        let ca_pub = ca.map(|ca| match ca {
            "none" => ca.to_string(),
            _ => format!("{ca}.pub"),
        });
        let mut args = vec!["-k", "-f", name];
        if update {
            args.push("-u");
        }
        if let Some(ca_pub) = &ca_pub {
            args.extend(["-s", ca_pub.as_str()]);
        }
        args.push(&spec_name);
        self.run_ok(&args);
        std::fs::read(self.path(name)).unwrap()
    }

    /// `ssh-keygen -Q -f krl file`: true when REVOKED (exit 1), false when ok (exit 0);
    /// anything else (a KRL OpenSSH cannot read) fails the test.
    pub fn revoked(&self, krl: &str, file: &str) -> bool {
        let output = self.keygen_cmd(&["-Q", "-f", krl, file]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let code = output.status.code();
        match (code, stdout.trim_end()) {
            (Some(1), line) if line.starts_with(file) && line.ends_with(": REVOKED") => true,
            (Some(0), line) if line.starts_with(file) && line.ends_with(": ok") => false,
            _ => panic!(
                "unexpected ssh-keygen -Q answer for {file} against {krl}: {code:?} {stdout:?} {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }

    /// `ssh-keygen -Q` over many files at once: file -> revoked.
    pub fn revoked_all(&self, krl: &str, files: &[String]) -> BTreeMap<String, bool> {
        let mut args = vec!["-Q", "-f", krl];
        args.extend(files.iter().map(String::as_str));
        let output = self.keygen_cmd(&args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut answers = BTreeMap::new();
        for line in stdout.lines() {
            let (file, _) = line.split_once(' ').unwrap();
            let revoked = match line.rsplit_once(": ").unwrap().1 {
                "REVOKED" => true,
                "ok" => false,
                other => panic!("unexpected answer {other:?} in {line:?}"),
            };
            answers.insert(file.to_string(), revoked);
        }
        assert_eq!(answers.len(), files.len(), "{stdout} {:?}", output.stderr);
        let any = answers.values().any(|&r| r);
        assert_eq!(output.status.code(), Some(i32::from(any)), "{stdout}");
        answers
    }

    /// `ssh-keygen -Ql`: what OpenSSH read from the KRL, without the header lines that
    /// differ between two KRLs with the same revocations.
    pub fn listing(&self, krl: &str) -> String {
        let output = self.keygen_cmd(&["-Ql", "-f", krl]);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.starts_with("# KRL version") && !l.starts_with("# Generated at"))
            .filter(|l| !l.starts_with("# Comment"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub fn revocations(ca: &PublicKey, serials: &[u64], key_ids: &[&str]) -> CertificateRevocations {
    CertificateRevocations {
        ca_key: Some(ca.clone()),
        serials: serials.to_vec(),
        serial_ranges: Vec::new(),
        key_ids: key_ids.iter().map(|s| s.to_string()).collect(),
    }
}

/// xorshift64: a fixed sequence, so a failure replays.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
