//! The output file: `<date>_SearchKeywordPerformance.tab`, written whole or not at all.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::referrer::SearchReferral;
use crate::revenue::Revenue;

pub const HEADER: &str = "Search Engine Domain\tSearch Keyword\tRevenue\n";

pub fn file_name(date: &str) -> String {
    format!("{date}_SearchKeywordPerformance.tab")
}

/// The report's bytes: the header, then one line per row, LF line endings.
pub fn render(rows: &[(SearchReferral, Revenue)], out: &mut impl Write) -> io::Result<()> {
    out.write_all(HEADER.as_bytes())?;
    for (referral, revenue) in rows {
        writeln!(
            out,
            "{}\t{}\t{}",
            referral.domain, referral.keyword, revenue
        )?;
    }
    Ok(())
}

/// Writes the report into `out_dir` through a temporary file renamed into place, so a failed
/// run leaves no partial file behind.
pub fn write(
    rows: &[(SearchReferral, Revenue)],
    out_dir: &Path,
    date: &str,
) -> io::Result<PathBuf> {
    let target = out_dir.join(file_name(date));
    let temporary = out_dir.join(format!(
        ".{}.partial-{}",
        file_name(date),
        std::process::id()
    ));
    let result = (|| {
        let mut writer = BufWriter::new(fs::File::create(&temporary)?);
        render(rows, &mut writer)?;
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        fs::rename(&temporary, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.map(|()| target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_render_as_tab_separated_lines_with_two_decimals() {
        let rows = vec![(
            SearchReferral {
                domain: "google.com".into(),
                keyword: "ipod".into(),
            },
            Revenue::parse("480").unwrap(),
        )];
        let mut out = Vec::new();
        render(&rows, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Search Engine Domain\tSearch Keyword\tRevenue\ngoogle.com\tipod\t480.00\n"
        );
    }
}
