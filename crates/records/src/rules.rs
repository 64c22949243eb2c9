//! The validation rules of a record, applied by the validate-record step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{Record, RecordId, RecordInput};

pub const USER_NAME_MAX_CHARS: usize = 128;

pub const USER_NAME_EMPTY: &str = "must not be empty";
pub const USER_NAME_TOO_LONG: &str = "must be at most 128 characters";
pub const EMAIL_MALFORMED: &str =
    "must be a letter, then letters or digits, '@', letters or digits, then '.com'";
pub const PINCODE_MALFORMED: &str = "must be 4 to 6 digits";
pub const REQUIRED: &str = "is required";

/// Field name → why it was refused. Ordered, so the answer is stable.
pub type FieldProblems = BTreeMap<String, String>;

/// What the validation step tells the state machine: a record ready to store, or the reasons
/// every failing field was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Verdict {
    Valid { valid: True, record: Record },
    Invalid { valid: False, fields: FieldProblems },
}

/// `true` as a type, so the verdict's JSON carries a boolean the Choice state can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "bool", into = "bool")]
pub struct True;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "bool", into = "bool")]
pub struct False;

impl From<True> for bool {
    fn from(_: True) -> bool {
        true
    }
}

impl From<False> for bool {
    fn from(_: False) -> bool {
        false
    }
}

impl TryFrom<bool> for True {
    type Error = &'static str;
    fn try_from(value: bool) -> Result<Self, Self::Error> {
        if value {
            Ok(True)
        } else {
            Err("expected true")
        }
    }
}

impl TryFrom<bool> for False {
    type Error = &'static str;
    fn try_from(value: bool) -> Result<Self, Self::Error> {
        if value {
            Err("expected false")
        } else {
            Ok(False)
        }
    }
}

/// Applies every rule and names every failing field. A valid input becomes a [`Record`] in
/// canonical form: the user name trimmed, the email lowercased; its id derives from that form.
pub fn validate(input: &RecordInput, created_at: &str) -> Verdict {
    let mut problems = FieldProblems::new();

    let user_name = input.user_name.as_deref().map(str::trim);
    match user_name {
        None => note(&mut problems, "user_name", REQUIRED),
        Some(name) => {
            if let Some(why) = user_name_problem(name) {
                note(&mut problems, "user_name", why);
            }
        }
    }
    match input.email.as_deref() {
        None => note(&mut problems, "email", REQUIRED),
        Some(email) if !is_valid_email(email) => note(&mut problems, "email", EMAIL_MALFORMED),
        Some(_) => {}
    }
    match input.pincode.as_deref() {
        None => note(&mut problems, "pincode", REQUIRED),
        Some(pincode) if !is_valid_pincode(pincode) => {
            note(&mut problems, "pincode", PINCODE_MALFORMED)
        }
        Some(_) => {}
    }

    match (user_name, input.email.as_deref(), input.pincode.as_deref()) {
        (Some(user_name), Some(email), Some(pincode)) if problems.is_empty() => {
            let email = email.to_ascii_lowercase();
            Verdict::Valid {
                valid: True,
                record: Record {
                    id: RecordId::for_fields(user_name, &email, pincode),
                    user_name: user_name.to_owned(),
                    email,
                    pincode: pincode.to_owned(),
                    created_at: created_at.to_owned(),
                },
            }
        }
        _ => Verdict::Invalid {
            valid: False,
            fields: problems,
        },
    }
}

fn note(problems: &mut FieldProblems, field: &str, why: &str) {
    problems.insert(field.to_owned(), why.to_owned());
}

/// `trimmed` is the user name after trimming.
fn user_name_problem(trimmed: &str) -> Option<&'static str> {
    if trimmed.is_empty() {
        Some(USER_NAME_EMPTY)
    } else if trimmed.chars().count() > USER_NAME_MAX_CHARS {
        Some(USER_NAME_TOO_LONG)
    } else {
        None
    }
}

