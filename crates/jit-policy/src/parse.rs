//! Policy text to validated roles: TOML syntax, unknown keys, types, then each value's meaning.
//!
//! Nothing stops at the first problem. Syntax errors are all reported (and nothing else, since
//! the document is not trustworthy then); unknown keys are reported and dropped so the rest of
//! their table is still checked; a table whose values have the wrong TOML type is reported
//! once and skipped; every value of every other table is checked. Byte spans from the TOML
//! parser become 1-based line numbers.

mod check;
mod gates;
mod hours;

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::duration::DurationText;
use crate::error::PolicyErrors;
use crate::hours::BusinessHours;
use crate::principal::{validate_group_name, validate_principal, validate_role_name};
use crate::role::Role;

use check::{Checker, Level, Setting};

/// Certificate lifetime when neither the role nor `[defaults]` sets `default_ttl`.
pub const BUILTIN_DEFAULT_TTL: Duration = Duration::from_secs(30 * 60);
/// Longest lifetime when neither the role nor `[defaults]` sets `max_ttl`.
pub const BUILTIN_MAX_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// Clock-skew allowance when neither the role nor `[defaults]` sets `backdate`.
pub const BUILTIN_BACKDATE: Duration = Duration::from_secs(30);
/// Extensions when neither the role nor `[defaults]` sets `extensions`.
pub const BUILTIN_EXTENSIONS: &[&str] = &["permit-pty"];
/// Client key types when neither the role nor `[defaults]` sets `key_types`.
pub const BUILTIN_KEY_TYPES: &[&str] = &["ssh-ed25519"];

const TOP_KEYS: &[&str] = &["defaults", "business_hours", "roles"];
const DEFAULTS_KEYS: &[&str] = &[
    "default_ttl",
    "max_ttl",
    "backdate",
    "extensions",
    "key_types",
];
const ROLE_KEYS: &[&str] = &[
    "groups",
    "principals",
    "hosts",
    "default_ttl",
    "max_ttl",
    "backdate",
    "extensions",
    "key_types",
    "source_address",
    "force_command",
    "approval",
    "require_reason",
    "ticket_pattern",
    "break_glass",
    "log_receipt",
];

type SpannedList = Spanned<Vec<Spanned<String>>>;

/// `[defaults]` as written; also the inheritable part of a role.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    default_ttl: Option<Spanned<DurationText>>,
    max_ttl: Option<Spanned<DurationText>>,
    backdate: Option<Spanned<DurationText>>,
    extensions: Option<SpannedList>,
    key_types: Option<SpannedList>,
}

/// `[roles.NAME]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    groups: Option<SpannedList>,
    principals: Option<SpannedList>,
    hosts: Option<SpannedList>,
    default_ttl: Option<Spanned<DurationText>>,
    max_ttl: Option<Spanned<DurationText>>,
    backdate: Option<Spanned<DurationText>>,
    extensions: Option<SpannedList>,
    key_types: Option<SpannedList>,
    source_address: Option<SpannedList>,
    force_command: Option<Spanned<String>>,
    // `approval` is a table of its own, taken out before the rest is read (see `parse_role`).
    require_reason: Option<Spanned<bool>>,
    ticket_pattern: Option<Spanned<String>>,
    break_glass: Option<Spanned<bool>>,
    log_receipt: Option<Spanned<bool>>,
}

/// A validated policy file, before it is hashed.
pub(crate) struct Parsed {
    pub(crate) roles: BTreeMap<String, Role>,
    pub(crate) business_hours: Option<BusinessHours>,
}

/// Settings a role inherits from `[defaults]`, which inherits from the built-in values.
#[derive(Debug, Clone)]
struct Inherited {
    default_ttl: Setting<Duration>,
    max_ttl: Setting<Duration>,
    backdate: Setting<Duration>,
    extensions: Setting<Vec<String>>,
    key_types: Setting<Vec<String>>,
}

impl Inherited {
    fn builtin() -> Self {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Inherited {
            default_ttl: Setting::builtin(BUILTIN_DEFAULT_TTL),
            max_ttl: Setting::builtin(BUILTIN_MAX_TTL),
            backdate: Setting::builtin(BUILTIN_BACKDATE),
            extensions: Setting::builtin(owned(BUILTIN_EXTENSIONS)),
            key_types: Setting::builtin(owned(BUILTIN_KEY_TYPES)),
        }
    }

    /// Every setting unknown: `[defaults]` could not be read, so nothing that depends on it
    /// is checked (it would only repeat that problem in other words).
    fn unknown() -> Self {
        Inherited {
            default_ttl: Setting::invalid(),
            max_ttl: Setting::invalid(),
            backdate: Setting::invalid(),
            extensions: Setting::invalid(),
            key_types: Setting::invalid(),
        }
    }

