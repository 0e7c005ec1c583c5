//! Picking a role by host pattern, and showing roles to people.

use jit_proto::api::{RoleInfo, Whoami};
use wildmatch::WildMatch;

use crate::clock::short_duration;
use crate::error::fail;

/// Whether `host` matches one of the role's host patterns (`*`, `?`; case-insensitive).
pub fn matches_host(role: &RoleInfo, host: &str) -> bool {
    role.hosts
        .iter()
        .any(|pattern| WildMatch::new_case_insensitive(pattern).matches(host))
}

/// The first role, in the order the server listed them, whose host patterns match `host`.
pub fn select_for_host<'a>(roles: &'a [RoleInfo], host: &str) -> anyhow::Result<&'a RoleInfo> {
    if let Some(role) = roles.iter().find(|role| matches_host(role, host)) {
        return Ok(role);
    }
    if roles.is_empty() {
        return Err(fail(
            "you have no roles: none of your groups allows any",
            "ask your operator to add you to a group that has a role",
        ));
    }
    let listing: Vec<String> = roles
        .iter()
        .map(|role| format!("  {} (hosts: {})", role.name, patterns(role)))
        .collect();
    Err(fail(
        format!(
            "none of your roles matches host {host:?}; your roles:\n{}",
            listing.join("\n")
        ),
        "pick a role with `--role ROLE`",
    ))
}

fn patterns(role: &RoleInfo) -> String {
    if role.hosts.is_empty() {
        "none; use --role".to_string()
    } else {
        role.hosts.join(", ")
    }
}

/// A few lines describing who the user is and what roles they may use.
pub fn describe(whoami: &Whoami) -> String {
    let mut out = format!("user:   {}\n", whoami.user);
    let groups = if whoami.groups.is_empty() {
        "(none)".to_string()
    } else {
        whoami.groups.join(", ")
    };
    out.push_str(&format!("groups: {groups}\n"));
    if whoami.roles.is_empty() {
        out.push_str("roles:  (none: ask your operator)\n");
        return out;
    }
    out.push_str("roles:\n");
    for role in &whoami.roles {
        out.push_str(&format!(
            "  {}: principals {}; hosts {}; ttl {} (max {})\n",
            role.name,
            role.principals.join(","),
            patterns(role),
            short_duration(role.default_ttl_seconds),
            short_duration(role.max_ttl_seconds),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, hosts: &[&str]) -> RoleInfo {
        RoleInfo {
            name: name.into(),
            principals: vec!["deploy".into()],
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            default_ttl_seconds: 900,
            max_ttl_seconds: 3600,
        }
    }

    #[test]
    fn the_first_matching_role_wins_case_insensitively() {
        let roles = [
            role("db", &["db-*"]),
            role("web", &["web-?", "*.web.example"]),
            role("any", &["*"]),
        ];
        assert_eq!(select_for_host(&roles, "WEB-1").unwrap().name, "web");
        assert_eq!(
            select_for_host(&roles, "a.web.example").unwrap().name,
            "web"
        );
        assert_eq!(select_for_host(&roles, "db-7").unwrap().name, "db");
        assert_eq!(select_for_host(&roles, "web-10").unwrap().name, "any");
    }

    #[test]
    fn no_match_lists_the_roles_and_hints_at_role() {
        let roles = [role("db", &["db-*"]), role("ops", &[])];
        let err = select_for_host(&roles, "web-1").unwrap_err();
        let text = crate::error::report(&err);
        assert!(text.contains("db (hosts: db-*)"), "{text}");
        assert!(text.contains("ops (hosts: none; use --role)"), "{text}");
        assert!(
            text.contains("hint: pick a role with `--role ROLE`"),
            "{text}"
        );
        assert!(select_for_host(&[], "x").is_err());
    }

    #[test]
    fn describe_shows_ttls() {
        let whoami = Whoami {
            user: "alice".into(),
            groups: vec!["sre".into()],
            roles: vec![role("web", &["web-*"])],
        };
        let text = describe(&whoami);
        assert!(
            text.contains("web: principals deploy; hosts web-*; ttl 15m (max 1h)"),
            "{text}"
        );
    }
}
