//! `simulate`: realistic, repeatable traffic against the records URL (and optionally the logs
//! bridge), bounded by a duration or a request count.
//!
//! ```text
//! simulate --records-url URL (--duration SECONDS | --count N) [--rate PER_SECOND]
//!          [--concurrency N] [--seed N] [--invalid SHARE] [--half-valid SHARE]
//!          [--logs-url URL --app-key KEY --logs-share SHARE] [--json]
//! ```
//!
//! Records are random but valid by the pipeline's rules (names from a list of common names in
//! several scripts, `.com` emails of letters and digits, 4 to 6 digit pincodes); `--invalid`
//! and `--half-valid` mix in shares of submissions that must be refused (400) or go to an admin
//! (202). The same seed gives the same requests in the same order. Requests start on an open
//! schedule (`--rate` per second, at most `--concurrency` in flight); a progress line is printed
//! every second to stderr, and at the end status counts, how many answered as their kind should,
//! and latency percentiles, each request timed from when the schedule said it was due (so time
//! spent waiting for a free slot counts). Only the URLs given are ever called.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

const USAGE: &str = "usage: simulate --records-url URL (--duration SECONDS | --count N) [--rate PER_SECOND] \
[--concurrency N] [--seed N] [--invalid SHARE] [--half-valid SHARE] [--logs-url URL --app-key KEY \
--logs-share SHARE] [--json]";

#[derive(Debug, Clone)]
struct Options {
    records_url: String,
    logs_url: Option<String>,
    app_key: Option<String>,
    duration: Option<Duration>,
    count: Option<u64>,
    rate: f64,
    concurrency: usize,
    seed: u64,
    invalid: f64,
    half_valid: f64,
    logs_share: f64,
    json: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut values: BTreeMap<&str, &str> = BTreeMap::new();
    let mut json = false;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag:?}"))?;
        if name == "json" {
            json = true;
            continue;
        }
        let known = [
            "records-url",
            "logs-url",
            "app-key",
            "duration",
            "count",
            "rate",
            "concurrency",
            "seed",
            "invalid",
            "half-valid",
            "logs-share",
        ];
        if !known.contains(&name) {
            return Err(format!("unknown option --{name}"));
        }
        let value = rest
            .next()
            .ok_or_else(|| format!("--{name} needs a value"))?;
        if values.insert(name, value).is_some() {
            return Err(format!("--{name} is given twice"));
        }
    }
    let number =
        |name: &str, default: f64, range: std::ops::RangeInclusive<f64>| match values.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<f64>()
                .ok()
                .filter(|v| range.contains(v))
                .ok_or_else(|| {
                    format!(
                        "--{name} must be a number from {} to {}",
                        range.start(),
                        range.end()
                    )
                }),
        };
    let duration = values
        .get("duration")
        .map(|_| number("duration", 0.0, 0.001..=86_400.0))
        .transpose()?
        .map(Duration::from_secs_f64);
    let count = values
        .get("count")
        .map(|raw| {
            raw.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or("--count must be a positive whole number")
        })
        .transpose()?;
    if duration.is_none() && count.is_none() {
        return Err("refusing to run unbounded: give --duration SECONDS or --count N".into());
    }
    let options = Options {
        records_url: values
            .get("records-url")
            .ok_or("--records-url is required")?
            .trim_end_matches('/')
            .to_owned(),
        logs_url: values
            .get("logs-url")
            .map(|u| u.trim_end_matches('/').to_owned()),
        app_key: values.get("app-key").map(|k| (*k).to_owned()),
        duration,
        count,
        rate: number("rate", 10.0, 0.01..=100_000.0)?,
        concurrency: number("concurrency", 16.0, 1.0..=4096.0)? as usize,
        seed: number("seed", 1.0, 0.0..=9.0e15)? as u64,
        invalid: number("invalid", 0.0, 0.0..=1.0)?,
        half_valid: number("half-valid", 0.0, 0.0..=1.0)?,
        logs_share: number("logs-share", 0.0, 0.0..=1.0)?,
        json,
    };
    if options.invalid + options.half_valid > 1.0 {
        return Err("--invalid and --half-valid together must be at most 1".into());
    }
    if options.logs_share > 0.0 && (options.logs_url.is_none() || options.app_key.is_none()) {
        return Err("--logs-share needs --logs-url and --app-key".into());
    }
    Ok(options)
}

