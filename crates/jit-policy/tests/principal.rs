//! Safe names (DESIGN §5): hostile strings are refused, the safe alphabet is accepted.

use jit_policy::{validate_group_name, validate_principal, validate_user_name};
use proptest::prelude::*;

/// Characters no principal, user or group name may hold.
const FORBIDDEN: &[char] = &[
    ',', '*', '?', '!', '"', ' ', '\t', '\n', '\r', '\u{0}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}',
    '\u{a0}', '\u{2028}', '\u{3000}', '\'', '/', '\\', '#', '$', '`', ';', '%', ':', '=', '+', '~',
    '(', ')', '<', '>', '|', '&', '[', ']', '{', '}',
];

fn forbidden_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::sample::select(FORBIDDEN),
        any::<char>().prop_filter("whitespace or control", |c| c.is_whitespace()
            || c.is_control()),
        any::<char>().prop_filter("non-ASCII", |c| !c.is_ascii()),
    ]
}

#[test]
fn hostile_strings_are_refused() {
    let long = "a".repeat(65);
    let hostile = [
        "root,admin",
        "*",
        "a b",
        "a\nb",
        "\u{0}",
        "ro\"ot",
        "-oProxyCommand",
        "-",
        "",
        long.as_str(),
        "root\t",
        " root",
        "root\r",
        "\u{7f}",
        "ro'ot",
        "a/b",
        "..\\x",
        "root!",
        "roo?",
        "röot",
        "\u{202e}toor",
        "root\u{a0}",
        "$(id)",
        "`id`",
        "a;b",
        "user#1",
    ];
    for s in hostile {
        assert!(validate_principal(s).is_err(), "principal {s:?}");
        assert!(validate_user_name(s).is_err(), "user {s:?}");
        assert!(validate_group_name(s).is_err(), "group {s:?}");
    }
}

#[test]
fn ordinary_names_are_accepted() {
    let longest = "a".repeat(64);
    for s in [
        "root",
        "deploy",
        "web",
        "a",
        "A-b_c.d",
        "0",
        "x-",
        "svc.web_1",
        longest.as_str(),
    ] {
        assert!(validate_principal(s).is_ok(), "{s}");
        assert!(validate_user_name(s).is_ok(), "{s}");
        assert!(validate_group_name(s).is_ok(), "{s}");
    }
    assert!(validate_principal("alice@example.com").is_ok());
    assert!(
        validate_user_name("alice@example.com").is_err(),
        "'@' splits key IDs"
    );
}

proptest! {
    #[test]
    fn safe_alphabet_is_always_accepted(s in "[A-Za-z0-9._@][A-Za-z0-9._@-]{0,63}") {
        prop_assert!(validate_principal(&s).is_ok(), "{:?}", s);
        prop_assert!(validate_group_name(&s).is_ok(), "{:?}", s);
    }

    #[test]
    fn safe_user_names_are_always_accepted(s in "[A-Za-z0-9._][A-Za-z0-9._-]{0,63}") {
        prop_assert!(validate_user_name(&s).is_ok(), "{:?}", s);
    }

    #[test]
    fn a_forbidden_character_anywhere_is_refused(
        head in "[A-Za-z0-9._@-]{0,40}",
        bad in forbidden_char(),
        tail in "[A-Za-z0-9._@-]{0,20}",
    ) {
        // Everything else is safe, so only `bad` can be the reason for refusing.
        let s = format!("{head}{bad}{tail}");
        prop_assert!(validate_principal(&s).is_err(), "{:?}", s);
        prop_assert!(validate_user_name(&s).is_err(), "{:?}", s);
        prop_assert!(validate_group_name(&s).is_err(), "{:?}", s);
    }

    #[test]
    fn the_design_list_is_refused(
        head in "[A-Za-z0-9._@]{1,30}",
        bad in proptest::sample::select(&[',', '*', '?', '!', '"', ' ', '\t', '\n', '\r', '\u{0}', '\u{1f}', '\u{7f}'][..]),
        tail in "[A-Za-z0-9._@-]{0,30}",
    ) {
        let s = format!("{head}{bad}{tail}");
        prop_assert!(validate_principal(&s).is_err(), "{:?}", s);
    }

    #[test]
    fn whatever_is_accepted_is_safe(
        chars in proptest::collection::vec(
            prop_oneof![
                3 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9'].into()),
                1 => proptest::sample::select(&['.', '_', '@', '-'][..]),
                1 => forbidden_char(),
            ],
            1..24,
        ),
        arbitrary in any::<String>(),
    ) {
        for s in [chars.into_iter().collect::<String>(), arbitrary] {
            if validate_principal(&s).is_ok() {
                prop_assert!((1..=64).contains(&s.len()), "{:?}", s);
                prop_assert!(!s.starts_with('-'), "{:?}", s);
                prop_assert!(
                    s.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c)),
                    "{:?}", s
                );
            }
        }
    }

    #[test]
    fn a_leading_dash_or_too_many_characters_is_refused(
        s in "[A-Za-z0-9._@-]{0,63}",
        long in "[A-Za-z0-9._@][A-Za-z0-9._@-]{64,100}",
    ) {
        let dashed = format!("-{s}");
        prop_assert!(validate_principal(&dashed).is_err());
        prop_assert!(validate_principal(&long).is_err());
    }
}
