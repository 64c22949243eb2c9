//! The export form and an export's status as HTML pages, for people using the exports URL in a
//! browser: the form posts to `exports`, a queued export's page reloads itself until the CSV
//! is ready, then links it. Links are relative, so the pages work wherever the URL is mounted.

use std::collections::BTreeMap;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use platform::html::{escape, page};
use time::{Date, Duration};

use crate::export::{Export, Status};
use crate::request::{MAX_DAYS, Problems};

/// How often the page of an export that is not over reloads itself.
const RELOAD_SECONDS: &str = "5";

/// The form's fields: name, label, input type.
const FIELDS: [(&str, &str, &str); 4] = [
    ("app_id", "App", "text"),
    ("from", "From (UTC day)", "date"),
    ("to", "To (UTC day)", "date"),
    ("email", "Email the link to", "email"),
];

/// The values a fresh form starts with: the last seven days, today included.
pub fn fresh_values(today: Date) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("from".to_owned(), (today - Duration::days(6)).to_string()),
        ("to".to_owned(), today.to_string()),
    ])
}

/// The export form, with the values given and, after a refused post, what was wrong with them.
pub fn form_page(
    status: StatusCode,
    given: &BTreeMap<String, String>,
    problems: &Problems,
    today: Date,
) -> Response<Body> {
    let mut body = String::from("<section class=\"panel\">");
    if !problems.is_empty() {
        body.push_str(
            "<div class=\"notice error\" role=\"alert\"><p>Nothing was queued: correct what is \
             marked below.</p>",
        );
        for (name, problem) in problems {
            if !FIELDS.iter().any(|(field, _, _)| field == name) {
                body.push_str(&format!("<p>{}: {}</p>", escape(name), escape(problem)));
            }
        }
        body.push_str("</div>");
    }
    body.push_str("<form method=\"post\" action=\"exports\">");
    for (name, label, kind) in FIELDS {
        let value = given.get(name).map(String::as_str).unwrap_or("");
        let max = if kind == "date" {
            format!(" max=\"{today}\"")
        } else {
            String::new()
        };
        let problem = problems.get(name);
        let described = if problem.is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{name}-problem\"")
        } else {
            String::new()
        };
        match name {
            "from" => body.push_str("<div class=\"pair\"><div>"),
            "to" => body.push_str("<div>"),
            _ => {}
        }
        body.push_str(&format!(
            "<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" \
             type=\"{kind}\" value=\"{}\" required{max}{described}>",
            escape(value)
        ));
        if let Some(problem) = problem {
            body.push_str(&format!(
                "<p class=\"why\" id=\"{name}-problem\">{}</p>",
                escape(problem)
            ));
        }
        match name {
            "from" => body.push_str("</div>"),
            "to" => body.push_str("</div></div>"),
            _ => {}
        }
    }
    body.push_str(&format!(
        "<p class=\"hint\">At most {MAX_DAYS} days, today at the latest. The CSV holds one row \
         per stored event; a link to it, valid for one hour, is mailed when it is ready.</p>\
         <div class=\"actions\"><button type=\"submit\">Export as CSV</button></div></form>\
         </section>"
    ));
    page(status, "Export ad events", "", &body)
}

fn row(name: &str, value: &str) -> String {
    format!("<dt>{}</dt><dd>{}</dd>", escape(name), escape(value))
}