/// SplitMix64: small, fast, and the same sequence for the same seed on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Asha",
    "Ravi",
    "Meera",
    "Arjun",
    "Priya",
    "Sam",
    "José",
    "Müller",
    "Wei",
    "Fatima",
    "Olu",
    "Sofia",
    "Kenji",
    "Amara",
    "Liam",
    "Noor",
    "Ivan",
    "Chloé",
    "محمد",
    "张伟",
    "ஆஷா",
    "Sipho",
];
const LAST: &[&str] = &[
    "Rao", "Kumar", "Smith", "García", "Nakamura", "Okafor", "Singh", "Chen", "Novak", "Haddad",
    "O'Brien", "Silva", "Kowalski", "Nguyen", "Mensah", "Iyer",
];
const DOMAINS: &[&str] = &["example", "mail", "inbox", "post", "acme", "corp1", "web"];
const LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Valid,
    HalfValid,
    Invalid,
    Log,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Valid => "valid record",
            Kind::HalfValid => "half-valid record",
            Kind::Invalid => "invalid record",
            Kind::Log => "log entry",
        }
    }

    /// The status the service must answer for this kind.
    fn expected(self) -> u16 {
        match self {
            Kind::Valid | Kind::Log => 200,
            Kind::HalfValid => 202,
            Kind::Invalid => 400,
        }
    }
}

struct Planned {
    kind: Kind,
    url: String,
    body: Option<String>,
}

/// The `n`th request of a run: drawn from the run's generator, so the plan is the seed's.
fn plan(random: &mut Random, options: &Options, n: u64) -> Planned {
    if options.logs_share > 0.0 && random.unit() < options.logs_share {
        let entry = json!([{
            "level": random.pick(LOG_LEVELS),
            "message": format!("screen {} shown", random.below(40)),
            "session": format!("{:016x}", random.next()),
            "sequence": n,
        }]);
        return Planned {
            kind: Kind::Log,
            url: format!(
                "{}/api/v1/logs/app",
                options.logs_url.as_deref().unwrap_or("")
            ),
            body: Some(entry.to_string()),
        };
    }
    let first = random.pick(FIRST);
    let last = random.pick(LAST);
    let name = format!("{first} {last} {}", random.below(1_000_000));
    let local: String = first
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    let local = if local.is_empty() {
        "user".into()
    } else {
        local
    };
    let email = format!(
        "{local}{}@{}.com",
        random.below(100_000),
        random.pick(DOMAINS)
    );
    let digits = 4 + random.below(3);
    let pincode: String = (0..digits)
        .map(|_| char::from(b'0' + random.below(10) as u8))
        .collect();
    let draw = random.unit();
    let (kind, name, email, pincode) = if draw < options.invalid {
        // Broken beyond review: no name, and a malformed email.
        (
            Kind::Invalid,
            String::new(),
            email.replace('@', "."),
            pincode,
        )
    } else if draw < options.invalid + options.half_valid {
        let mut broken = pincode;
        broken.insert(2, '-');
        (Kind::HalfValid, name, email, broken)
    } else {
        (Kind::Valid, name, email, pincode)
    };
    let query = form_query(&[
        ("user_name", &name),
        ("email", &email),
        ("pincode", &pincode),
    ]);
    Planned {
        kind,
        url: format!("{}/?{query}", options.records_url),
        body: None,
    }
}

