//! Checks on single policy values, each problem recorded at its line with a hint of what to write.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::time::Duration;

use toml::de::DeTable;
use toml::Spanned;

use super::SpannedList;
use crate::duration::{format_duration, parse_duration, DurationText, MAX_BACKDATE, MAX_TTL_LIMIT};
use crate::error::{shown, PolicyErrors, Result};
use crate::role::{KNOWN_EXTENSIONS, KNOWN_KEY_TYPES};

/// Where a setting is written: `[defaults]` or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Defaults,
    Role,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Builtin,
    Written { level: Level, line: usize },
}

/// An inheritable value; `value` is `None` when what was written is invalid (and reported).
#[derive(Debug, Clone)]
pub(super) struct Setting<T> {
    pub(super) value: Option<T>,
    origin: Origin,
}

impl<T> Setting<T> {
    pub(super) fn builtin(value: T) -> Self {
        Setting {
            value: Some(value),
            origin: Origin::Builtin,
        }
    }

    pub(super) fn invalid() -> Self {
        Setting {
            value: None,
            origin: Origin::Builtin,
        }
    }

    /// The line the value is written on, when it is written at `level`.
    fn line_at(&self, level: Level) -> Option<usize> {
        match self.origin {
            Origin::Written { level: l, line } if l == level => Some(line),
            _ => None,
        }
    }

    /// Where the value came from, for a message about `level`; empty when written there.
    fn note(&self, level: Level) -> String {
        match self.origin {
            Origin::Builtin => " (built-in default)".to_owned(),
            Origin::Written { level: l, .. } if l == level => String::new(),
            Origin::Written { line, .. } => format!(" (from [defaults], line {line})"),
        }
    }
}

/// Collects problems, turning byte offsets into 1-based lines.
pub(super) struct Checker<'t> {
    text: &'t str,
    newlines: Vec<usize>,
    errors: PolicyErrors,
}