/// One ASCII letter, then letters or digits, `@`, one or more letters or digits, then `.com`;
/// the whole string, case-insensitive.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let mut local_bytes = local.bytes();
    let starts_with_letter = local_bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let Some(host) = strip_suffix_ignore_ascii_case(domain, ".com") else {
        return false;
    };
    starts_with_letter
        && local_bytes.all(|b| b.is_ascii_alphanumeric())
        && !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn strip_suffix_ignore_ascii_case<'a>(value: &'a str, suffix: &str) -> Option<&'a str> {
    let split = value.len().checked_sub(suffix.len())?;
    let (head, tail) = (value.get(..split)?, value.get(split..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

/// 4 to 6 ASCII digits.
pub fn is_valid_pincode(pincode: &str) -> bool {
    (4..=6).contains(&pincode.len()) && pincode.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-02T03:04:05.678Z";

    fn input(user_name: &str, email: &str, pincode: &str) -> RecordInput {
        RecordInput {
            user_name: Some(user_name.into()),
            email: Some(email.into()),
            pincode: Some(pincode.into()),
        }
    }

    fn problems(verdict: Verdict) -> FieldProblems {
        match verdict {
            Verdict::Invalid { fields, .. } => fields,
            Verdict::Valid { record, .. } => panic!("expected invalid, got {record:?}"),
        }
    }

    #[test]
    fn valid_input_becomes_a_canonical_record() {
        let verdict = validate(&input("  Asha Rao ", "Asha9@Example1.COM", "560001"), NOW);

        let Verdict::Valid { record, .. } = verdict else {
            panic!("expected valid");
        };
        assert_eq!(record.user_name, "Asha Rao");
        assert_eq!(record.email, "asha9@example1.com");
        assert_eq!(record.pincode, "560001");
        assert_eq!(record.created_at, NOW);
        assert_eq!(
            record.id,
            RecordId::for_fields("Asha Rao", "asha9@example1.com", "560001")
        );
    }

    #[test]
    fn differently_cased_email_and_padded_name_map_to_the_same_record() {
        let a = validate(&input("Asha", "ASHA@X.com", "1234"), NOW);
        let b = validate(&input(" Asha ", "asha@x.COM", "1234"), NOW);
        assert_eq!(a, b);
    }

    #[test]
    fn email_rule_accepts_exactly_the_documented_shape() {
        for ok in ["a@b.com", "Z9@x1.COM", "abc123@DOMAIN.Com", "a1@2.com"] {
            assert!(is_valid_email(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            "1a@b.com",
            "a@b.org",
            "a.b@c.com",
            "a@b.c.com",
            "a@.com",
            "@b.com",
            "a@b.com ",
            " a@b.com",
            "a@@b.com",
            "a_b@c.com",
            "a@b-c.com",
            "é@b.com",
            "a@bé.com",
            "a@b.comm",
            "a@b",
            "a@bcom",
        ] {
            assert!(!is_valid_email(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn pincode_is_four_to_six_ascii_digits() {
        for ok in ["1234", "12345", "123456", "0000"] {
            assert!(is_valid_pincode(ok), "{ok}");
        }
        for bad in [
            "", "123", "1234567", "12a4", " 1234", "١٢٣٤", "12.4", "-1234",
        ] {
            assert!(!is_valid_pincode(bad), "{bad:?}");
        }
    }

    #[test]
    fn user_name_must_have_content_and_at_most_128_characters() {
        assert_eq!(
            problems(validate(&input("   ", "a@b.com", "1234"), NOW)),
            FieldProblems::from([("user_name".into(), USER_NAME_EMPTY.into())])
        );
        let exactly_128 = "é".repeat(128);
        assert!(matches!(
            validate(&input(&format!(" {exactly_128} "), "a@b.com", "1234"), NOW),
            Verdict::Valid { .. }
        ));
        assert_eq!(
            problems(validate(&input(&"x".repeat(129), "a@b.com", "1234"), NOW)),
            FieldProblems::from([("user_name".into(), USER_NAME_TOO_LONG.into())])
        );
    }

    #[test]
    fn every_failing_field_is_named() {
        let fields = problems(validate(&input("", "nope", "12"), NOW));
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["email", "pincode", "user_name"]
        );
        assert_eq!(fields["email"], EMAIL_MALFORMED);
        assert_eq!(fields["pincode"], PINCODE_MALFORMED);
    }

    #[test]
    fn absent_fields_are_required() {
        let fields = problems(validate(&RecordInput::default(), NOW));
        assert_eq!(fields.len(), 3);
        assert!(fields.values().all(|why| why == REQUIRED));
    }

    #[test]
    fn verdict_json_has_a_boolean_the_state_machine_branches_on() {
        let valid = serde_json::to_value(validate(&input("A", "a@b.com", "1234"), NOW)).unwrap();
        assert_eq!(valid["valid"], serde_json::Value::Bool(true));
        assert_eq!(valid["record"]["email"], "a@b.com");

        let invalid = serde_json::to_value(validate(&input("A", "a@b.com", "1"), NOW)).unwrap();
        assert_eq!(
            invalid,
            serde_json::json!({"valid": false, "fields": {"pincode": PINCODE_MALFORMED}})
        );
    }
}