fn form_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    /// (kind, status or 0 for a transport error) → count
    statuses: BTreeMap<(Kind, u16), u64>,
    latencies: Vec<u64>,
    as_expected: u64,
    sent: u64,
    late_starts: u64,
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)] as f64 / 1000.0
}

async fn run(options: Options) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(options.concurrency)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let permits = Arc::new(Semaphore::new(options.concurrency));
    let mut random = Random(options.seed);
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / options.rate);
    let progress = {
        let tally = Arc::clone(&tally);
        let permits = Arc::clone(&permits);
        let concurrency = options.concurrency;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let line = {
                    let tally = tally.lock().unwrap();
                    let mut recent = tally.latencies.clone();
                    recent.sort_unstable();
                    format!(
                        "\r{:7.1} s  sent {}  as expected {}  in flight {}  p50 {:.1} ms  p99 {:.1} ms ",
                        start.elapsed().as_secs_f64(),
                        tally.sent,
                        tally.as_expected,
                        concurrency - permits.available_permits(),
                        percentile(&recent, 0.5),
                        percentile(&recent, 0.99),
                    )
                };
                eprint!("{line}");
                let _ = std::io::stderr().flush();
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut n = 0u64;
    loop {
        if options.count.is_some_and(|count| n >= count) {
            break;
        }
        let due = start + interval.mul_f64(n as f64);
        if options.duration.is_some_and(|d| due >= start + d) {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let planned = plan(&mut random, &options, n);
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let late = due.elapsed() > interval.max(Duration::from_millis(5));
        let (client, tally, app_key) =
            (client.clone(), Arc::clone(&tally), options.app_key.clone());
        tasks.spawn(async move {
            // Timed from when the request was due, not when a slot freed up: a request that
            // waited for one waited as its caller would have (no coordinated omission).
            let sent = due;
            let request = match &planned.body {
                Some(body) => client
                    .post(&planned.url)
                    .header("Content-Type", "application/json")
                    .header("AppKey", app_key.unwrap_or_default())
                    .body(body.clone()),
                None => client.get(&planned.url),
            };
            let status = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            let micros = sent.elapsed().as_micros() as u64;
            drop(permit);
            let mut tally = tally.lock().unwrap();
            tally.sent += 1;
            tally.late_starts += u64::from(late);
            tally.latencies.push(micros);
            *tally.statuses.entry((planned.kind, status)).or_default() += 1;
            if status == planned.kind.expected() {
                tally.as_expected += 1;
            }
        });
        n += 1;
        while let Some(done) = tasks.try_join_next() {
            done?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    progress.abort();
    eprintln!();
    let elapsed = start.elapsed().as_secs_f64();
    let tally = tally.lock().unwrap();
    let mut latencies = tally.latencies.clone();
    latencies.sort_unstable();
    let mut by_kind: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for ((kind, status), count) in &tally.statuses {
        let status = if *status == 0 {
            "no answer".to_owned()
        } else {
            status.to_string()
        };
        by_kind
            .entry(kind.name())
            .or_default()
            .insert(status, *count);
    }
    Ok(json!({
        "requests": tally.sent,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "achieved_per_second": ((tally.sent as f64 / elapsed) * 10.0).round() / 10.0,
        "target_per_second": options.rate,
        "concurrency": options.concurrency,
        "seed": options.seed,
        "as_expected": tally.as_expected,
        "not_as_expected": tally.sent - tally.as_expected,
        "late_starts": tally.late_starts,
        "statuses": by_kind,
        "latency_ms": {
            "p50": percentile(&latencies, 0.50),
            "p90": percentile(&latencies, 0.90),
            "p99": percentile(&latencies, 0.99),
            "max": percentile(&latencies, 1.0),
        },
    }))
}

fn print_human(report: &Value) {
    println!(
        "{} requests in {} s ({} per second, target {}), concurrency {}, seed {}",
        report["requests"],
        report["seconds"],
        report["achieved_per_second"],
        report["target_per_second"],
        report["concurrency"],
        report["seed"]
    );
    println!(
        "answered as their kind should: {}, otherwise: {}; started late (all {} in flight): {}",
        report["as_expected"],
        report["not_as_expected"],
        report["concurrency"],
        report["late_starts"]
    );
    if let Some(kinds) = report["statuses"].as_object() {
        for (kind, statuses) in kinds {
            let shown: Vec<String> = statuses
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, count)| format!("{status}: {count}"))
                .collect();
            println!("  {kind:<18} {}", shown.join(", "));
        }
    }
    let l = &report["latency_ms"];
    println!(
        "latency ms: p50 {}  p90 {}  p99 {}  max {}",
        l["p50"], l["p90"], l["p99"], l["max"]
    );
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(why) => {
            eprintln!("simulate: {why}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let json_output = options.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("simulate: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(report) => {
            if json_output {
                println!("{report}");
            } else {
                print_human(&report);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("simulate: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn options(text: &str) -> Options {
        parse(&args(text)).unwrap()
    }

    #[test]
    fn it_refuses_to_run_without_a_bound_or_a_target() {
        let err = parse(&args("--records-url http://x")).unwrap_err();
        assert!(err.contains("unbounded"), "{err}");
        assert!(
            parse(&args("--count 5"))
                .unwrap_err()
                .contains("--records-url")
        );
        assert!(parse(&args("--records-url http://x --count 0")).is_err());
        assert!(parse(&args("--records-url http://x --count 5 --rate 0")).is_err());
        assert!(
            parse(&args(
                "--records-url http://x --count 5 --invalid 0.7 --half-valid 0.7"
            ))
            .is_err()
        );
        assert!(parse(&args("--records-url http://x --count 5 --logs-share 0.5")).is_err());
        assert!(parse(&args("--records-url http://x --count 5 --bogus 1")).is_err());
        assert!(parse(&args("--records-url http://x --count 5 --count 6")).is_err());
    }

    #[test]
    fn the_same_seed_plans_the_same_requests() {
        let o =
            options("--records-url http://r --count 50 --invalid 0.2 --half-valid 0.2 --seed 7");
        let urls = |o: &Options| {
            let mut random = Random(o.seed);
            (0..50)
                .map(|n| plan(&mut random, o, n).url)
                .collect::<Vec<_>>()
        };
        assert_eq!(urls(&o), urls(&o));
        let other = Options {
            seed: 8,
            ..o.clone()
        };
        assert_ne!(urls(&o), urls(&other));
    }

    #[test]
    fn planned_records_are_what_their_kind_says_by_the_pipeline_rules() {
        let o = options("--records-url http://r --count 1 --invalid 0.25 --half-valid 0.25");
        let mut random = Random(3);
        let mut seen = BTreeMap::new();
        for n in 0..2000 {
            let planned = plan(&mut random, &o, n);
            let query = planned.url.split_once('?').unwrap().1;
            let input = match records::query::parse(Some(query), true).unwrap() {
                records::query::RecordRequest::Ingest(input) => input,
                other => panic!("{other:?}"),
            };
            let verdict = records::rules::validate(&input, "2026-12-01T00:00:00.000Z");
            let kind = match verdict {
                records::Verdict::Valid { .. } => Kind::Valid,
                records::Verdict::NeedsApproval { .. } => Kind::HalfValid,
                records::Verdict::Invalid { .. } => Kind::Invalid,
            };
            assert_eq!(kind, planned.kind, "{input:?}");
            *seen.entry(kind).or_insert(0) += 1;
        }
        // Shares within a few percent of what was asked.
        assert!((900..1100).contains(&seen[&Kind::Valid]), "{seen:?}");
        assert!((400..600).contains(&seen[&Kind::HalfValid]), "{seen:?}");
        assert!((400..600).contains(&seen[&Kind::Invalid]), "{seen:?}");
    }
}