impl<'t> Checker<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Checker {
            text,
            newlines,
            errors: PolicyErrors::default(),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(super) fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.newlines.partition_point(|&nl| nl < offset) + 1
    }

    pub(super) fn error_at(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.line(offset);
        self.errors.push(line, message);
    }

    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.error_at(span.start, message);
    }

    /// How many problems so far.
    pub(super) fn count(&self) -> usize {
        self.errors.len()
    }

    pub(super) fn finish(self) -> PolicyErrors {
        self.errors.finish()
    }

    /// Report every key of `table` not in `allowed`, and remove it.
    pub(super) fn drop_unknown_keys(
        &mut self,
        table: &mut DeTable<'_>,
        allowed: &[&str],
        place: &str,
    ) {
        let unknown: Vec<(String, Range<usize>)> = table
            .keys()
            .filter(|k| !allowed.contains(&k.get_ref().as_ref()))
            .map(|k| (k.get_ref().to_string(), k.span()))
            .collect();
        for (key, span) in unknown {
            let hint = did_you_mean(&key, allowed);
            self.error(
                span,
                format!(
                    "unknown key {} {place}{hint} (allowed there: {})",
                    shown(&key),
                    allowed.join(", ")
                ),
            );
            table.remove(key.as_str());
        }
    }

    pub(super) fn duration(
        &mut self,
        scope: &str,
        field: &str,
        text: &Spanned<DurationText>,
    ) -> Option<Duration> {
        match parse_duration(&text.get_ref().0) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(text.span(), format!("{scope}: {field}: {e}"));
                None
            }
        }
    }

    fn written<T>(&self, level: Level, span: Range<usize>, value: Option<T>) -> Setting<T> {
        Setting {
            value,
            origin: Origin::Written {
                level,
                line: self.line(span.start),
            },
        }
    }

    /// A certificate lifetime: readable and above zero.
    pub(super) fn ttl(
        &mut self,
        level: Level,
        scope: &str,
        field: &str,
        text: Spanned<DurationText>,
    ) -> Setting<Duration> {
        let mut value = self.duration(scope, field, &text);
        if value.is_some_and(|d| d.is_zero()) {
            self.error(
                text.span(),
                format!("{scope}: {field} must be longer than zero, for example \"15m\""),
            );
            value = None;
        }
        self.written(level, text.span(), value)
    }

    /// `max_ttl`: a lifetime of at most [`MAX_TTL_LIMIT`].
    pub(super) fn max_ttl(
        &mut self,
        level: Level,
        scope: &str,
        text: Spanned<DurationText>,
    ) -> Setting<Duration> {
        let span = text.span();
        let mut setting = self.ttl(level, scope, "max_ttl", text);
        if let Some(d) = setting.value.filter(|d| *d > MAX_TTL_LIMIT) {
            self.error(
                span,
                format!(
                    "{scope}: max_ttl {} is over the limit of {}; jit certificates are meant to be short-lived",
                    format_duration(d),
                    format_duration(MAX_TTL_LIMIT)
                ),
            );
            setting.value = None;
        }
        setting
    }

    /// `backdate`: zero up to [`MAX_BACKDATE`].
    pub(super) fn backdate(
        &mut self,
        level: Level,
        scope: &str,
        text: Spanned<DurationText>,
    ) -> Setting<Duration> {
        let mut value = self.duration(scope, "backdate", &text);
        if let Some(d) = value.filter(|d| *d > MAX_BACKDATE) {
            self.error(
                text.span(),
                format!(
                    "{scope}: backdate {} is over the limit of {}; it only needs to cover clock skew between jitd and your hosts",
                    format_duration(d),
                    format_duration(MAX_BACKDATE)
                ),
            );
            value = None;
        }
        self.written(level, text.span(), value)
    }

    /// `default_ttl <= max_ttl`, checked where at least one of them is written at `level`.
    pub(super) fn ttl_order(
        &mut self,
        level: Level,
        scope: &str,
        default_ttl: &Setting<Duration>,
        max_ttl: &Setting<Duration>,
    ) {
        let (Some(d), Some(m)) = (default_ttl.value, max_ttl.value) else {
            return;
        };
        let Some(line) = default_ttl.line_at(level).or(max_ttl.line_at(level)) else {
            return;
        };
        if d > m {
            self.errors.push(
                line,
                format!(
                    "{scope}: default_ttl {}{} is longer than max_ttl {}{}; lower default_ttl or raise max_ttl",
                    format_duration(d),
                    default_ttl.note(level),
                    format_duration(m),
                    max_ttl.note(level)
                ),
            );
        }
    }

    pub(super) fn extensions(
        &mut self,
        level: Level,
        scope: &str,
        list: SpannedList,
    ) -> Setting<Vec<String>> {
        let span = list.span();
        let value = self.list(scope, "extension", list, |s| {
            if KNOWN_EXTENSIONS.contains(&s) {
                Ok(())
            } else {
                Err(format!(
                    "unknown extension {}{} (OpenSSH knows: {})",
                    shown(s),
                    did_you_mean(s, KNOWN_EXTENSIONS),
                    KNOWN_EXTENSIONS.join(", ")
                ))
            }
        });
        self.written(level, span, value)
    }

    pub(super) fn key_types(
        &mut self,
        level: Level,
        scope: &str,
        list: SpannedList,
    ) -> Setting<Vec<String>> {
        let span = list.span();
        let empty = list.get_ref().is_empty();
        let mut value = self.list(scope, "key type", list, |s| {
            if KNOWN_KEY_TYPES.contains(&s) {
                Ok(())
            } else {
                Err(format!(
                    "unknown key type {}{} (known: {})",
                    shown(s),
                    did_you_mean(s, KNOWN_KEY_TYPES),
                    KNOWN_KEY_TYPES.join(", ")
                ))
            }
        });
        if empty {
            self.error(
                span.clone(),
                format!("{scope}: key_types is empty, so no key could be used; list at least one, such as \"ssh-ed25519\""),
            );
            value = None;
        }
        self.written(level, span, value)
    }

    /// `groups` or `principals`: at least one, each a safe name.
    pub(super) fn names(
        &mut self,
        scope: &str,
        what: &str,
        list: SpannedList,
        validate: fn(&str) -> Result<()>,
    ) -> Option<Vec<String>> {
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                format!("{scope}: the {what}s list is empty; list at least one {what}"),
            );
            return None;
        }
        self.list(scope, what, list, |s| {
            validate(s).map_err(|e| e.to_string())
        })
    }

    pub(super) fn host_patterns(&mut self, scope: &str, list: SpannedList) -> Option<Vec<String>> {
        self.list(scope, "host pattern", list, |s| {
            if s.is_empty() {
                Err("a host pattern is empty; write a host name or a pattern such as \"web-*\"".to_owned())
            } else if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Err(format!(
                    "host pattern {} contains whitespace or a control character; write one pattern per list entry",
                    shown(s)
                ))
            } else {
                Ok(())
            }
        })
    }

    pub(super) fn source_addresses(
        &mut self,
        scope: &str,
        list: SpannedList,
    ) -> Option<Vec<String>> {
        if list.get_ref().is_empty() {
            self.error(
                list.span(),
                format!("{scope}: source_address is empty, so the certificate could be used from nowhere; list addresses or CIDRs, or remove the key"),
            );
            return None;
        }
        self.list(scope, "source address", list, check_source_address)
    }

    pub(super) fn force_command(
        &mut self,
        scope: &str,
        command: Spanned<String>,
    ) -> Option<String> {
        let text = command.get_ref();
        let problem = if text.trim().is_empty() {
            Some("force_command is empty; give the command to run, or remove the key".to_owned())
        } else {
            text.chars().find(|c| c.is_control()).map(|c| {
                format!(
                    "force_command contains a control character ({}); write the command on one line, without tabs",
                    c.escape_unicode()
                )
            })
        };
        match problem {
            Some(p) => {
                self.error(command.span(), format!("{scope}: {p}"));
                None
            }
            None => Some(command.into_inner()),
        }
    }

    /// Check each entry and refuse repeats; `None` if anything was wrong (reported).
    pub(super) fn list(
        &mut self,
        scope: &str,
        what: &str,
        list: SpannedList,
        check: impl Fn(&str) -> std::result::Result<(), String>,
    ) -> Option<Vec<String>> {
        let before = self.count();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::new();
        for item in list.into_inner() {
            let line = self.line(item.span().start);
            let value = item.into_inner();
            if let Err(problem) = check(&value) {
                self.errors.push(line, format!("{scope}: {problem}"));
            } else if let Some(first) = seen.get(&value) {
                self.errors.push(
                    line,
                    format!(
                        "{scope}: {what} {} is listed twice (also on line {first}); remove one",
                        shown(&value)
                    ),
                );
            } else {
                seen.insert(value.clone(), line);
            }
            out.push(value);
        }
        (self.count() == before).then_some(out)
    }
}

