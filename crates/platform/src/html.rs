//! The HTML shell every page of the Sluice function URLs shares: one inline style sheet,
//! allowed by its hash in a Content-Security-Policy that allows nothing else (no script, no
//! external asset, forms posting to the page's own origin), and every value escaped.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

/// The style sheet of every page.
pub const CSS: &str = "\
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
.panel{max-width:34rem;background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1.25rem}\
.pair{display:grid;grid-template-columns:1fr 1fr;gap:0 1rem}\
.panel dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem .75rem;margin:0 0 1rem}\
.panel dt{color:var(--muted)}.panel dd{margin:0;overflow-wrap:anywhere}\
.hint{color:var(--muted);font-size:.9rem;margin:.75rem 0 0}\
.actions{margin-top:1.1rem}\
@media (max-width:30rem){main{padding:.75rem}.cards{grid-template-columns:1fr}}";

/// The policy: nothing but the pages' own style sheet, forms posting to this origin.
pub fn content_security_policy() -> &'static str {
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

/// Whether the caller's `Accept` asks for HTML, as a browser's does.
pub fn accepts_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A page: `title` as text, `nav` and `body` as markup the caller built from escaped values.
pub fn page(status: StatusCode, title: &str, nav: &str, body: &str) -> Response<Body> {
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

/// A `303 See Other` to `location`: where a form post sends the browser next.
pub fn see_other(location: &str) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(response: &Response<Body>) -> String {
        String::from_utf8(response.body().as_ref().to_vec()).unwrap()
    }

    #[test]
    fn markup_in_a_value_is_text() {
        assert_eq!(
            escape("<script>alert('1')</script> & \"x\""),
            "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;x&quot;"
        );
        let html = text(&page(StatusCode::OK, "<b>a</b>", "", ""));
        assert!(
            html.contains("<title>&lt;b&gt;a&lt;/b&gt; · Sluice</title>"),
            "{html}"
        );
    }

    #[test]
    fn a_page_allows_only_its_own_style_sheet() {
        let page = page(StatusCode::OK, "Title", "", "<p>body</p>");
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
}
