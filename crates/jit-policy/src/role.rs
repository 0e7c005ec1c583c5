//! A validated role: who may use it, which principals it grants, for how long, with what options.

use std::time::Duration;

use wildmatch::WildMatch;

use crate::approval::ApprovalRule;
use crate::reason::TicketPattern;

/// Certificate extensions OpenSSH knows; a role may grant only these.
pub const KNOWN_EXTENSIONS: &[&str] = &[
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
    "no-touch-required",
];

/// Client key algorithms a role may allow.
///
/// `ssh-rsa`, `rsa-sha2-256` and `rsa-sha2-512` all name RSA keys (an RSA public key's type
/// is always `ssh-rsa`; the other two are its SHA-2 signature algorithms), so allowing any
/// of them allows RSA keys of at least [`MIN_RSA_BITS`].
pub const KNOWN_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa",
];

/// The smallest RSA client key accepted, in bits (DESIGN §5).
pub const MIN_RSA_BITS: u32 = 3072;

/// True for the key type names that mean an RSA key.
pub fn is_rsa_key_type(key_type: &str) -> bool {
    matches!(key_type, "ssh-rsa" | "rsa-sha2-256" | "rsa-sha2-512")
}

/// A role from the policy file, with every inherited default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's name, `[a-z0-9][a-z0-9._-]{0,62}`.
    pub name: String,
    /// Users in any of these groups may use the role.
    pub groups: Vec<String>,
    /// Principals written into the certificate (at least one, all safe names).
    pub principals: Vec<String>,
    /// Host patterns (`*` and `?`, case-insensitive) that make `jit ssh HOST` pick this role.
    pub hosts: Vec<String>,
    /// Certificate lifetime when the request names none.
    pub default_ttl: Duration,
    /// Longest certificate lifetime a request may ask for.
    pub max_ttl: Duration,
    /// How far `valid_after` is set before now, to allow for clock skew.
    pub backdate: Duration,
    /// Certificate extensions granted, from [`KNOWN_EXTENSIONS`].
    pub extensions: Vec<String>,
    /// Client key algorithms allowed, from [`KNOWN_KEY_TYPES`].
    pub key_types: Vec<String>,
    /// Addresses and CIDRs for the `source-address` critical option, if any.
    pub source_address: Option<Vec<String>>,
    /// Command for the `force-command` critical option, if any.
    pub force_command: Option<String>,
    /// Approvals needed before a certificate is issued, if any.
    pub approval: Option<ApprovalRule>,
    /// A request must give a reason. Always true when the role needs approval or is break-glass.
    pub require_reason: bool,
    /// A request must give a ticket matching this pattern, if set.
    pub ticket_pattern: Option<TicketPattern>,
    /// Break-glass: issues at once without approval, but needs a reason, alerts everyone and is
    /// flagged for review. Never combined with `approval`.
    pub break_glass: bool,
    /// Certificates carry a signed log receipt (extension `log-receipt@jit`) that hosts can
    /// require, so a certificate minted outside the log is refused by them.
    pub log_receipt: bool,
}

impl Role {
    /// True when `host` matches one of the role's host patterns, ignoring ASCII case and a
    /// trailing dot. A role without host patterns matches no host.
    pub fn matches_host(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return false;
        }
        self.hosts
            .iter()
            .any(|pattern| WildMatch::new_case_insensitive(pattern).matches(host))
    }

    /// True when `user_groups` shares at least one group with the role.
    pub fn allows_groups(&self, user_groups: &[String]) -> bool {
        self.matching_group(user_groups).is_some()
    }

    /// The first of the role's groups the user is in, if any.
    pub fn matching_group(&self, user_groups: &[String]) -> Option<&str> {
        self.groups
            .iter()
            .find(|g| user_groups.contains(g))
            .map(String::as_str)
    }

    /// The entry of [`Role::key_types`] that allows `key_type`, if any: the same name, or for
    /// RSA any RSA name (see [`KNOWN_KEY_TYPES`]).
    pub fn allowed_key_type(&self, key_type: &str) -> Option<&str> {
        self.key_types
            .iter()
            .find(|k| *k == key_type)
            .or_else(|| {
                if is_rsa_key_type(key_type) {
                    self.key_types.iter().find(|k| is_rsa_key_type(k))
                } else {
                    None
                }
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(hosts: &[&str], key_types: &[&str]) -> Role {
        Role {
            name: "r".into(),
            groups: vec!["sre".into()],
            principals: vec!["deploy".into()],
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            default_ttl: Duration::from_secs(900),
            max_ttl: Duration::from_secs(3600),
            backdate: Duration::from_secs(30),
            extensions: vec![],
            key_types: key_types.iter().map(|s| s.to_string()).collect(),
            source_address: None,
            force_command: None,
            approval: None,
            require_reason: false,
            ticket_pattern: None,
            break_glass: false,
            log_receipt: false,
        }
    }

    #[test]
    fn host_patterns() {
        let r = role(&["web-*", "*.web.prod", "db-?"], &[]);
        for yes in ["web-1", "WEB-1", "a.web.prod", "A.Web.Prod.", "db-1"] {
            assert!(r.matches_host(yes), "{yes}");
        }
        for no in [
            "web",
            "db-10",
            "x.web.prod.evil",
            "",
            ".",
            "web-1 x",
            "api-1",
        ] {
            assert!(!r.matches_host(no), "{no:?}");
        }
        assert!(!role(&[], &[]).matches_host("web-1"));
    }

    #[test]
    fn rsa_names_are_one_family() {
        let r = role(&[], &["ssh-ed25519", "rsa-sha2-512"]);
        assert_eq!(r.allowed_key_type("ssh-rsa"), Some("rsa-sha2-512"));
        assert_eq!(r.allowed_key_type("ssh-ed25519"), Some("ssh-ed25519"));
        assert_eq!(r.allowed_key_type("ecdsa-sha2-nistp256"), None);
        assert_eq!(
            role(&[], &["ssh-ed25519"]).allowed_key_type("ssh-rsa"),
            None
        );
    }
}
