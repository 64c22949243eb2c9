//! The HTML pages of the records URL: records as cards, and pending approvals with approve and
//! reject buttons. No script, no external asset: one inline style sheet allowed by its hash in
//! a Content-Security-Policy that allows nothing else, and every value escaped.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use sha2::{Digest, Sha256};

use crate::approval::Approval;
use crate::record::Record;

const CSS: &str = "\
:root{color-scheme:light;--ink:#1d2330;--muted:#5b6577;--line:#dde2ea;--card:#fff;--bg:#f3f5f9;\
--accent:#2456c7;--ok:#17693a;--bad:#a3261b}\
*{box-sizing:border-box}\
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
header{background:var(--ink);color:#fff;padding:1rem 1.25rem}\
header h1{margin:0;font-size:1.35rem;font-weight:600}\
header nav{margin-top:.25rem;font-size:.95rem}\
header a{color:#c9d6ff;margin-right:1rem}\
main{max-width:72rem;margin:0 auto;padding:1.25rem}\
.summary{color:var(--muted);margin:0 0 1rem}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:1rem;padding:0;margin:0;list-style:none}\
.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1rem 1.1rem;\
box-shadow:0 1px 2px rgba(20,30,60,.06);overflow-wrap:anywhere}\
.card h2{font-size:1.1rem;margin:0 0 .5rem}\
.card dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .75rem;margin:0}\
.card dt{color:var(--muted);font-size:.9rem;padding-top:.05rem}\
.card dd{margin:0;font-size:.95rem}\
.problem{color:var(--bad);font-weight:600}\
.why{color:var(--bad);font-size:.9rem;margin:.5rem 0 0}\
.pager{display:flex;gap:1rem;margin:1.5rem 0;align-items:center}\
.button,button{display:inline-block;border:0;border-radius:.5rem;padding:.55rem 1rem;font:inherit;\
cursor:pointer;text-decoration:none;background:var(--accent);color:#fff}\
button.approve{background:var(--ok)}\
button.reject{background:var(--bad)}\
.decide{margin-top:.9rem;display:flex;flex-wrap:wrap;gap:.5rem}\
.decide input[type=text]{flex:1 1 100%}\
input{font:inherit;padding:.5rem .6rem;border:1px solid var(--line);border-radius:.5rem;width:100%}\
label{display:block;margin:.75rem 0 .25rem;font-weight:600}\
.login{max-width:26rem;background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1.25rem}\
.notice{border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem;background:#e6f4ea;color:var(--ok)}\
.notice p{margin:0}.notice form{margin-top:.6rem}\
.notice.error{background:#fdecea;color:var(--bad)}\
.empty{color:var(--muted);font-style:italic}\
@media (max-width:30rem){main{padding:.75rem}.cards{grid-template-columns:1fr}}";

/// The policy: nothing but this page's own style sheet, forms posting to this origin.
fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let hash = STANDARD.encode(Sha256::digest(CSS.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'"
        )
    })
}

/// Text made safe for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, nav: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Sluice</title><style>{CSS}</style></head><body>\
         <header><h1>{title}</h1><nav>{nav}</nav></header><main>{body}</main></body></html>",
        title = escape(title),
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(policy) = HeaderValue::from_str(content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

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
        assert_eq!(
            escape("<script>alert('1')</script> & \"x\""),
            "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;x&quot;"
        );
        let page = records_page(&[record("<script>alert(1)</script>")], None, 25);
        let html = text(&page);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn the_page_allows_only_its_own_style_sheet() {
        let page = records_page(&[], None, 25);
        let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            policy.starts_with("default-src 'none'; style-src 'sha256-"),
            "{policy}"
        );
        assert!(!policy.contains("unsafe"));
        let digest = STANDARD.encode(Sha256::digest(CSS.as_bytes()));
        assert!(policy.contains(&digest));
        let html = text(&page);
        assert!(html.contains(&format!("<style>{CSS}</style>")));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external asset"
        );
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
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
