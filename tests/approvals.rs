//! Admin approval of half-valid records end to end: the records URL served by `cargo lambda
//! watch`, the ingest and approve-record state machines executing in the local stack, the admins'
//! SNS topic read back through its SQS subscription, DynamoDB read back with the SDK.
//! Needs `make up` (which `make test` runs).

#[path = "support/admin.rs"]
mod admin;
#[path = "support/local.rs"]
mod local;

use admin::Admin;
use local::unique;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PINCODE_RULE: &str = "must be 4 to 6 digits";

/// A half-valid submission (a malformed pincode), its 202 checked; returns its approval id.
async fn pending(admin: &Admin, name: &str) -> String {
    let (status, body) = admin.submit(name, "asha@example.com", "56-001").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "pending_approval", "{body}");
    let id = body["approval_id"]
        .as_str()
        .expect("an approval id")
        .to_owned();
    admin.written(&id).await;
    id
}

#[tokio::test]
async fn an_approved_record_is_stored_once_even_when_approved_twice_at_once() {
    let admin = Admin::connect().await;
    let name = unique("Asha");
    let id = pending(&admin, &name).await;

    let (status, again) = admin.submit(&name, "asha@example.com", "56-001").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        again["approval_id"],
        json!(id),
        "the same submission is the same approval"
    );

    let approval = admin.approval_when(&id, |a| a["status"] == "pending").await;
    assert_eq!(approval["record"]["user_name"], json!(name));
    assert_eq!(approval["record"]["pincode"], "56-001");
    assert_eq!(approval["problems"], json!({"pincode": PINCODE_RULE}));
    assert!(
        admin.record(&id).await.is_none(),
        "nothing is stored while it waits"
    );

    let message = admin.message_about(&id).await;
    let token = admin
        .stored_token(&id)
        .await
        .expect("the token is kept in the store");
    assert!(message.contains(&name), "{message}");
    assert!(message.contains(PINCODE_RULE), "{message}");
    assert!(message.contains(&format!("/approvals/{id}")), "{message}");
    assert!(
        !message.contains(&token),
        "the task token left the server: {message}"
    );
    assert!(!approval.to_string().contains(&token));

    let path = format!("/approvals/{id}");
    let (first, second) = tokio::join!(
        admin.call(
            Method::POST,
            &path,
            &[
                ("decision", "approve"),
                ("decided_by", "Priya"),
                ("note", "checked by phone")
            ]
        ),
        admin.call(
            Method::POST,
            &path,
            &[("decision", "approve"), ("decided_by", "Sam")]
        ),
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{first:?} {second:?}"
    );
    let (winner, loser) = if first.0 == StatusCode::OK {
        (first.1, second.1)
    } else {
        (second.1, first.1)
    };
    assert_eq!(loser["error"], "already_decided");
    assert_eq!(loser["decision"], winner["approval"]["decision"]);

    let done = admin.approval_when(&id, |a| a["outcome"] == "stored").await;
    assert_eq!(done["status"], "approved");
    assert!(done["decision"]["decided_at"].is_string());
    let stored = admin
        .record(&id)
        .await
        .expect("the approved record is stored");
    assert_eq!(stored, done["record"]);

    let (status, body) = admin
        .call(
            Method::POST,
            &path,
            &[("decision", "reject"), ("decided_by", "Late")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["decision"], done["decision"],
        "a second decision answers the first"
    );

    let (status, body) = admin.submit(&name, "asha@example.com", "56-001").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["record"], stored,
        "sent again, it is the stored record"
    );
}