/// One export: where it stands and, once ready, its CSV's link with the time it expires.
pub fn status_page(export: &Export, download: Option<(&str, &str)>) -> Response<Body> {
    let status = export.status.as_str();
    let mut body = format!(
        "<section class=\"panel\"><dl>{}{}{}<dt>Status</dt><dd id=\"status\">{status}</dd>{}",
        row("Export", &export.export_id),
        row("App", &export.app_id),
        row(
            "Period",
            &format!("{} to {} (UTC days)", export.from, export.to)
        ),
        row("Requested", &export.requested_at),
    );
    if let Some(started) = &export.started_at {
        body.push_str(&row("Started", started));
    }
    if let Some(finished) = &export.finished_at {
        body.push_str(&row("Finished", finished));
    }
    if let Some(rows) = export.rows {
        body.push_str(&format!("<dt>Rows</dt><dd id=\"rows\">{rows}</dd>"));
    }
    body.push_str("</dl>");
    match (export.status, download) {
        (Status::Ready, Some((url, expires_at))) => body.push_str(&format!(
            "<p><a class=\"button\" id=\"download\" href=\"{}\">Download the CSV</a></p>\
             <p class=\"hint\">This link works until {} and was mailed as well; reload this page \
             for a fresh one.</p>",
            escape(url),
            escape(expires_at)
        )),
        (Status::Failed, _) => body.push_str(&format!(
            "<p class=\"why\" id=\"error\">{}</p>",
            escape(export.error.as_deref().unwrap_or("The export failed."))
        )),
        _ => body.push_str(
            "<p class=\"hint\">Exports run one at a time. This page reloads itself until the CSV \
             is ready; its link is mailed then too.</p>",
        ),
    }
    body.push_str("</section>");
    let mut response = page(
        StatusCode::OK,
        "Export",
        "<a href=\"../\">Ask for another export</a>",
        &body,
    );
    if matches!(export.status, Status::Queued | Status::Running) {
        response
            .headers_mut()
            .insert(header::REFRESH, HeaderValue::from_static(RELOAD_SECONDS));
    }
    response
}

/// A page saying what went wrong, for a browser that asked for a page.
pub fn problem_page(status: StatusCode, title: &str, message: &str) -> Response<Body> {
    page(
        status,
        title,
        "<a href=\"../\">Ask for another export</a>",
        &format!(
            "<div class=\"notice error\" role=\"alert\"><p>{}</p></div>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn text(response: &Response<Body>) -> String {
        String::from_utf8(response.body().as_ref().to_vec()).unwrap()
    }

    fn export(status: Status) -> Export {
        Export {
            export_id: "0b6f1c1e-0000-4000-8000-000000000001".into(),
            app_id: "com.example.game".into(),
            from: "2026-11-20".into(),
            to: "2026-12-03".into(),
            email: "ops@example.com".into(),
            status,
            requested_at: "2026-12-03T10:00:00.000Z".into(),
            started_at: None,
            finished_at: None,
            rows: None,
            error: Some("<b>boom</b>".into()),
        }
    }

    #[test]
    fn a_refused_form_keeps_the_values_as_text_and_marks_each_problem() {
        let given = BTreeMap::from([
            (
                "app_id".to_owned(),
                "\"><script>alert(1)</script>".to_owned(),
            ),
            ("from".to_owned(), "2026-11-01".to_owned()),
        ]);
        let problems = Problems::from([
            (
                "app_id".to_owned(),
                "1 to 64 of A-Z a-z 0-9 . _ -".to_owned(),
            ),
            (
                "colour".to_owned(),
                "not a field of an export request".to_owned(),
            ),
        ]);
        let html = text(&form_page(
            StatusCode::BAD_REQUEST,
            &given,
            &problems,
            date!(2026 - 12 - 03),
        ));
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
        assert!(html.contains("id=\"app_id-problem\">1 to 64 of A-Z a-z 0-9 . _ -</p>"));
        assert!(html.contains("<p>colour: not a field of an export request</p>"));
        assert!(html.contains("name=\"from\" type=\"date\" value=\"2026-11-01\""));
        assert!(html.contains("max=\"2026-12-03\""));
    }

    #[test]
    fn a_ready_export_links_its_csv_and_one_not_over_reloads() {
        let ready = status_page(
            &export(Status::Ready),
            Some((
                "http://s3.local/b/k?X-Amz-Signature=a&b",
                "2026-12-03T11:00:00Z",
            )),
        );
        assert!(!ready.headers().contains_key(header::REFRESH));
        assert!(text(&ready).contains("href=\"http://s3.local/b/k?X-Amz-Signature=a&amp;b\""));
        let queued = status_page(&export(Status::Queued), None);
        assert_eq!(queued.headers()[header::REFRESH], "5");
        assert!(!text(&queued).contains("id=\"download\""));
        let failed = text(&status_page(&export(Status::Failed), None));
        assert!(failed.contains("&lt;b&gt;boom&lt;/b&gt;"), "{failed}");
    }
}
