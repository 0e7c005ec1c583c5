//! The validated policy: its roles by name, the hash of its file, and role lookups.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::error::PolicyErrors;
use crate::evaluate::Identity;
use crate::hours::BusinessHours;
use crate::role::Role;

/// A parsed and validated policy file.
///
/// Build one with [`Policy::parse`]; every value in it has been checked, so code that uses
/// it need not check again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    roles: BTreeMap<String, Role>,
    business_hours: Option<BusinessHours>,
    hash: String,
}

impl Policy {
    /// Parse and validate a policy file (TOML). On failure, every problem found is returned,
    /// each with its 1-based line and a message that says what to fix.
    pub fn parse(text: &str) -> std::result::Result<Policy, PolicyErrors> {
        let parsed = crate::parse::parse(text)?;
        Ok(Policy {
            roles: parsed.roles,
            business_hours: parsed.business_hours,
            hash: hash_text(text),
        })
    }

    /// The policy's `[business_hours]`, if it sets them.
    pub fn business_hours(&self) -> Option<&BusinessHours> {
        self.business_hours.as_ref()
    }

    /// `sha256:` and the lowercase hex SHA-256 of the exact file text, recorded with every
    /// issuance so auditors know which policy allowed it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The role of that name, if any.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    /// All roles, in name order.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// The roles the user may use (their groups meet the role's groups), in name order.
    pub fn roles_for<'a>(&'a self, identity: &Identity<'_>) -> Vec<&'a Role> {
        self.roles
            .values()
            .filter(|r| r.allows_groups(identity.groups))
            .collect()
    }

    /// The first role, in name order, that the user may use and whose host patterns match
    /// `host` (ignoring case), so `jit ssh HOST` can pick a role without being told.
    pub fn role_for_host<'a>(&'a self, identity: &Identity<'_>, host: &str) -> Option<&'a Role> {
        self.roles
            .values()
            .find(|r| r.allows_groups(identity.groups) && r.matches_host(host))
    }
}

/// The policy hash of a file's text: `sha256:<lowercase hex>`.
pub fn hash_text(text: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}
