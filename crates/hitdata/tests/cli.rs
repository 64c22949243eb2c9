//! search-keyword-performance as a user runs it: what it writes, what it says, and that a
//! failed run leaves no report behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CLI: &str = env!("CARGO_BIN_EXE_search-keyword-performance");
const REPORT: &str = "2026-11-22_SearchKeywordPerformance.tab";
const HEADER: &str = "hit_time_gmt\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer\n";

/// A scratch directory with an empty `out/`, removed when the test ends.
struct Workspace(PathBuf);

impl std::ops::Deref for Workspace {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn workspace(name: &str) -> Workspace {
    let dir = std::env::temp_dir().join(format!("skp-cli-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("out")).unwrap();
    Workspace(dir)
}

fn run(input: &Path, out_dir: &Path, extra: &[&str]) -> Output {
    Command::new(CLI)
        .arg(input)
        .args(["--out-dir".as_ref(), out_dir.as_os_str()])
        .args(["--date", "2026-11-22"])
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_writes_the_report_and_a_json_summary() {
    let dir = workspace("ok");
    let input = dir.join("hits.tsv");
    fs::write(&input, format!("{HEADER}1\t1.1.1.1\tUA\t\t\t\thttp://www.google.com/?q=Ipod\n2\t1.1.1.1\tUA\t1\t\tA;B;1;480\t\n")).unwrap();

    let output = run(&input, &dir.join("out"), &[]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(dir.join("out").join(REPORT)).unwrap(),
        "Search Engine Domain\tSearch Keyword\tRevenue\ngoogle.com\tipod\t480.00\n"
    );
    let text = stderr(&output);
    let summary: serde_json::Value =
        serde_json::from_str(&text[..=text.rfind('}').unwrap()]).unwrap();
    assert_eq!(
        (summary["rows_read"].as_u64(), summary["purchases"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(summary["attributed_revenue"], "480.00");
}

#[test]
fn unreadable_input_is_a_clear_failure_without_a_report() {
    let dir = workspace("missing");

    let output = run(&dir.join("no-such-file.tsv"), &dir.join("out"), &[]);

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no-such-file.tsv"),
        "{}",
        stderr(&output)
    );
    assert!(files_in(&dir.join("out")).is_empty());
}

#[test]
fn a_header_without_needed_columns_is_a_clear_failure_without_a_report() {
    let dir = workspace("header");
    let input = dir.join("hits.tsv");
    fs::write(&input, "hit_time_gmt\tip\n1\t1.1.1.1\n").unwrap();

    let output = run(&input, &dir.join("out"), &[]);

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("lacks the column(s) user_agent"),
        "{}",
        stderr(&output)
    );
    assert!(files_in(&dir.join("out")).is_empty());
}

#[test]
fn input_out_of_order_beyond_the_window_fails_naming_the_line() {
    let dir = workspace("late");
    let input = dir.join("hits.tsv");
    fs::write(
        &input,
        format!("{HEADER}10000\t1.1.1.1\tUA\t\t\t\t\n100\t2.2.2.2\tUA\t\t\t\t\n"),
    )
    .unwrap();

    let output = run(&input, &dir.join("out"), &["--max-disorder", "60"]);

    assert!(!output.status.success());
    assert!(stderr(&output).contains("line 3"), "{}", stderr(&output));
    assert!(files_in(&dir.join("out")).is_empty());
}

#[test]
fn an_unwritable_output_fails_and_leaves_no_partial_file() {
    let dir = workspace("unwritable");
    let input = dir.join("hits.tsv");
    fs::write(&input, format!("{HEADER}1\t1.1.1.1\tUA\t\t\t\t\n")).unwrap();
    // The report's name is taken by a directory, so the final rename cannot succeed.
    fs::create_dir(dir.join("out").join(REPORT)).unwrap();

    let output = run(&input, &dir.join("out"), &[]);

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot write"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        files_in(&dir.join("out")),
        [REPORT],
        "the temporary file must be gone"
    );
    assert!(dir.join("out").join(REPORT).is_dir());
}

#[test]
fn an_out_dir_that_is_not_a_directory_or_a_bad_date_is_a_usage_error() {
    let dir = workspace("usage");
    let input = dir.join("hits.tsv");
    fs::write(&input, HEADER).unwrap();

    let not_a_dir = run(&input, &input, &[]);
    let bad_date = Command::new(CLI)
        .arg(&input)
        .args(["--out-dir".as_ref(), dir.join("out").as_os_str()])
        .args(["--date", "2026-02-30"])
        .output()
        .unwrap();

    assert_eq!(not_a_dir.status.code(), Some(2));
    assert!(stderr(&not_a_dir).contains("is not a directory"));
    assert_eq!(bad_date.status.code(), Some(2));
    assert!(stderr(&bad_date).contains("2026-02-30"));
}
