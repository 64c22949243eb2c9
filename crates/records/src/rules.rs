//! The validation rules of a record, applied by the validate-record step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{Record, RecordId, RecordInput};

pub const USER_NAME_MAX_CHARS: usize = 128;
/// The longest address SMTP can carry (RFC 5321's path limit less its angle brackets).
pub const EMAIL_MAX_CHARS: usize = 254;

pub const USER_NAME_EMPTY: &str = "must not be empty";
pub const USER_NAME_TOO_LONG: &str = "must be at most 128 characters";
pub const USER_NAME_CONTROL: &str = "must not contain control characters";
pub const USER_NAME_BIDI: &str = "must not contain bidirectional override characters";
pub const USER_NAME_INVISIBLE: &str = "must contain a visible character";
pub const EMAIL_TOO_LONG: &str = "must be at most 254 characters";
pub const EMAIL_MALFORMED: &str =
    "must be a letter, then letters or digits, '@', letters or digits, then '.com'";
pub const PINCODE_MALFORMED: &str = "must be 4 to 6 digits";
pub const REQUIRED: &str = "is required";

/// The longest malformed pincode an admin is asked about; a longer one is plainly not a pincode.
pub const PINCODE_REVIEW_MAX_CHARS: usize = 32;

/// Field name → why it was refused. Ordered, so the answer is stable.
pub type FieldProblems = BTreeMap<String, String>;

/// What the validation step tells the state machine: a record ready to store; a record that is
/// half right (a valid name and exactly one of email and pincode valid) and waits for an admin,
/// with what is wrong with it; or the reasons every failing field was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Verdict {
    Valid {
        valid: True,
        record: Record,
    },
    NeedsApproval {
        valid: False,
        needs_approval: True,
        record: Record,
        fields: FieldProblems,
    },
    Invalid {
        valid: False,
        fields: FieldProblems,
    },
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
        Some(email) if email.len() > EMAIL_MAX_CHARS => {
            note(&mut problems, "email", EMAIL_TOO_LONG)
        }
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
        (Some(user_name), Some(email), Some(pincode))
            if is_half_valid(&problems, email, pincode) =>
        {
            let email = if problems.contains_key("email") {
                email.to_owned()
            } else {
                email.to_ascii_lowercase()
            };
            Verdict::NeedsApproval {
                valid: False,
                needs_approval: True,
                record: Record {
                    id: RecordId::for_fields(user_name, &email, pincode),
                    user_name: user_name.to_owned(),
                    email,
                    pincode: pincode.to_owned(),
                    created_at: created_at.to_owned(),
                },
                fields: problems,
            }
        }
        _ => Verdict::Invalid {
            valid: False,
            fields: problems,
        },
    }
}

/// A name that passed, and exactly one of email and pincode malformed, but short enough and free
/// of control characters to be shown to an admin as it was sent. A missing field, an email
/// longer than SMTP carries, or a pincode of more than 32 characters is refused outright.
fn is_half_valid(problems: &FieldProblems, email: &str, pincode: &str) -> bool {
    let shown_safely = |value: &str| !value.chars().any(char::is_control);
    match (problems.get("email"), problems.get("pincode")) {
        _ if problems.len() != 1 => false,
        (Some(why), None) => why == EMAIL_MALFORMED && shown_safely(email),
        (None, Some(why)) => {
            why == PINCODE_MALFORMED
                && pincode.chars().count() <= PINCODE_REVIEW_MAX_CHARS
                && shown_safely(pincode)
        }
        _ => false,
    }
}

fn note(problems: &mut FieldProblems, field: &str, why: &str) {
    problems.insert(field.to_owned(), why.to_owned());
}

/// `trimmed` is the user name after trimming. A name is shown to people and written to logs and
/// terminals, so nothing in it may move a cursor, reorder the text around it, or hide that it is
/// blank.
fn user_name_problem(trimmed: &str) -> Option<&'static str> {
    if trimmed.is_empty() {
        Some(USER_NAME_EMPTY)
    } else if trimmed.chars().count() > USER_NAME_MAX_CHARS {
        Some(USER_NAME_TOO_LONG)
    } else if trimmed.chars().any(char::is_control) {
        Some(USER_NAME_CONTROL)
    } else if trimmed.chars().any(is_bidi_control) {
        Some(USER_NAME_BIDI)
    } else if trimmed
        .chars()
        .all(|c| c.is_whitespace() || is_invisible(c))
    {
        Some(USER_NAME_INVISIBLE)
    } else {
        None
    }
}

