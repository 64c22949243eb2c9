//! The records pipeline end to end: the function URL served by `cargo lambda watch`, the
//! ingest-record state machine executing in the local stack, DynamoDB read back with the SDK.
//! Needs `make up` (which `make test` runs); the tests share one table and run one at a time.

mod support;

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{LocalStack, unique};

#[tokio::test]
async fn a_valid_ingest_lands_in_dynamodb_with_every_field() {
    let stack = LocalStack::connect().await;
    let name = unique("Asha");

    let (status, body) = stack
        .call(
            Method::GET,
            &[
                ("user_name", &format!("  {name} ")),
                ("email", "Asha.Rao@Example.com"),
                ("pincode", "560001"),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "a dot is not allowed in the email, so an admin decides: {body}"
    );
    assert_eq!(body["status"], "pending_approval");
    let pending = body["approval_id"].as_str().unwrap();
    assert!(
        stack.stored(pending).await.is_none(),
        "nothing stored before a decision"
    );

    let (status, body) = stack
        .call(
            Method::GET,
            &[
                ("user_name", &format!("  {name} ")),
                ("email", "AshaRao@Example.com"),
                ("pincode", "560001"),
            ],
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let record = &body["record"];
    assert_eq!(record["user_name"], json!(name));
    assert_eq!(record["email"], "asharao@example.com");
    assert_eq!(record["pincode"], "560001");
    let stored = stack
        .stored(record["id"].as_str().unwrap())
        .await
        .expect("record in DynamoDB");
    assert_eq!(&stored, record);
}

#[tokio::test]
async fn each_invalid_field_is_a_400_naming_it_and_nothing_is_written() {
    let stack = LocalStack::connect().await;
    let long_name = "x".repeat(129);
    let long_email = format!("a{}@b.com", "x".repeat(250));
    let long_pincode = "1".repeat(33);
    // One malformed field beside a valid name goes to an admin instead (see the approvals
    // suite), unless it is over its length limit or holds a control character.
    let cases: [(&str, &str, &str, &[&str]); 7] = [
        ("   ", "a@b.com", "1234", &["user_name"]),
        (&long_name, "a@b.com", "1234", &["user_name"]),
        ("Ravi", &long_email, "1234", &["email"]),
        ("Ravi", "ravi@b.com", &long_pincode, &["pincode"]),
        ("Ravi", "ravi@b.com", "12\n34", &["pincode"]),
        ("Ravi", "ravi@b.org", "12a4", &["email", "pincode"]),
        ("", "nope", "1234567", &["email", "pincode", "user_name"]),
    ];
    let before = stack.count().await;

    for (user_name, email, pincode, failing) in cases {
        let (status, body) = stack
            .call(
                Method::GET,
                &[
                    ("user_name", user_name),
                    ("email", email),
                    ("pincode", pincode),
                ],
            )
            .await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "validation_failed");
        let named: Vec<&str> = body["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(named, failing, "{body}");
    }
    assert_eq!(stack.count().await, before, "a refused record was written");
}

#[tokio::test]
async fn missing_repeated_and_unknown_parameters_are_400s_naming_them() {
    let stack = LocalStack::connect().await;
    let before = stack.count().await;

    let (status, body) = stack
        .call(
            Method::GET,
            &[("user_name", "Ravi"), ("email", "ravi@b.com")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameters"], json!({"pincode": "is required"}));

    let (status, body) = stack
        .call(
            Method::POST,
            &[
                ("user_name", "Ravi"),
                ("user_name", "Ravi"),
                ("email", "ravi@b.com"),
                ("pincode", "1234"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["parameters"],
        json!({"user_name": "is given more than once", "role": "is not a parameter of this API"})
    );
    assert_eq!(stack.count().await, before);
}

#[tokio::test]
async fn a_retried_identical_request_returns_the_original_and_creates_nothing_new() {
    let stack = LocalStack::connect().await;
    let name = unique("Retry");
    let query = [
        ("user_name", name.as_str()),
        ("email", "retry@example.com"),
        ("pincode", "4000"),
    ];
    let before = stack.count().await;

    let (first_status, first) = stack.call(Method::GET, &query).await;
    let (second_status, second) = stack.call(Method::POST, &query).await;

    assert_eq!(first_status, StatusCode::OK, "{first}");
    assert_eq!(second_status, StatusCode::OK, "{second}");
    assert_eq!(
        second, first,
        "the retry must return the original record, created_at included"
    );
    assert_eq!(stack.count().await, before + 1);
}

#[tokio::test]
async fn racing_identical_workflow_executions_store_one_record_and_agree_on_it() {
    let stack = LocalStack::connect().await;
    let input =
        json!({"user_name": unique("Racer"), "email": "racer@example.com", "pincode": "9000"});
    let before = stack.count().await;

    let (a, b, c, d) = tokio::join!(
        stack.execute_ingest(&input),
        stack.execute_ingest(&input),
        stack.execute_ingest(&input),
        stack.execute_ingest(&input),
    );

    for output in [&b, &c, &d] {
        assert_eq!(output, &a);
    }
    assert_eq!(a["user_name"], input["user_name"]);
    assert_eq!(stack.count().await, before + 1);
}

#[tokio::test]
async fn listing_sixty_records_by_twenty_five_gives_three_pages_with_each_record_once() {
    let stack = LocalStack::connect().await;
    stack.empty_table().await;
    let mut ingested = HashSet::new();
    for i in 0..60 {
        let name = format!("Pager {i}");
        let (status, body) = stack
            .call(
                Method::PUT,
                &[
                    ("user_name", &name),
                    ("email", &format!("pager{i}@example.com")),
                    ("pincode", "1000"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ingested.insert(body["record"]["id"].as_str().unwrap().to_owned());
    }

    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "25".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = stack.call(Method::GET, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let records = body["records"].as_array().unwrap();
        page_sizes.push(records.len());
        seen.extend(records.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }

    assert_eq!(page_sizes, [25, 25, 10]);
    assert_eq!(seen.len(), 60);
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), ingested);
}

#[tokio::test]
async fn the_default_page_is_twenty_five_records() {
    let stack = LocalStack::connect().await;
    for i in 0..30 {
        stack
            .call(
                Method::GET,
                &[
                    ("user_name", &unique(&format!("Default{i}"))),
                    ("email", "d@example.com"),
                    ("pincode", "2000"),
                ],
            )
            .await;
    }

    let (status, body) = stack.call(Method::GET, &[]).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["records"].as_array().unwrap().len(), 25);
    assert!(body["next"].is_string());
}

#[tokio::test]
async fn a_bad_cursor_is_a_400_not_a_500() {
    let stack = LocalStack::connect().await;
    for cursor in ["garbage", "AQ", &"A".repeat(60)] {
        let (status, body) = stack.call(Method::GET, &[("cursor", cursor)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cursor}: {body}");
        assert_eq!(body["error"], "invalid_cursor");
    }
}

#[tokio::test]
async fn an_unsupported_method_is_a_405_with_allow() {
    let stack = LocalStack::connect().await;

    let response = stack.raw(Method::DELETE, &[]).await;

    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, POST, PUT");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
}