    /// Layer the values written at `level` over `self`, checking each.
    fn layer(
        &self,
        c: &mut Checker<'_>,
        level: Level,
        scope: &str,
        written: RawDefaults,
    ) -> Inherited {
        let RawDefaults {
            default_ttl,
            max_ttl,
            backdate,
            extensions,
            key_types,
        } = written;
        let layered = Inherited {
            default_ttl: match default_ttl {
                Some(v) => c.ttl(level, scope, "default_ttl", v),
                None => self.default_ttl.clone(),
            },
            max_ttl: match max_ttl {
                Some(v) => c.max_ttl(level, scope, v),
                None => self.max_ttl.clone(),
            },
            backdate: match backdate {
                Some(v) => c.backdate(level, scope, v),
                None => self.backdate.clone(),
            },
            extensions: match extensions {
                Some(v) => c.extensions(level, scope, v),
                None => self.extensions.clone(),
            },
            key_types: match key_types {
                Some(v) => c.key_types(level, scope, v),
                None => self.key_types.clone(),
            },
        };
        c.ttl_order(level, scope, &layered.default_ttl, &layered.max_ttl);
        layered
    }
}

/// Parse and validate policy text into roles by name and the business hours.
pub(crate) fn parse(text: &str) -> std::result::Result<Parsed, PolicyErrors> {
    let mut c = Checker::new(text);
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            let offset = e.span().map_or(0, |s| s.start);
            c.error_at(offset, format!("TOML syntax: {}", e.message()));
        }
        return Err(c.finish());
    }
    let doc_span = doc.span();
    let mut doc = doc.into_inner();
    c.drop_unknown_keys(&mut doc, TOP_KEYS, "at the top level");

    let inherited = match doc.remove("defaults") {
        None => Inherited::builtin(),
        Some(value) => match deserialize::<RawDefaults>(&mut c, "[defaults]", DEFAULTS_KEYS, value)
        {
            None => Inherited::unknown(),
            Some(raw) => Inherited::builtin().layer(&mut c, Level::Defaults, "[defaults]", raw),
        },
    };

    let business_hours = doc
        .remove_entry("business_hours")
        .and_then(|(key, value)| hours::business_hours(&mut c, key.span(), value));

    let mut roles = BTreeMap::new();
    let mut role_count = 0;
    let mut roles_span = doc_span;
    if let Some((key, value)) = doc.remove_entry("roles") {
        roles_span = key.span();
        let value_span = value.span();
        match value.into_inner() {
            DeValue::Table(table) => {
                role_count = table.len();
                for (name, value) in table {
                    let name_span = name.span();
                    let name = name.into_inner().into_owned();
                    if let Some(role) = parse_role(&mut c, &inherited, name, name_span, value) {
                        roles.insert(role.name.clone(), role);
                    }
                }
            }
            other => c.error(
                value_span,
                format!(
                    "`roles` must be a table of roles, not {}; write each role as [roles.NAME]",
                    a_type(&other)
                ),
            ),
        }
    }
    if role_count == 0 {
        c.error(
            roles_span,
            "the policy has no roles; add at least one [roles.NAME] table with groups and principals",
        );
    }

    let errors = c.finish();
    if errors.is_empty() {
        Ok(Parsed {
            roles,
            business_hours,
        })
    } else {
        Err(errors)
    }
}

