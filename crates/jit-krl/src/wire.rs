//! SSH wire encoding (RFC 4251 §5) as KRLs use it: big-endian integers and
//! length-prefixed strings, written into a `Vec` and read back with every length checked
//! against what is left.

use crate::{Error, Result};

pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// An SSH `string`: u32 length, then the bytes.
pub(crate) fn put_string(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| Error::Encode(format!("a {}-byte field is too long", bytes.len())))?;
    put_u32(out, len);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A cursor over part of a KRL. `base` is where `rest` started in the whole input, so
/// errors can say where they were found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    base: usize,
    consumed: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            base: 0,
            consumed: 0,
        }
    }

    /// Offset of the next byte in the whole input.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.consumed
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// An error at the current offset.
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        self.error_at(self.offset(), reason)
    }

    pub(crate) fn error_at(&self, offset: usize, reason: impl Into<String>) -> Error {
        Error::Malformed {
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(self.error(format!(
                "truncated: {what} needs {n} bytes, {} left",
                self.rest.len()
            )));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        self.consumed += n;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_be_bytes(raw))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(raw))
    }

    /// An SSH `string`, as a reader over its contents.
    pub(crate) fn string(&mut self, what: &str) -> Result<Reader<'a>> {
        let len = self.u32(what)?;
        let base = self.offset();
        // A length past the end is refused before anything is allocated for it.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let bytes = self.take(len, what)?;
        Ok(Reader {
            rest: bytes,
            base,
            consumed: 0,
        })
    }

    /// All that is left.
    pub(crate) fn remaining(&mut self) -> &'a [u8] {
        let rest = self.rest;
        self.consumed += rest.len();
        self.rest = &[];
        rest
    }

    /// An SSH `string` that OpenSSH reads as a C string (`sshbuf_get_cstring`): no NUL
    /// byte inside, one at the very end allowed and dropped. Also UTF-8 here (see the
    /// crate documentation).
    pub(crate) fn text(&mut self, what: &str) -> Result<String> {
        let mut field = self.string(what)?;
        let start = field.offset();
        let mut bytes = field.remaining();
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            if at + 1 != bytes.len() {
                return Err(self.error_at(start + at, format!("{what} contains a NUL byte")));
            }
            bytes = &bytes[..at];
        }
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.error_at(start, format!("{what} is not UTF-8")))
    }
}
