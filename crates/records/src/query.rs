//! Turns a request's query string into what the caller asked for, or names every parameter
//! that is missing, repeated, unknown or out of range.

use std::collections::BTreeMap;

use crate::record::RecordInput;

pub const RECORD_FIELDS: [&str; 3] = ["user_name", "email", "pincode"];
pub const LIST_PARAMETERS: [&str; 2] = ["limit", "cursor"];

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

pub const MISSING: &str = "is required";
pub const REPEATED: &str = "is given more than once";
pub const UNKNOWN: &str = "is not a parameter of this API";
pub const NOT_FOR_INGEST: &str = "applies only to listing records";
pub const LIMIT_OUT_OF_RANGE: &str = "must be a whole number from 1 to 100";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordRequest {
    Ingest(RecordInput),
    List(ListRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub limit: usize,
    /// As the caller sent it; only the cursor codec can say whether it is genuine.
    pub cursor: Option<String>,
}

/// Parameter name → what is wrong with it.
pub type ParameterProblems = BTreeMap<String, String>;

/// Reads the query. `listing_allowed` is false for methods that only ingest (POST, PUT), so an
/// empty query there means "all three fields missing" rather than "list".
pub fn parse(
    query: Option<&str>,
    listing_allowed: bool,
) -> Result<RecordRequest, ParameterProblems> {
    let values = grouped(query);

    let mut problems = ParameterProblems::new();
    for (name, given) in &values {
        let known =
            RECORD_FIELDS.contains(&name.as_str()) || LIST_PARAMETERS.contains(&name.as_str());
        if !known {
            problems.insert(name.clone(), UNKNOWN.into());
        } else if given.len() > 1 {
            problems.insert(name.clone(), REPEATED.into());
        }
    }

    let ingest = !listing_allowed || RECORD_FIELDS.iter().any(|f| values.contains_key(*f));
    if ingest {
        for field in RECORD_FIELDS {
            if !values.contains_key(field) {
                problems.insert(field.into(), MISSING.into());
            }
        }
        for name in LIST_PARAMETERS {
            if values.contains_key(name) {
                problems
                    .entry(name.into())
                    .or_insert_with(|| NOT_FOR_INGEST.into());
            }
        }
    }

    let limit = limit_of(&values, &mut problems);

    if !problems.is_empty() {
        return Err(problems);
    }
    if ingest {
        Ok(RecordRequest::Ingest(RecordInput {
            user_name: single(&values, "user_name").map(str::to_owned),
            email: single(&values, "email").map(str::to_owned),
            pincode: single(&values, "pincode").map(str::to_owned),
        }))
    } else {
        Ok(RecordRequest::List(ListRequest {
            limit,
            cursor: single(&values, "cursor").map(str::to_owned),
        }))
    }
}

/// Reads a query that may only page through a listing (`limit`, `cursor`).
pub fn parse_listing(query: Option<&str>) -> Result<ListRequest, ParameterProblems> {
    let values = grouped(query);
    let mut problems = ParameterProblems::new();
    for (name, given) in &values {
        if !LIST_PARAMETERS.contains(&name.as_str()) {
            problems.insert(name.clone(), UNKNOWN.into());
        } else if given.len() > 1 {
            problems.insert(name.clone(), REPEATED.into());
        }
    }
    let limit = limit_of(&values, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ListRequest {
        limit,
        cursor: single(&values, "cursor").map(str::to_owned),
    })
}

fn grouped(query: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        values
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    values
}

fn limit_of(values: &BTreeMap<String, Vec<String>>, problems: &mut ParameterProblems) -> usize {
    match single(values, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                problems
                    .entry("limit".into())
                    .or_insert_with(|| LIMIT_OUT_OF_RANGE.into());
                DEFAULT_LIMIT
            }
        },
    }
}

fn single<'a>(values: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    match values.get(name).map(Vec::as_slice) {
        Some([one]) => Some(one.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(query: &str, listing_allowed: bool) -> ParameterProblems {
        parse(Some(query), listing_allowed).expect_err("expected parameter problems")
    }

    #[test]
    fn three_fields_make_an_ingest_with_decoded_values() {
        let request = parse(
            Some("user_name=Asha+Rao&email=a%40b.com&pincode=1234"),
            true,
        )
        .unwrap();
        assert_eq!(
            request,
            RecordRequest::Ingest(RecordInput {
                user_name: Some("Asha Rao".into()),
                email: Some("a@b.com".into()),
                pincode: Some("1234".into()),
            })
        );
    }

    #[test]
    fn no_parameters_lists_with_the_default_limit() {
        for query in [None, Some("")] {
            assert_eq!(
                parse(query, true).unwrap(),
                RecordRequest::List(ListRequest {
                    limit: DEFAULT_LIMIT,
                    cursor: None
                })
            );
        }
    }

    #[test]
    fn limit_and_cursor_shape_a_listing() {
        assert_eq!(
            parse(Some("limit=100&cursor=abc"), true).unwrap(),
            RecordRequest::List(ListRequest {
                limit: 100,
                cursor: Some("abc".into())
            })
        );
    }

    #[test]
    fn limit_outside_one_to_hundred_is_refused() {
        for bad in ["0", "101", "-1", "ten", "", "2.5"] {
            assert_eq!(
                problems(&format!("limit={bad}"), true),
                ParameterProblems::from([("limit".into(), LIMIT_OUT_OF_RANGE.into())]),
                "limit={bad}"
            );
        }
    }

    #[test]
    fn a_partial_ingest_names_each_missing_field() {
        assert_eq!(
            problems("email=a@b.com", true),
            ParameterProblems::from([
                ("pincode".into(), MISSING.into()),
                ("user_name".into(), MISSING.into()),
            ])
        );
    }

    #[test]
    fn post_without_parameters_is_an_ingest_missing_everything() {
        assert_eq!(problems("", false).len(), 3);
    }

    #[test]
    fn repeated_and_unknown_parameters_are_named() {
        let found = problems(
            "user_name=a&user_name=b&email=a@b.com&pincode=1234&debug=1",
            true,
        );
        assert_eq!(
            found,
            ParameterProblems::from([
                ("debug".into(), UNKNOWN.into()),
                ("user_name".into(), REPEATED.into()),
            ])
        );
    }

    #[test]
    fn listing_parameters_do_not_mix_with_an_ingest() {
        assert_eq!(
            problems("user_name=a&email=a@b.com&pincode=1234&limit=5", true),
            ParameterProblems::from([("limit".into(), NOT_FOR_INGEST.into())])
        );
    }

    #[test]
    fn a_listing_only_query_refuses_record_fields() {
        assert_eq!(
            parse_listing(Some("limit=5&cursor=c")).unwrap(),
            ListRequest {
                limit: 5,
                cursor: Some("c".into())
            }
        );
        assert_eq!(
            parse_listing(Some("user_name=a&limit=0&cursor=a&cursor=b")).unwrap_err(),
            ParameterProblems::from([
                ("cursor".into(), REPEATED.into()),
                ("limit".into(), LIMIT_OUT_OF_RANGE.into()),
                ("user_name".into(), UNKNOWN.into()),
            ])
        );
    }

    #[test]
    fn an_empty_value_is_present_and_left_to_the_rules() {
        let request = parse(Some("user_name=&email=a@b.com&pincode=1234"), true).unwrap();
        let RecordRequest::Ingest(input) = request else {
            panic!("expected ingest")
        };
        assert_eq!(input.user_name.as_deref(), Some(""));
    }
}