/// Check one `[roles.NAME]` table; `None` when it has any problem (already reported).
fn parse_role(
    c: &mut Checker<'_>,
    inherited: &Inherited,
    name: String,
    name_span: Range<usize>,
    mut value: Spanned<DeValue<'_>>,
) -> Option<Role> {
    let before = c.count();
    let display_name = match validate_role_name(&name) {
        Ok(()) => name.clone(),
        Err(e) => {
            c.error(
                name_span.clone(),
                format!("{e}; a role name looks like web-oncall or db-admin"),
            );
            crate::error::shown(&name)
        }
    };
    let scope = format!("role {display_name}");
    let table_name = format!("[roles.{display_name}]");
    let approval = match value.get_mut() {
        DeValue::Table(table) => table
            .remove_entry("approval")
            .map(|(key, value)| (key.span(), value)),
        _ => None,
    };
    let raw: RawRole = deserialize(c, &table_name, ROLE_KEYS, value)?;

    let groups = match raw.groups {
        None => {
            c.error(
                name_span.clone(),
                format!(
                    "{scope} has no `groups`; add groups = [\"GROUP\", ...] listing who may use it"
                ),
            );
            None
        }
        Some(list) => c.names(&scope, "group", list, validate_group_name),
    };
    let principals = match raw.principals {
        None => {
            c.error(
                name_span.clone(),
                format!("{scope} has no `principals`; add principals = [\"ACCOUNT\", ...] naming the accounts the certificate is for"),
            );
            None
        }
        Some(list) => c.names(&scope, "principal", list, validate_principal),
    };
    let hosts = match raw.hosts {
        None => Some(Vec::new()),
        Some(list) => c.host_patterns(&scope, list),
    };
    let source_address = match raw.source_address {
        None => Some(None),
        Some(list) => c.source_addresses(&scope, list).map(Some),
    };
    let force_command = match raw.force_command {
        None => Some(None),
        Some(cmd) => c.force_command(&scope, cmd).map(Some),
    };
    // A role sets the same inheritable keys [defaults] does.
    let written = RawDefaults {
        default_ttl: raw.default_ttl,
        max_ttl: raw.max_ttl,
        backdate: raw.backdate,
        extensions: raw.extensions,
        key_types: raw.key_types,
    };
    let settings = inherited.layer(c, Level::Role, &scope, written);
    let role_gates = gates::check(
        c,
        &display_name,
        gates::RawGates {
            approval,
            require_reason: raw.require_reason,
            ticket_pattern: raw.ticket_pattern,
            break_glass: raw.break_glass,
        },
    );

    let role_gates = role_gates?;
    if c.count() != before {
        return None;
    }
    Some(Role {
        name,
        groups: groups?,
        principals: principals?,
        hosts: hosts?,
        default_ttl: settings.default_ttl.value?,
        max_ttl: settings.max_ttl.value?,
        backdate: settings.backdate.value?,
        extensions: settings.extensions.value?,
        key_types: settings.key_types.value?,
        source_address: source_address?,
        force_command: force_command?,
        approval: role_gates.approval,
        require_reason: role_gates.require_reason,
        ticket_pattern: role_gates.ticket_pattern,
        break_glass: role_gates.break_glass,
        log_receipt: raw.log_receipt.as_ref().is_some_and(|b| *b.get_ref()),
    })
}

/// Report and drop unknown keys of a table, then deserialize what is left into `T`.
/// `None` when the value is not a table or a value has the wrong type (reported).
fn deserialize<'de, T: Deserialize<'de>>(
    c: &mut Checker<'_>,
    table_name: &str,
    allowed: &[&str],
    value: Spanned<DeValue<'de>>,
) -> Option<T> {
    let span = value.span();
    let mut table = match value.into_inner() {
        DeValue::Table(table) => table,
        other => {
            c.error(
                span,
                format!(
                    "{table_name} must be a table, not {}; write {table_name} on its own line followed by its keys",
                    a_type(&other)
                ),
            );
            return None;
        }
    };
    c.drop_unknown_keys(&mut table, allowed, &format!("in {table_name}"));
    let value = Spanned::new(span.clone(), DeValue::Table(table));
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(raw) => Some(raw),
        Err(e) => {
            c.error(
                e.span().unwrap_or(span),
                format!("{table_name}: {}", e.message()),
            );
            None
        }
    }
}

/// "a string", "an integer": a TOML type for a message.
fn a_type(value: &DeValue<'_>) -> String {
    let t = value.type_str();
    let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {t}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lists_match_the_structs() {
        let role = ROLE_KEYS
            .iter()
            // `approval` is read on its own (see `parse_role`).
            .filter(|k| **k != "approval")
            .map(|k| match *k {
                "force_command" | "ticket_pattern" => format!("{k} = \"x\""),
                "default_ttl" | "max_ttl" | "backdate" => format!("{k} = \"1m\""),
                "require_reason" | "break_glass" | "log_receipt" => format!("{k} = true"),
                _ => format!("{k} = [\"x\"]"),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(toml::from_str::<RawRole>(&role).is_ok(), "{role}");
        let defaults = DEFAULTS_KEYS
            .iter()
            .map(|k| match *k {
                "default_ttl" | "max_ttl" | "backdate" => format!("{k} = \"1m\""),
                _ => format!("{k} = [\"x\"]"),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            toml::from_str::<RawDefaults>(&defaults).is_ok(),
            "{defaults}"
        );
        // And the structs really refuse what the lists do not name.
        assert!(toml::from_str::<RawRole>("bogus = 1").is_err());
        assert!(toml::from_str::<RawDefaults>("groups = []").is_err());
    }
}
