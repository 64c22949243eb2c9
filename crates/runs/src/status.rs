//! `etl-status`: where a run stands, on a function URL.
//!
//! - `GET /runs?status=&limit=&cursor=`: runs newest first, all or of one status, a page at a
//!   time (`limit` 1–100, default 25; `next` is the cursor of the next page, `null` on the last).
//! - `POST /runs` `{"files": ["s3://<inbound>/<key>", …]}`: one run over several objects of
//!   the inbound bucket, read as one dataset in the given order (a day's export in parts, every
//!   part with the same header). `202` with the new run; the same files again are the same run
//!   (`200`). Such runs use the Lambda engine.
//! - `GET /runs/{id}`: the run as the ledger has it (status, attempts, times, summary,
//!   failures); reading it changes nothing, so dashboards may poll it.
//! - `GET /runs/{id}/report`: a `302` to a presigned GET URL of a finished run's report, valid
//!   one hour (the URL is also in the JSON body); handing it out marks the run `downloaded`.

use std::time::Duration;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use platform::http::{json_error, json_response};
use serde_json::{Value, json};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ports::{
    LedgerError, ListPosition, ObjectProbe, Recorded, ReportLinks, RunCatalog, RunLedger,
    RunListing, RunQuery, WorkflowStarter,
};
use crate::run::{InputPart, ObjectVersion, Run, RunId, RunStatus};

pub const LINK_VALIDITY: Duration = Duration::from_secs(3600);

pub struct StatusApi<C, L, W, O> {
    pub catalog: C,
    pub links: L,
    /// Starts the workflow of a run made through `POST /runs`.
    pub workflow: W,
    pub objects: O,
    pub settings: StatusSettings,
}

#[derive(Debug, Clone)]
pub struct StatusSettings {
    pub inbound_bucket: String,
    pub outbound_bucket: String,
    /// A run over several files runs on the Lambda engine: together at most this many bytes.
    pub lambda_max_bytes: u64,
}

/// At most this many files in one run.
pub const MAX_FILES: usize = 100;

enum Route {
    List,
    Run(RunId),
    Report(RunId),
}

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