/// An IPv4 or IPv6 address, or a CIDR with its host bits zero, as sshd's `source-address` takes.
fn check_source_address(s: &str) -> std::result::Result<(), String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return Err(format!(
            "source address {} is not an IPv4 or IPv6 address or CIDR; write it like 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32",
            shown(s)
        ));
    };
    let Some(prefix) = prefix else {
        return Ok(());
    };
    let width: u32 = if ip.is_ipv4() { 32 } else { 128 };
    let bits =
        if !prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit()) {
            prefix.parse::<u32>().ok().filter(|b| *b <= width)
        } else {
            None
        };
    let Some(bits) = bits else {
        return Err(format!(
            "source address {}: the prefix length after '/' must be a number from 0 to {width}",
            shown(s)
        ));
    };
    let host_bits = width - bits;
    let host_mask = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let value = match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    if value & host_mask != 0 {
        let network = value & !host_mask;
        let network = match ip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(network).unwrap_or(0))),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(network)),
        };
        return Err(format!(
            "source address {} has bits set after the /{bits} prefix; write {network}/{bits}",
            shown(s)
        ));
    }
    Ok(())
}

/// `"; did you mean "x"?"` when one candidate is a small edit away, else empty.
pub(super) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let word = word.to_ascii_lowercase();
    // Short words are a couple of edits away from too much ("ssh-dss" from "ssh-rsa").
    let limit = if word.chars().count() < 8 { 1 } else { 2 };
    candidates
        .iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("; did you mean {c:?}?"))
        .unwrap_or_default()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_offsets() {
        let c = Checker::new("a\nbb\n\nc");
        assert_eq!(c.line(0), 1);
        assert_eq!(c.line(1), 1);
        assert_eq!(c.line(2), 2);
        assert_eq!(c.line(5), 3);
        assert_eq!(c.line(6), 4);
        assert_eq!(c.line(999), 4);
    }

    #[test]
    fn source_addresses() {
        for ok in [
            "10.0.0.0/8",
            "127.0.0.1/32",
            "192.0.2.7",
            "0.0.0.0/0",
            "::1",
            "2001:db8::/32",
            "::/0",
            "fe80::1/128",
        ] {
            assert_eq!(check_source_address(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0/8",
            "::1/129",
            "host.example",
            " 10.0.0.0/8",
            "10.0.0.0/8,",
        ] {
            assert!(check_source_address(bad).is_err(), "{bad:?}");
        }
        let err = check_source_address("10.1.2.3/8").unwrap_err();
        assert!(err.contains("write 10.0.0.0/8"), "{err}");
        let err = check_source_address("2001:db8::1/32").unwrap_err();
        assert!(err.contains("write 2001:db8::/32"), "{err}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("max_tll", &["max_ttl", "hosts"]),
            "; did you mean \"max_ttl\"?"
        );
        assert_eq!(
            did_you_mean("permit-x11-forwarding", KNOWN_EXTENSIONS),
            "; did you mean \"permit-X11-forwarding\"?"
        );
        assert_eq!(did_you_mean("zzzzzz", &["max_ttl"]), "");
        assert_eq!(did_you_mean("ssh-dss", KNOWN_KEY_TYPES), "");
        assert_eq!(
            did_you_mean("permit-pyt", KNOWN_EXTENSIONS),
            "; did you mean \"permit-pty\"?"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
