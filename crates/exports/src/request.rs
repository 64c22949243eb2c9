//! `POST /exports`: what a client asks for, checked.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::{Date, Duration, Month};

/// The longest period one export covers, both ends included.
pub const MAX_DAYS: i64 = 14;

/// An export asked for: the events of one app on the UTC days `from..=to`, mailed to `email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    pub app_id: String,
    pub from: Date,
    pub to: Date,
    pub email: String,
}

/// Field → what is wrong with it.
pub type Problems = BTreeMap<String, String>;

const FIELDS: [&str; 4] = ["app_id", "from", "to", "email"];

impl ExportRequest {
    /// From the named values of a JSON object or a form, checked against `today` (UTC).
    pub fn parse(values: &[(String, Value)], today: Date) -> Result<ExportRequest, Problems> {
        let mut problems = Problems::new();
        let mut given: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in values {
            if !FIELDS.contains(&name.as_str()) {
                problems.insert(name.clone(), "not a field of an export request".into());
                continue;
            }
            match value {
                Value::String(text) if given.insert(name, text).is_some() => {
                    problems.insert(name.clone(), "given more than once".into());
                }
                Value::String(_) => {}
                _ => {
                    problems.insert(name.clone(), "must be a string".into());
                }
            }
        }
        let mut field = |name: &str| -> Option<String> {
            match given.get(name).map(|v| v.trim()) {
                Some(value) if !value.is_empty() => Some(value.to_owned()),
                _ => {
                    problems
                        .entry(name.into())
                        .or_insert_with(|| "required".into());
                    None
                }
            }
        };
        let (app_id, from, to, email) =
            (field("app_id"), field("from"), field("to"), field("email"));

        let app_id = app_id.filter(|app| {
            let ok = valid_app_id(app);
            if !ok {
                problems.insert("app_id".into(), "1 to 64 of A-Z a-z 0-9 . _ -".into());
            }
            ok
        });
        let mut date = |name: &str, text: Option<String>| {
            let text = text?;
            let parsed = parse_date(&text);
            match parsed {
                None => {
                    problems.insert(name.into(), "a date as YYYY-MM-DD".into());
                }
                Some(day) if day > today => {
                    problems.insert(name.into(), format!("after today ({today})"));
                }
                Some(_) => {}
            }
            parsed.filter(|day| *day <= today)
        };
        let (from, to) = (date("from", from), date("to", to));
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                problems.insert("to".into(), "before from".into());
            } else if (to - from).whole_days() >= MAX_DAYS {
                problems.insert(
                    "to".into(),
                    format!(
                        "the period is at most {MAX_DAYS} days: to may be {} at the latest",
                        from + Duration::days(MAX_DAYS - 1)
                    ),
                );
            }
        }
        let email = email.filter(|email| {
            let ok = valid_email(email);
            if !ok {
                problems.insert("email".into(), "an email address".into());
            }
            ok
        });
        match (app_id, from, to, email) {
            (Some(app_id), Some(from), Some(to), Some(email)) if problems.is_empty() => {
                Ok(ExportRequest {
                    app_id,
                    from,
                    to,
                    email,
                })
            }
            _ => Err(problems),
        }
    }

    /// The days of the period, in order.
    pub fn days(&self) -> impl Iterator<Item = Date> + '_ {
        let mut day = Some(self.from);
        std::iter::from_fn(move || {
            let current = day.filter(|d| *d <= self.to)?;
            day = current.next_day();
            Some(current)
        })
    }

    /// Identifies the same request (the same app, period and address, whatever the case of
    /// the address's domain): the same request again while its export is queued gets that
    /// export.
    pub fn request_key(&self) -> String {
        let email = match self.email.rsplit_once('@') {
            Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
            None => self.email.clone(),
        };
        let digest = Sha256::digest(format!(
            "{}\n{}\n{}\n{email}",
            self.app_id, self.from, self.to
        ));
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The app ids ad events are stored under (the bridge's check).
pub fn valid_app_id(app: &str) -> bool {
    (1..=64).contains(&app.len())
        && app
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `local@domain.tld`: printable ASCII without spaces or the characters that would break a
/// mail header, a local part of at most 64, a domain with a dot, at most 254 in all.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= 254
        && (1..=64).contains(&local.len())
        && email.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'<' | b'>' | b'(' | b')' | b',' | b';' | b':' | b'"' | b'\\'
                )
        })
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// `YYYY-MM-DD`, a real date.
pub fn parse_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let day = u8::try_from(number(8..10)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 12 - 03);

    fn values(pairs: &[(&str, &str)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ExportRequest, Problems> {
        ExportRequest::parse(&values(pairs), TODAY)
    }

    fn problem(pairs: &[(&str, &str)], field: &str) -> String {
        parse(pairs)
            .expect_err("refused")
            .get(field)
            .cloned()
            .unwrap_or_else(|| panic!("{field} named"))
    }

    const GOOD: [(&str, &str); 4] = [
        ("app_id", "com.example.game"),
        ("from", "2026-11-20"),
        ("to", "2026-12-03"),
        ("email", "ops@Example.com"),
    ];

    fn with(field: &str, value: &str) -> Vec<(&'static str, String)> {
        GOOD.iter()
            .map(|(k, v)| {
                (
                    *k,
                    if *k == field {
                        value.to_owned()
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect()
    }

    fn problem_with(field: &str, value: &str) -> String {
        let pairs = with(field, value);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        problem(&pairs, field)
    }

    #[test]
    fn fourteen_days_ending_today_is_an_export_and_its_days_run_in_order() {
        let request = parse(&GOOD).unwrap();
        let days: Vec<Date> = request.days().collect();
        assert_eq!(days.len(), 14);
        assert_eq!((days[0], days[13]), (date!(2026 - 11 - 20), TODAY));
    }

    #[test]
    fn fifteen_days_a_reversed_period_and_the_future_name_the_field() {
        let pairs = with("from", "2026-11-19");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert!(problem(&pairs, "to").contains("at most 14 days: to may be 2026-12-02"));
        let pairs = with("to", "2026-11-19");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(problem(&pairs, "to"), "before from");
        assert_eq!(problem_with("to", "2026-12-04"), "after today (2026-12-03)");
    }

    #[test]
    fn malformed_values_and_unknown_fields_are_named_all_at_once() {
        let refused = parse(&[
            ("app_id", "com example"),
            ("from", "2026-02-30"),
            ("to", "yesterday"),
            ("email", "ops@localhost"),
            ("format", "xlsx"),
        ])
        .unwrap_err();
        assert_eq!(
            refused.keys().map(String::as_str).collect::<Vec<_>>(),
            ["app_id", "email", "format", "from", "to"]
        );
        assert_eq!(parse(&[]).unwrap_err().len(), 4, "every field required");
        let number = ExportRequest::parse(&[("from".into(), json!(20261120))], TODAY).unwrap_err();
        assert_eq!(number["from"], "must be a string");
    }

    #[test]
    fn the_same_request_has_the_same_key_whatever_the_case_of_the_domain() {
        let a = parse(&GOOD).unwrap();
        let pairs = with("email", "ops@EXAMPLE.COM");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let b = parse(&pairs).unwrap();
        assert_eq!(a.request_key(), b.request_key());
        let pairs = with("to", "2026-12-02");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_ne!(a.request_key(), parse(&pairs).unwrap().request_key());
    }
}