impl<C, L, W, O> StatusApi<C, L, W, O>
where
    C: RunCatalog + RunListing + RunLedger,
    L: ReportLinks,
    W: WorkflowStarter,
    O: ObjectProbe,
{
    pub async fn handle(&self, request: &Request, now: &str) -> Response<Body> {
        let path = request.uri().path();
        if request.method() == Method::POST && (path == "/runs" || path == "/runs/") {
            return self.create(request.body().as_ref(), now).await;
        }
        if request.method() != Method::GET {
            let mut response = json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Runs are read with GET",
                None,
            );
            let allow = if path == "/runs" { "GET, POST" } else { "GET" };
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            return response;
        }
        let Some(route) = route(request.uri().path()) else {
            return json_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "Runs are served at /runs, /runs/{id} and /runs/{id}/report",
                None,
            );
        };
        match route {
            Route::List => self.list(request.uri().query().unwrap_or("")).await,
            Route::Run(id) => match self.catalog.get(&id).await {
                Ok(Some(run)) => json_response(StatusCode::OK, &run_view(&run)),
                Ok(None) => unknown_run(&id),
                Err(err) => ledger_failure(&err),
            },
            Route::Report(id) => self.report(&id, now).await,
        }
    }

    async fn create(&self, body: &[u8], now: &str) -> Response<Body> {
        let parts = match self.parts(body).await {
            Ok(parts) => parts,
            Err(response) => return *response,
        };
        let run = Run::queued_parts(
            &self.settings.inbound_bucket,
            parts,
            &self.settings.outbound_bucket,
            now,
        );
        let (run, status) = match self.catalog.record(&run).await {
            Ok(Recorded::New) => (run, StatusCode::ACCEPTED),
            Ok(Recorded::Existing(existing)) => (*existing, StatusCode::OK),
            Err(err) => return ledger_failure(&err),
        };
        if run.status == RunStatus::Queued
            && let Err(err) = self.workflow.start(&run.request()).await
        {
            tracing::error!(run_id = %run.run_id, error = %err, "run recorded, workflow not started");
            // The run stays queued: the same request again, or the reconciler, starts it.
            return unavailable();
        }
        json_response(status, &run_view(&run))
    }

    /// The files of a `POST /runs`, each looked up; every problem is named in one 400.
    async fn parts(&self, body: &[u8]) -> Result<Vec<InputPart>, Box<Response<Body>>> {
        let invalid_body = || {
            Box::new(json_error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "Send {\"files\": [\"s3://<inbound bucket>/<key>\", …]} with 1 to 100 files",
                None,
            ))
        };
        let request: Value = serde_json::from_slice(body).map_err(|_| invalid_body())?;
        let files: Vec<&str> = request["files"]
            .as_array()
            .filter(|files| (1..=MAX_FILES).contains(&files.len()))
            .ok_or_else(invalid_body)?
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(invalid_body)?;
        let prefix = format!("s3://{}/", self.settings.inbound_bucket);
        // Sorted by name whatever map type serde_json was built with: the answer is stable.
        let mut problems = std::collections::BTreeMap::<String, Value>::new();
        let mut parts = Vec::with_capacity(files.len());
        for (index, uri) in files.iter().enumerate() {
            let key = match uri.strip_prefix(&prefix) {
                Some(key) if !key.is_empty() => key,
                _ => {
                    problems.insert(
                        (*uri).into(),
                        format!("is not an object of {prefix}").into(),
                    );
                    continue;
                }
            };
            if files[..index].contains(uri) {
                problems.insert((*uri).into(), "is given more than once".into());
                continue;
            }
            match self.objects.head(&self.settings.inbound_bucket, key).await {
                Ok(Some(head)) if head.size > 0 => parts.push(InputPart {
                    key: key.to_owned(),
                    version: head.version,
                    size: head.size,
                }),
                Ok(Some(_)) => {
                    problems.insert((*uri).into(), "is empty".into());
                }
                Ok(None) => {
                    problems.insert((*uri).into(), "does not exist".into());
                }
                Err(err) => {
                    tracing::error!(error = %err, "an object could not be looked up");
                    return Err(Box::new(unavailable()));
                }
            }
        }
        if !problems.is_empty() {
            let mut details = serde_json::Map::new();
            details.insert(
                "files".into(),
                Value::Object(problems.into_iter().collect()),
            );
            return Err(Box::new(json_error(
                StatusCode::BAD_REQUEST,
                "invalid_files",
                "One or more files are not objects of the inbound bucket",
                Some(details),
            )));
        }
        let total: u64 = parts.iter().map(|p| p.size).sum();
        if total > self.settings.lambda_max_bytes {
            let mut details = serde_json::Map::new();
            details.insert("bytes".into(), Value::from(total));
            details.insert(
                "max_bytes".into(),
                Value::from(self.settings.lambda_max_bytes),
            );
            return Err(Box::new(json_error(
                StatusCode::BAD_REQUEST,
                "too_large",
                "A run over several files runs on the Lambda engine; these files are too large together",
                Some(details),
            )));
        }
        Ok(parts)
    }

    async fn list(&self, query: &str) -> Response<Body> {
        let params = match ListParams::parse(query) {
            Ok(params) => params,
            Err(response) => return *response,
        };
        let page = self
            .catalog
            .list(RunQuery {
                status: params.status,
                created_before: None,
                oldest_first: false,
                limit: params.limit,
                after: params.after.as_ref(),
            })
            .await;
        match page {
            Ok(page) => json_response(
                StatusCode::OK,
                &json!({
                    "runs": page.runs.iter().map(run_view).collect::<Vec<_>>(),
                    "next": page.next.as_ref().map(encode_cursor),
                }),
            ),
            Err(err) => ledger_failure(&err),
        }
    }

    async fn report(&self, id: &RunId, now: &str) -> Response<Body> {
        let run = match self.catalog.get(id).await {
            Ok(Some(run)) => run,
            Ok(None) => return unknown_run(id),
            Err(err) => return ledger_failure(&err),
        };
        if !matches!(run.status, RunStatus::Succeeded | RunStatus::Downloaded) {
            let mut details = serde_json::Map::new();
            details.insert("status".into(), Value::from(run.status.as_str()));
            return json_error(
                StatusCode::CONFLICT,
                "report_not_ready",
                "The run has no report: it has not succeeded",
                Some(details),
            );
        }
        let url = match self.links.link(&run.report, LINK_VALIDITY).await {
            Ok(url) => url,
            Err(err) => {
                tracing::error!(run_id = %id, error = %err, "no presigned link");
                return unavailable();
            }
        };
        if let Err(err) = self.catalog.mark_downloaded(id, now).await {
            tracing::error!(run_id = %id, error = %err, "download not recorded");
            return ledger_failure(&err);
        }
        let mut response = json_response(
            StatusCode::FOUND,
            &json!({"url": url, "expires_in_seconds": LINK_VALIDITY.as_secs()}),
        );
        if let Ok(location) = HeaderValue::from_str(&url) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

struct ListParams {
    status: Option<RunStatus>,
    limit: usize,
    after: Option<ListPosition>,
}

impl ListParams {
    /// The listing's query parameters; each one missing, repeated, unknown or out of range is
    /// named in one 400.
    fn parse(query: &str) -> Result<Self, Box<Response<Body>>> {
        let mut problems = std::collections::BTreeMap::<String, Value>::new();
        let mut seen = std::collections::HashMap::new();
        for (name, value) in query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        {
            let value = crate::s3_event::decode_key(value).unwrap_or_default();
            if seen.insert(name.to_owned(), value).is_some() {
                problems.insert(name.into(), "is given more than once".into());
            }
        }
        let mut params = Self {
            status: None,
            limit: DEFAULT_LIMIT,
            after: None,
        };
        for (name, value) in &seen {
            match name.as_str() {
                "status" => match RunStatus::parse(value) {
                    Some(status) => params.status = Some(status),
                    None => {
                        problems.insert(
                            name.clone(),
                            "must be one of queued, running, succeeded, failed, skipped, downloaded"
                                .into(),
                        );
                    }
                },
                "limit" => match value.parse::<usize>() {
                    Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => params.limit = limit,
                    _ => {
                        problems.insert(
                            name.clone(),
                            format!("must be a whole number from 1 to {MAX_LIMIT}").into(),
                        );
                    }
                },
                "cursor" => match decode_cursor(value) {
                    Some(position) => params.after = Some(position),
                    None => {
                        return Err(Box::new(json_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_cursor",
                            "the cursor was not issued by this API",
                            None,
                        )));
                    }
                },
                _ => {
                    problems.insert(name.clone(), "is not a parameter of this API".into());
                }
            }
        }
        if problems.is_empty() {
            return Ok(params);
        }
        let mut details = serde_json::Map::new();
        details.insert(
            "parameters".into(),
            Value::Object(problems.into_iter().collect()),
        );
        Err(Box::new(json_error(
            StatusCode::BAD_REQUEST,
            "invalid_parameters",
            "One or more query parameters are repeated, unknown or out of range",
            Some(details),
        )))
    }
}

