//! The HTML pages of the records URL: records as cards, and pending approvals with approve and
//! reject buttons. No script, no external asset: one inline style sheet allowed by its hash in
//! a Content-Security-Policy that allows nothing else, and every value escaped.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use platform::html::{escape, page};

use crate::approval::Approval;
use crate::record::Record;

fn field(name: &str, value: &str) -> String {
    format!("<dt>{}</dt><dd>{}</dd>", escape(name), escape(value))
}

/// A stored RFC 3339 UTC time as a person reads it (`2026-12-01 10:00:00 UTC`), the exact value
/// kept in the element's `datetime`. Anything else is shown as it is.
fn time_field(name: &str, stamp: &str) -> String {
    let bytes = stamp.as_bytes();
    let shaped = stamp.len() >= 20
        && stamp.is_ascii()
        && bytes[10] == b'T'
        && stamp.ends_with('Z')
        && stamp[..10].bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && stamp[11..19]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':');
    if !shaped {
        return field(name, stamp);
    }
    format!(
        "<dt>{}</dt><dd><time datetime=\"{}\">{} {} UTC</time></dd>",
        escape(name),
        escape(stamp),
        &stamp[..10],
        &stamp[11..19]
    )
}

/// A page of records as cards, with a link to the next page when there is one.
pub fn records_page(records: &[Record], next: Option<&str>, limit: usize) -> Response<Body> {
    let mut body = String::new();
    if records.is_empty() {
        body.push_str("<p class=\"empty\">No records on this page.</p>");
    } else {
        body.push_str(&format!(
            "<p class=\"summary\">{} record{} on this page.</p><ul class=\"cards\">",
            records.len(),
            if records.len() == 1 { "" } else { "s" }
        ));
        for record in records {
            body.push_str(&format!(
                "<li class=\"card\"><h2>{}</h2><dl>{}{}{}</dl></li>",
                escape(&record.user_name),
                field("Email", &record.email),
                field("Pincode", &record.pincode),
                time_field("Created", &record.created_at),
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str("<nav class=\"pager\"><a class=\"button\" href=\"?format=html");
    body.push_str(&format!("&amp;limit={limit}\">First page</a>"));
    if let Some(next) = next {
        body.push_str(&format!(
            "<a class=\"button\" rel=\"next\" href=\"?format=html&amp;limit={limit}&amp;cursor={}\">Next page</a>",
            escape(next)
        ));
    }
    body.push_str("</nav>");
    page(
        StatusCode::OK,
        "Records",
        "<a href=\"?format=html\">Records</a><a href=\"approvals?format=html\">Approvals</a>",
        &body,
    )
}

/// Where an approvals page was served from, so its relative links resolve (the records URL may
/// sit under a prefix, as it does locally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `/approvals`
    Listing,
    /// `/approvals/{id}`
    Approval,
}

impl Place {
    fn listing(self) -> &'static str {
        match self {
            Place::Listing => "approvals",
            Place::Approval => "../approvals",
        }
    }

    fn approval(self, id: &str) -> String {
        match self {
            Place::Listing => format!("approvals/{id}"),
            Place::Approval => id.to_owned(),
        }
    }

    fn records(self) -> &'static str {
        match self {
            Place::Listing => "./?format=html",
            Place::Approval => "../?format=html",
        }
    }
}

fn approvals_nav(from: Place) -> String {
    format!(
        "<a href=\"{}\">Records</a><a href=\"{}?format=html\">Approvals</a>",
        from.records(),
        from.listing()
    )
}

/// The form that asks an admin for the key (and a name to sign decisions with).
pub fn key_form(status: StatusCode, from: Place, problem: Option<&str>) -> Response<Body> {
    let mut body = String::new();
    if let Some(problem) = problem {
        body.push_str(&format!(
            "<p class=\"notice error\" role=\"alert\">{}</p>",
            escape(problem)
        ));
    }
    body.push_str(&format!(
        "<form class=\"login\" method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"format\" value=\"html\">\
         <label for=\"admin_key\">Admin key</label>\
         <input id=\"admin_key\" name=\"admin_key\" type=\"password\" required autocomplete=\"off\">\
         <label for=\"decided_by\">Your name</label>\
         <input id=\"decided_by\" name=\"decided_by\" type=\"text\" required maxlength=\"64\">\
         <p><button type=\"submit\">Show pending approvals</button></p></form>",
        from.listing()
    ));
    page(status, "Pending approvals", &approvals_nav(from), &body)
}

/// A notice above the list: what the last action did, or why something could not be shown.
pub struct Notice {
    pub text: String,
    pub error: bool,
    /// A decision to offer again: its delivery went unconfirmed, and its approval has left the
    /// pending list.
    pub resend: Option<Resend>,
}

pub struct Resend {
    pub approval: String,
    pub decision: &'static str,
}

/// Pending approvals as cards, each with approve and reject buttons. The key and the admin's
/// name travel in the forms' hidden fields, so the page needs no cookie and no script; it is
/// served only to whoever sent the key, and never cached.
pub fn approvals_page(
    status: StatusCode,
    from: Place,
    approvals: &[Approval],
    next: Option<&str>,
    admin_key: &str,
    decided_by: &str,
    notices: &[Notice],
) -> Response<Body> {
    let carried = format!(
        "<input type=\"hidden\" name=\"format\" value=\"html\">\
         <input type=\"hidden\" name=\"admin_key\" value=\"{}\">\
         <input type=\"hidden\" name=\"decided_by\" value=\"{}\">",
        escape(admin_key),
        escape(decided_by)
    );
    let mut body = String::new();
    for notice in notices {
        body.push_str(&format!(
            "<div class=\"notice{}\" role=\"status\"><p>{}</p>",
            if notice.error { " error" } else { "" },
            escape(&notice.text)
        ));
        if let Some(resend) = &notice.resend {
            body.push_str(&format!(
                "<form method=\"post\" action=\"{}\">{carried}\
                 <input type=\"hidden\" name=\"decision\" value=\"{}\">\
                 <button class=\"resend\" type=\"submit\">Send the same decision again</button></form>",
                escape(&from.approval(&resend.approval)),
                escape(resend.decision)
            ));
        }
        body.push_str("</div>");
    }
    if approvals.is_empty() {
        body.push_str("<p class=\"empty\">Nothing is waiting for a decision.</p>");
    } else {
        body.push_str(&format!(
            "<p class=\"summary\">Signed in as {}. {} waiting on this page.</p><ul class=\"cards\">",
            escape(decided_by),
            approvals.len()
        ));
        for approval in approvals {
            let record = &approval.record;
            let value = |name: &str, text: &str| {
                if approval.problems.contains_key(name) {
                    format!(
                        "<dt>{}</dt><dd class=\"problem\">{}</dd>",
                        escape(&capitalised(name)),
                        escape(text)
                    )
                } else {
                    field(&capitalised(name), text)
                }
            };
            let why: Vec<String> = approval
                .problems
                .iter()
                .map(|(name, why)| format!("{} {}", escape(name), escape(why)))
                .collect();
            body.push_str(&format!(
                "<li class=\"card\" data-approval=\"{id}\"><h2>{name}</h2><dl>{email}{pincode}{requested}{expires}</dl>\
                 <p class=\"why\">{why}</p>\
                 <form class=\"decide\" method=\"post\" action=\"{action}\">{carried}\
                 <input type=\"text\" name=\"note\" maxlength=\"500\" placeholder=\"Note (optional)\" aria-label=\"Note\">\
                 <button class=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
                 <button class=\"reject\" type=\"submit\" name=\"decision\" value=\"reject\">Reject</button>\
                 </form></li>",
                id = escape(approval.id.as_str()),
                name = escape(&record.user_name),
                email = value("email", &record.email),
                pincode = value("pincode", &record.pincode),
                requested = time_field("Sent", &approval.requested_at),
                expires = time_field("Decide by", &approval.expires_at),
                why = why.join("; "),
                action = escape(&from.approval(approval.id.as_str())),
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<nav class=\"pager\"><form method=\"post\" action=\"{}\">{carried}\
         <button type=\"submit\">First page</button></form>",
        from.listing()
    ));
    if let Some(next) = next {
        body.push_str(&format!(
            "<form method=\"post\" action=\"{}\">{carried}\
             <input type=\"hidden\" name=\"cursor\" value=\"{}\">\
             <button class=\"next\" type=\"submit\">Next page</button></form>",
            from.listing(),
            escape(next)
        ));
    }
    body.push_str("</nav>");
    page(status, "Pending approvals", &approvals_nav(from), &body)
}

fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;

    fn record(name: &str) -> Record {
        Record {
            id: RecordId::for_fields(name, "a@b.com", "1234"),
            user_name: name.into(),
            email: "a@b.com".into(),
            pincode: "1234".into(),
            created_at: "2026-12-01T10:00:00.000Z".into(),
        }
    }

    fn text(response: &Response<Body>) -> String {
        String::from_utf8(response.body().as_ref().to_vec()).unwrap()
    }

    #[test]
    fn markup_in_a_value_is_text() {
        let page = records_page(&[record("<script>alert(1)</script>")], None, 25);
        let html = text(&page);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            page.headers()
                .contains_key(lambda_http::http::header::CONTENT_SECURITY_POLICY)
        );
    }

    #[test]
    fn times_read_as_utc_and_odd_ones_are_shown_as_they_are() {
        assert_eq!(
            time_field("Created", "2026-12-01T10:00:00.000Z"),
            "<dt>Created</dt><dd><time datetime=\"2026-12-01T10:00:00.000Z\">2026-12-01 \
             10:00:00 UTC</time></dd>"
        );
        assert_eq!(
            time_field("Created", "<b>yesterday</b>"),
            "<dt>Created</dt><dd>&lt;b&gt;yesterday&lt;/b&gt;</dd>"
        );
        assert_eq!(
            time_field("Created", "2026-12-01T10:00:00é00Z"),
            "<dt>Created</dt><dd>2026-12-01T10:00:00é00Z</dd>"
        );
    }

    #[test]
    fn the_next_link_carries_the_cursor_and_the_limit() {
        let html = text(&records_page(&[record("a")], Some("AbC-_9"), 10));
        assert!(
            html.contains("href=\"?format=html&amp;limit=10&amp;cursor=AbC-_9\""),
            "{html}"
        );
        let last = text(&records_page(&[record("a")], None, 10));
        assert!(!last.contains("Next page"));
    }
}
