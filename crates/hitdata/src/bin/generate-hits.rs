//! generate-hits OUTPUT --size BYTES [--seed N] [--visitors N]: realistic, awkward hit-level
//! data; with `--visitors`, N people browsing at every moment (`1M`, `100k` and the like work).

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

fn size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let multiplier = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut output = None;
    let mut target = None;
    let mut seed = 1u64;
    let mut visitors = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--size" => target = args.get(i + 1).and_then(|s| size(s)),
            "--seed" => seed = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(seed),
            "--visitors" => match args.get(i + 1).and_then(|s| size(s)) {
                // Each person is held in memory (a user agent can be 2 kB): 10 M is about 4 GB.
                Some(n @ 1..=10_000_000) => visitors = usize::try_from(n).ok(),
                _ => {
                    eprintln!("generate-hits: --visitors takes a count from 1 to 10M");
                    return ExitCode::from(2);
                }
            },
            path => {
                output = Some(path.to_owned());
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    let (Some(output), Some(target)) = (output, target) else {
        eprintln!("usage: generate-hits OUTPUT --size BYTES[K|M|G] [--seed N] [--visitors N[K|M]]");
        return ExitCode::from(2);
    };
    let result = File::create(&output).and_then(|file| {
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let written = match visitors {
            None => hitdata::generate::generate(&mut writer, target, seed)?,
            Some(n) => hitdata::generate::generate_browsing(&mut writer, target, seed, n)?,
        };
        writer.into_inner().map_err(|e| e.into_error())?;
        Ok(written)
    });
    match result {
        Ok(written) => {
            eprintln!("wrote {written} bytes to {output}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("generate-hits: cannot write {output}: {err}");
            ExitCode::FAILURE
        }
    }
}