/// A listing cursor: where the last page ended, opaque to callers. A cursor edited by hand can
/// at most start the listing elsewhere; one of another shape is refused.
fn encode_cursor(position: &ListPosition) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", position.created_at, position.run_id))
}

fn decode_cursor(text: &str) -> Option<ListPosition> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (created_at, run_id) = text.split_once('|')?;
    let looks_like_a_time = created_at.len() >= 20
        && created_at.is_char_boundary(4)
        && created_at.as_bytes()[4] == b'-'
        && created_at.ends_with('Z');
    Some(ListPosition {
        created_at: looks_like_a_time.then(|| created_at.to_owned())?,
        run_id: RunId::parse(run_id)?,
    })
}

fn route(path: &str) -> Option<Route> {
    if path == "/runs" || path == "/runs/" {
        return Some(Route::List);
    }
    let rest = path.strip_prefix("/runs/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let id = RunId::parse(id)?;
    match tail {
        "" => Some(Route::Run(id)),
        "report" => Some(Route::Report(id)),
        _ => None,
    }
}

fn unknown_run(id: &RunId) -> Response<Body> {
    let mut details = serde_json::Map::new();
    details.insert("run_id".into(), Value::from(id.as_str()));
    json_error(
        StatusCode::NOT_FOUND,
        "unknown_run",
        "No run has this id",
        Some(details),
    )
}

fn ledger_failure(err: &LedgerError) -> Response<Body> {
    match err {
        LedgerError::Corrupt(_) | LedgerError::Refused(_) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "The run could not be read",
            None,
        ),
        LedgerError::Throttled | LedgerError::Unavailable(_) => unavailable(),
    }
}

fn unavailable() -> Response<Body> {
    let mut response = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        "A service the runs depend on could not be reached; try again",
        None,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The run as clients see it.
pub fn run_view(run: &Run) -> Value {
    let (version_name, version) = match &run.input.version {
        ObjectVersion::VersionId(id) => ("version_id", Value::from(id.as_str())),
        ObjectVersion::Etag(etag) => ("etag", Value::from(etag.as_str())),
        ObjectVersion::Unknown => ("version_id", Value::Null),
    };
    let summary = run
        .summary
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let failures: Vec<Value> = run
        .failures
        .iter()
        .map(
            |f| json!({"attempt": f.attempt, "error": f.error, "message": f.message(), "at": f.at}),
        )
        .collect();
    json!({
        "run_id": run.run_id,
        "status": run.status.as_str(),
        "input": {
            "uri": run.input.uri(),
            "bucket": run.input.bucket,
            "key": run.input.key,
            version_name: version,
            "size": run.input.size,
        },
        "engine": run.engine.as_str(),
        "attempts": run.attempts,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "files_to_process": run.files_to_process.iter().map(|p| json!({"key": p.key, "size": p.size})).collect::<Vec<_>>(),
        "report": {"bucket": run.report.bucket, "key": run.report.key},
        "summary": summary,
        "failures": failures,
        "execution_arn": run.execution_arn,
        "glue_job_run_id": run.glue_job_run_id,
        "skipped_reason": run.skipped_reason,
        "alerted_at": run.alerted_at,
        "downloaded_at": run.downloaded_at,
    })
}
