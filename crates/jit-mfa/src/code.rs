//! Turning what a user typed into a 6-digit code, or a message telling them what to type.

use crate::error::{Error, Result};
use crate::totp::DIGITS;

/// Normalises a typed code: trims surrounding whitespace, drops the ASCII spaces and
/// `-` people use to group digits (`"123 456"`, `"123-456"`), then requires exactly
/// [`DIGITS`] (6) ASCII digits.
///
/// # Errors
///
/// [`Error::MalformedCode`] ("a TOTP code is 6 digits from your authenticator app")
/// for anything else: letters, 5 or 7 digits, non-ASCII digits such as `"١٢٣٤٥٦"`, an
/// empty string. The error never repeats the input.
pub fn normalise_code(input: &str) -> Result<String> {
    let mut code = String::with_capacity(DIGITS);
    for c in input.trim().chars() {
        match c {
            ' ' | '-' => {}
            '0'..='9' if code.len() < DIGITS => code.push(c),
            _ => return Err(Error::MalformedCode),
        }
    }
    if code.len() == DIGITS {
        Ok(code)
    } else {
        Err(Error::MalformedCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_grouped_codes() {
        for input in [
            "123456",
            " 123456 ",
            "\t123456\n",
            "123 456",
            "123-456",
            "12 34 56",
            "1-2-3-4-5-6",
            "123 - 456",
        ] {
            assert_eq!(normalise_code(input).as_deref(), Ok("123456"), "{input:?}");
        }
    }

    #[test]
    fn leading_zeros_kept() {
        assert_eq!(normalise_code("000 001").as_deref(), Ok("000001"));
    }

    #[test]
    fn malformed_codes_refused() {
        for input in [
            "",
            "   ",
            "-",
            "12345",
            "1234567",
            "123 4567",
            "12345a",
            "abcdef",
            "12345O",
            "123_456",
            "123.456",
            "123\t456",
            "+123456",
            "١٢٣٤٥٦",       // Arabic-Indic digits
            "１２３４５６", // fullwidth digits
            "123456\u{0}",
        ] {
            assert_eq!(
                normalise_code(input),
                Err(Error::MalformedCode),
                "{input:?}"
            );
        }
    }

    #[test]
    fn message_is_helpful_and_does_not_echo_input() {
        let message = normalise_code("98765x").unwrap_err().to_string();
        assert_eq!(
            message,
            "a TOTP code is 6 digits from your authenticator app"
        );
        assert!(!message.contains("98765"));
    }

    proptest! {
        #[test]
        fn six_digits_with_separators_normalise(
            digits in "[0-9]{6}",
            seps in proptest::collection::vec("[ -]{0,2}", 7),
        ) {
            let mut input = String::new();
            for (i, d) in digits.chars().enumerate() {
                input.push_str(&seps[i]);
                input.push(d);
            }
            input.push_str(&seps[6]);
            prop_assert_eq!(normalise_code(&input), Ok(digits));
        }

        #[test]
        fn output_is_always_six_ascii_digits(input in ".{0,20}") {
            if let Ok(code) = normalise_code(&input) {
                prop_assert_eq!(code.len(), DIGITS);
                prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn wrong_digit_count_refused(digits in "[0-9]{0,5}|[0-9]{7,12}") {
            prop_assert_eq!(normalise_code(&digits), Err(Error::MalformedCode));
        }
    }
}
