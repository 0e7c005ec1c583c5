//! Is this a KRL? The framing of an OpenSSH key revocation list (PROTOCOL.krl), checked
//! before `jit host sync` lets it replace the one sshd reads.
//!
//! sshd refuses every key when its `RevokedKeys` file cannot be parsed, so a truncated or
//! foreign download must never be installed. The check walks the header and every
//! section's length; it does not judge the sections' content (sshd does that).

/// The first 8 bytes of every KRL.
pub const MAGIC: &[u8; 8] = b"SSHKRL\n\0";
/// The only KRL format version OpenSSH writes.
pub const FORMAT_VERSION: u32 = 1;
/// Section type of a KRL signature (two strings instead of one).
const SECTION_SIGNATURE: u8 = 4;

/// What the header of a well-formed KRL says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KrlInfo {
    /// The KRL version number (jitd: the time it was built).
    pub version: u64,
    /// Unix seconds when it was generated.
    pub generated_at: u64,
    /// How many sections follow the header.
    pub sections: usize,
}

/// Why bytes are not a KRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAKrl(pub String);

impl std::fmt::Display for NotAKrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotAKrl {}

/// Check that `bytes` is one whole KRL: magic, format version 1, header, and sections
/// whose lengths add up exactly to the end.
pub fn check(bytes: &[u8]) -> Result<KrlInfo, NotAKrl> {
    let mut reader = Reader(bytes);
    if reader.take(MAGIC.len()).ok() != Some(MAGIC.as_slice()) {
        return Err(NotAKrl(format!(
            "it does not start with the KRL magic SSHKRL\\n\\0 ({} bytes, starting {:?})",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
        )));
    }
    let format = reader.u32()?;
    if format != FORMAT_VERSION {
        return Err(NotAKrl(format!("unknown KRL format version {format}")));
    }
    let version = reader.u64()?;
    let generated_at = reader.u64()?;
    let _flags = reader.u64()?;
    let _reserved = reader.string()?;
    let _comment = reader.string()?;
    let mut sections = 0;
    while !reader.0.is_empty() {
        let kind = reader.take(1)?[0];
        reader.string()?;
        if kind == SECTION_SIGNATURE {
            reader.string()?;
        }
        sections += 1;
    }
    Ok(KrlInfo {
        version,
        generated_at,
        sections,
    })
}

/// A cursor over SSH wire encoding that reports truncation.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], NotAKrl> {
        if self.0.len() < n {
            return Err(NotAKrl(
                "it is truncated (a length runs past the end)".to_string(),
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, NotAKrl> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(raw))
    }

    fn u64(&mut self) -> Result<u64, NotAKrl> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(raw))
    }

    fn string(&mut self) -> Result<&'a [u8], NotAKrl> {
        let len = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ssh-keygen -k -f empty.krl` with no specs (OpenSSH 9.2), version 0.
    fn empty_from_ssh_keygen() -> Vec<u8> {
        let mut krl = MAGIC.to_vec();
        krl.extend_from_slice(&1u32.to_be_bytes());
        krl.extend_from_slice(&0u64.to_be_bytes());
        krl.extend_from_slice(&0x6b08_e8e7u64.to_be_bytes());
        krl.extend_from_slice(&0u64.to_be_bytes());
        krl.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        krl
    }

    fn with_section(mut krl: Vec<u8>, kind: u8, data: &[u8]) -> Vec<u8> {
        krl.push(kind);
        krl.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        krl.extend_from_slice(data);
        krl
    }

    #[test]
    fn an_empty_krl_from_ssh_keygen_passes() {
        let info = check(&empty_from_ssh_keygen()).unwrap();
        assert_eq!(info.version, 0);
        assert_eq!(info.generated_at, 0x6b08_e8e7);
        assert_eq!(info.sections, 0);
    }

    #[test]
    fn sections_must_add_up_to_the_end() {
        let krl = with_section(empty_from_ssh_keygen(), 1, b"ca and serials");
        assert_eq!(check(&krl).unwrap().sections, 1);
        assert!(check(&krl[..krl.len() - 1]).is_err(), "truncated section");
        let mut trailing = krl.clone();
        trailing.push(1);
        assert!(check(&trailing).is_err(), "a stray byte");
    }

    #[test]
    fn other_content_is_refused_with_a_reason() {
        for bad in [&b""[..], b"<html>502 Bad Gateway</html>", b"SSHKRL\n\0\0\0"] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        let mut v2 = empty_from_ssh_keygen();
        v2[11] = 2;
        assert_eq!(
            check(&v2).unwrap_err().to_string(),
            "unknown KRL format version 2"
        );
        assert!(check(b"<html>")
            .unwrap_err()
            .to_string()
            .contains("KRL magic"));
    }
}