/// The explicit embeddings, overrides and isolates of the Unicode bidirectional algorithm
/// (and the pops that end them): the characters that make text display in another order
/// than it is stored.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that take no room when shown: the zero-width space and joiners, the direction
/// marks, the word joiner and invisible operators, the byte order mark, the soft hyphen, the
/// combining grapheme joiner, the Hangul fillers, variation selectors and tag characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
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
            Verdict::Valid { record, .. } | Verdict::NeedsApproval { record, .. } => {
                panic!("expected invalid, got {record:?}")
            }
        }
    }

    fn pending(verdict: Verdict) -> (Record, FieldProblems) {
        match verdict {
            Verdict::NeedsApproval { record, fields, .. } => (record, fields),
            other => panic!("expected a record for approval, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_name_with_one_of_email_and_pincode_wrong_waits_for_an_admin() {
        let (record, fields) = pending(validate(&input(" Asha ", "Asha.Rao@x.com", "560001"), NOW));
        assert_eq!(record.user_name, "Asha");
        assert_eq!(
            record.email, "Asha.Rao@x.com",
            "a malformed email is kept as sent"
        );
        assert_eq!(
            record.id,
            RecordId::for_fields("Asha", "Asha.Rao@x.com", "560001")
        );
        assert_eq!(
            fields,
            FieldProblems::from([("email".into(), EMAIL_MALFORMED.into())])
        );

        let (record, fields) = pending(validate(&input("Asha", "Asha@X.com", "56-001"), NOW));
        assert_eq!(record.email, "asha@x.com", "a valid email is canonical");
        assert_eq!(record.pincode, "56-001");
        assert_eq!(
            fields,
            FieldProblems::from([("pincode".into(), PINCODE_MALFORMED.into())])
        );
    }

    #[test]
    fn what_an_admin_is_not_asked_about_stays_refused() {
        for (name, email, pincode) in [
            ("", "a@b.com", "12"),
            ("Asha", "nope", "12"),
            ("\u{202E}Asha", "nope", "1234"),
            ("Asha", "a@b.com", &"1".repeat(PINCODE_REVIEW_MAX_CHARS + 1)),
            ("Asha", "a@b.com", "12\n34"),
            ("Asha", "a@b\u{1b}.com", "1234"),
            ("Asha", &format!("a{}@b.com", "x".repeat(300)), "1234"),
        ] {
            assert!(
                matches!(
                    validate(&input(name, email, pincode), NOW),
                    Verdict::Invalid { .. }
                ),
                "{name:?} {email:?} {pincode:?}"
            );
        }
        let missing = RecordInput {
            user_name: Some("Asha".into()),
            email: None,
            pincode: Some("1234".into()),
        };
        assert!(matches!(validate(&missing, NOW), Verdict::Invalid { .. }));
        let at_limit = "1".repeat(PINCODE_REVIEW_MAX_CHARS);
        assert!(matches!(
            validate(&input("Asha", "a@b.com", &at_limit), NOW),
            Verdict::NeedsApproval { .. }
        ));
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
    fn user_names_that_would_corrupt_a_page_log_or_terminal_are_refused() {
        let name = |user_name: &str| {
            problems(validate(&input(user_name, "a@b.com", "1234"), NOW))
                .remove("user_name")
                .unwrap_or_else(|| panic!("{user_name:?} should be refused"))
        };
        assert_eq!(name("Asha\0Rao"), USER_NAME_CONTROL);
        assert_eq!(name("Asha\r\nSet-Cookie: x"), USER_NAME_CONTROL);
        assert_eq!(name("\u{1b}[31mAsha\u{1b}[0m"), USER_NAME_CONTROL);
        assert_eq!(name("Asha\tRao"), USER_NAME_CONTROL);
        assert_eq!(name("As\u{85}ha"), USER_NAME_CONTROL);
        assert_eq!(name("Asha\u{7f}Rao"), USER_NAME_CONTROL);
        assert_eq!(name("invoice\u{202E}fdp.exe"), USER_NAME_BIDI);
        assert_eq!(name("\u{2066}Asha\u{2069}"), USER_NAME_BIDI);
        assert_eq!(name("\u{200B}\u{200C}\u{200D}"), USER_NAME_INVISIBLE);
        assert_eq!(name("\u{FEFF} \u{2060}\u{3164}"), USER_NAME_INVISIBLE);
        assert_eq!(name("\u{3000}\u{200B}"), USER_NAME_INVISIBLE);
    }

    #[test]
    fn names_in_any_script_with_joiners_inside_stay_valid() {
        for ok in [
            "Asha Rao",
            "José Müller",
            "محمد",
            "שרה",
            "ஆஷா",
            "张伟",
            "क्‍ष",
            "👩\u{200D}💻 Dev",
            "O'Brien-Smith",
        ] {
            assert!(
                matches!(
                    validate(&input(ok, "a@b.com", "1234"), NOW),
                    Verdict::Valid { .. }
                ),
                "{ok:?} should be valid"
            );
        }
    }

    #[test]
    fn an_email_longer_than_smtp_carries_is_refused_for_its_length() {
        let at_limit = format!("a{}@b.com", "x".repeat(EMAIL_MAX_CHARS - 7));
        assert_eq!(at_limit.len(), EMAIL_MAX_CHARS);
        assert!(matches!(
            validate(&input("A", &at_limit, "1234"), NOW),
            Verdict::Valid { .. }
        ));
        let over = format!("a{}@b.com", "x".repeat(60_000));
        assert_eq!(
            problems(validate(&input("A", &over, "1234"), NOW)),
            FieldProblems::from([("email".into(), EMAIL_TOO_LONG.into())])
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

        let invalid = serde_json::to_value(validate(&input("A", "nope", "1"), NOW)).unwrap();
        assert_eq!(
            invalid,
            serde_json::json!({"valid": false, "fields": {
                "email": EMAIL_MALFORMED, "pincode": PINCODE_MALFORMED
            }})
        );

        let half = validate(&input("A", "a@b.com", "1"), NOW);
        let json = serde_json::to_value(&half).unwrap();
        assert_eq!(json["valid"], serde_json::Value::Bool(false));
        assert_eq!(json["needs_approval"], serde_json::Value::Bool(true));
        assert_eq!(json["record"]["pincode"], "1");
        assert_eq!(
            json["fields"],
            serde_json::json!({"pincode": PINCODE_MALFORMED})
        );
        assert_eq!(serde_json::from_value::<Verdict>(json).unwrap(), half);
    }
}