#[tokio::test]
async fn a_rejected_record_is_never_stored_and_stays_refused() {
    let admin = Admin::connect().await;
    let name = unique("Ravi");
    let (status, body) = admin.submit(&name, "Ravi.K@example.com", "560001").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["approval_id"].as_str().unwrap().to_owned();
    let approval = admin.approval_when(&id, |a| a["status"] == "pending").await;
    admin.written(&id).await;
    assert_eq!(
        approval["record"]["email"], "Ravi.K@example.com",
        "kept as sent"
    );
    assert!(approval["problems"]["email"].is_string());

    let path = format!("/approvals/{id}");
    let (status, body) = admin
        .call(
            Method::POST,
            &path,
            &[("decision", "reject"), ("decided_by", "Priya")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approval"]["status"], "rejected");
    let done = admin
        .approval_when(&id, |a| a["outcome"] == "discarded")
        .await;
    assert_eq!(done["decision"]["decided_by"], "Priya");
    assert!(admin.record(&id).await.is_none());

    let (status, body) = admin
        .call(
            Method::POST,
            &path,
            &[("decision", "approve"), ("decided_by", "Sam")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["decision"]["decision"], "reject");

    let (status, body) = admin.submit(&name, "Ravi.K@example.com", "560001").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["approval"]["status"], "rejected");
    assert!(admin.record(&id).await.is_none());
}

#[tokio::test]
async fn an_approval_nobody_decides_in_time_expires_discarded_and_a_late_decision_is_410() {
    let admin = Admin::connect().await;
    let name = unique("Late");
    // The records API starts the workflow with the configured seven days; the test starts the
    // same workflow, with the input the API would send, but eight seconds to decide (room for
    // the notify function's first start to write the approval before the wait times out).
    let short_id = short_id(&name);
    let record = json!({
        "id": short_id,
        "user_name": name,
        "email": "late@example.com",
        "pincode": "1",
        "created_at": "2026-12-01T10:00:00.000Z",
    });
    admin
        .start_workflow(
            &short_id,
            &json!({"record": record, "fields": {"pincode": PINCODE_RULE}, "timeout_seconds": 8}),
        )
        .await;
    admin.written(&short_id).await;
    let expired = admin
        .approval_when(&short_id, |a| a["status"] == "expired")
        .await;
    assert_eq!(expired["outcome"], "discarded");
    assert_eq!(expired["decision"], Value::Null);

    let (status, body) = admin
        .call(
            Method::POST,
            &format!("/approvals/{short_id}"),
            &[("decision", "approve"), ("decided_by", "Priya")],
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["error"], "approval_expired");
    assert!(
        admin.record(&short_id).await.is_none(),
        "an expired approval stores nothing"
    );
}

/// A record id (32 lowercase hex digits) derived from any text, for an approval the test makes.
fn short_id(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_admin_key_is_required_and_unknown_or_bad_requests_are_named() {
    let admin = Admin::connect().await;
    let id = pending(&admin, &unique("Keyed")).await;
    let path = format!("/approvals/{id}");
    for key in [None, Some("wrong"), Some("")] {
        for (method, target) in [
            (Method::GET, "/approvals".to_owned()),
            (Method::GET, path.clone()),
            (Method::POST, path.clone()),
        ] {
            let (status, body) = admin
                .call_as(
                    key,
                    method.clone(),
                    &target,
                    &[("decision", "approve"), ("decided_by", "x")],
                )
                .await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {target} {key:?}: {body}"
            );
            assert_eq!(body["error"], "forbidden");
        }
    }
    let still = admin.approval_when(&id, |_| true).await;
    assert_eq!(still["status"], "pending", "a refused call decided nothing");

    let unknown = short_id(&unique("nobody"));
    let (status, body) = admin
        .call(Method::GET, &format!("/approvals/{unknown}"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = admin
        .call(
            Method::POST,
            &format!("/approvals/{unknown}"),
            &[("decision", "approve"), ("decided_by", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = admin
        .call(Method::POST, &path, &[("decision", "maybe")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_decision");
    assert!(body["fields"]["decision"].is_string() && body["fields"]["decided_by"].is_string());
}

#[tokio::test]
async fn pending_approvals_page_oldest_first_and_a_decided_one_leaves_the_list() {
    let admin = Admin::connect().await;
    let mut mine = Vec::new();
    for n in 0..3 {
        mine.push(pending(&admin, &unique(&format!("Pager{n}"))).await);
    }
    let seen = every_pending(&admin).await;
    let ids: Vec<&str> = seen.iter().map(|a| a["id"].as_str().unwrap()).collect();
    for id in &mine {
        assert_eq!(
            ids.iter().filter(|seen| *seen == id).count(),
            1,
            "{id} once"
        );
    }
    let times: Vec<&str> = seen
        .iter()
        .map(|a| a["requested_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {times:?}"
    );
    assert!(seen.iter().all(|a| a["status"] == "pending"));

    let (status, _) = admin
        .call(
            Method::POST,
            &format!("/approvals/{}", mine[1]),
            &[("decision", "reject"), ("decided_by", "Priya")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen = every_pending(&admin).await;
    let ids: Vec<&str> = seen.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert!(
        !ids.contains(&mine[1].as_str()),
        "a decided approval is no longer pending"
    );
    assert!(ids.contains(&mine[0].as_str()) && ids.contains(&mine[2].as_str()));

    let (status, body) = admin
        .call(Method::GET, "/approvals?cursor=forged", &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_cursor");
}

/// Every pending approval, following `next` two at a time.
async fn every_pending(admin: &Admin) -> Vec<Value> {
    let (mut seen, mut cursor) = (Vec::<Value>::new(), None::<String>);
    loop {
        let target = match &cursor {
            Some(c) => format!("/approvals?limit=2&cursor={c}"),
            None => "/approvals?limit=2".to_owned(),
        };
        let (status, body) = admin.call(Method::GET, &target, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(body["approvals"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
}
