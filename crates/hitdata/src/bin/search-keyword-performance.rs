//! search-keyword-performance INPUT --out-dir DIR [--date YYYY-MM-DD] [--max-disorder SECONDS]
//!                            [--threads N]
//!
//! Writes `<DIR>/<date>_SearchKeywordPerformance.tab` and prints a JSON summary on stderr.
//! INPUT `-` reads standard input.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use hitdata::{DEFAULT_DISORDER_SECONDS, Options, analyze, report};

const USAGE: &str = "usage: search-keyword-performance INPUT --out-dir DIR [--date YYYY-MM-DD] [--max-disorder SECONDS] [--threads N]";

struct Arguments {
    input: String,
    out_dir: PathBuf,
    date: String,
    max_disorder: i64,
    threads: Option<usize>,
}

fn parse_arguments() -> Result<Arguments, String> {
    let mut input = None;
    let mut out_dir = None;
    let mut date = None;
    let mut max_disorder = DEFAULT_DISORDER_SECONDS;
    let mut threads = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--out-dir" => out_dir = Some(PathBuf::from(value("--out-dir")?)),
            "--date" => {
                let given = value("--date")?;
                if !is_date(&given) {
                    return Err(format!(
                        "--date {given:?} is not a date of the form YYYY-MM-DD"
                    ));
                }
                date = Some(given);
            }
            "--max-disorder" => {
                let given = value("--max-disorder")?;
                max_disorder = given.parse().ok().filter(|s: &i64| *s >= 0).ok_or(format!(
                    "--max-disorder {given:?} is not a number of seconds"
                ))?;
            }
            "--threads" => {
                let given = value("--threads")?;
                threads = Some(
                    given
                        .parse()
                        .ok()
                        .filter(|n: &usize| *n >= 1)
                        .ok_or(format!("--threads {given:?} is not a positive number"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            other if input.is_none() && (other == "-" || !other.starts_with('-')) => {
                input = Some(other.to_owned())
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(Arguments {
        input: input.ok_or("INPUT is required")?,
        out_dir: out_dir.ok_or("--out-dir is required")?,
        date: date.unwrap_or_else(today_utc),
        max_disorder,
        threads,
    })
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return false;
    }
    let number = |r: std::ops::Range<usize>| text[r].parse::<u16>().unwrap_or(0);
    let month = time::Month::try_from(number(5..7) as u8);
    month.is_ok_and(|m| {
        time::Date::from_calendar_date(i32::from(number(0..4)), m, number(8..10) as u8).is_ok()
    })
}

fn today_utc() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    )
}

// The engine allocates and frees blocks and visitor state in bursts from two threads; glibc's
// allocator hands big frees back to the kernel at once, and each unmapping interrupts the other
// core to flush its address translations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3's `mi_option_purge_delay` (its place in `mi_option_t`; the bindings do not name
/// it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory the engine frees is kept for its next allocations instead of being handed back to the
/// kernel a second after it is freed: the visitors' keys, the waiting hits and the blocks are
/// freed and taken again all run long, and every page handed back comes back as a fault and a
/// page of zeros. The process lives for one run, so what it keeps is what it peaked at.
fn keep_freed_memory() {
    // SAFETY: mimalloc keeps its options in plain memory, read by every thread that allocates;
    // this runs first in `main`, before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// The process does without transparent huge pages. mimalloc asks for them, and each is a 2 MiB
/// fault, zeroed whole, sometimes after the kernel has compacted memory to find one: without
/// them the peak RSS is lower (less than half on small populations) and no run stalls in
/// compaction, at the same speed (docs/benchmarks.md).
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integers and touches no memory of ours; if the kernel
    // refuses it, pages are as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// A pipe on standard input is given 1 MiB of buffer (the unprivileged maximum) instead of
/// 64 KiB, so a block is filled in one read rather than sixteen, each waking the writer.
fn widen_pipe() {
    #[cfg(target_os = "linux")]
    // SAFETY: F_SETPIPE_SZ takes an int and touches no memory of ours; on anything but a pipe it
    // fails with EBADF or EINVAL, and the input is read as it is.
    unsafe {
        libc::fcntl(libc::STDIN_FILENO, libc::F_SETPIPE_SZ, 1 << 20);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    without_huge_pages();
    let arguments = match parse_arguments() {
        Ok(arguments) => arguments,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("search-keyword-performance: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !arguments.out_dir.is_dir() {
        eprintln!(
            "search-keyword-performance: --out-dir {} is not a directory",
            arguments.out_dir.display()
        );
        return ExitCode::from(2);
    }
    let defaults = Options::default();
    let options = Options {
        max_disorder_seconds: arguments.max_disorder,
        threads: arguments.threads.unwrap_or(defaults.threads),
        ..defaults
    };
    let analyzed = if arguments.input == "-" {
        widen_pipe();
        analyze(io::stdin(), options)
    } else {
        File::open(&arguments.input)
            .map_err(hitdata::EngineError::from)
            .and_then(|file| analyze(file, options))
    };
    let result = match analyzed {
        Ok(result) => result,
        Err(err) => {
            eprintln!("search-keyword-performance: {}: {err}", arguments.input);
            return ExitCode::FAILURE;
        }
    };
    match report::write(&result.rows, &arguments.out_dir, &arguments.date) {
        Ok(path) => {
            eprintln!(
                "{}",
                serde_json::to_string_pretty(&result.summary).unwrap_or_default()
            );
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "search-keyword-performance: cannot write into {}: {err}",
                arguments.out_dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option's number is mimalloc's, not the bindings': a version that moved it would make
    /// `keep_freed_memory` set some other option. Its default is 1 000 ms (mimalloc's `options.c`).
    #[test]
    fn the_purge_delay_option_is_the_one_numbered() {
        // SAFETY: reads one of mimalloc's options.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000);
    }
}
