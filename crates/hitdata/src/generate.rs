//! Realistic, awkward hit-level data of a requested size, for tests and benchmarks: quoted user
//! agents, CRLF lines, several products per purchase, malformed revenue, `11` next to `1`, visit
//! gaps around 30 minutes, site search, unknown engines, encoded and non-ASCII keywords, lines a
//! little out of time order, and malformed rows. Deterministic for a given seed.

use std::io::{self, Write};

pub const HEADER: &str = "hit_time_gmt\tdate_time\tuser_agent\tip\tevent_list\tgeo_city\tgeo_region\tgeo_country\tpagename\tpage_url\tproduct_list\treferrer";

/// Lines are at most this many seconds behind the newest line before them.
pub const MAX_DISORDER_SECONDS: i64 = 120;

const SITE: &str = "www.esshopzilla.com";
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.1.3) Gecko/20090824 Firefox/3.5.3",
    "\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15\"",
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0; SLCC1; .NET CLR 2.0.50727)",
    "\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)\"",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Opera/9.80 (Android; Opera Mini/7.5) caf\u{e9}",
];
const SEARCHES: &[(&str, &str)] = &[
    (
        "http://www.google.com/search?hl=en&client=firefox-a&q={}&aq=f",
        "google",
    ),
    ("https://www.google.co.uk/search?q={}", "google"),
    (
        "http://search.yahoo.com/search?p={}&toggle=1&fr=yfp-t-701",
        "yahoo",
    ),
    ("http://www.bing.com/search?q={}&go=&form=QBLH", "bing"),
    ("http://search.aol.com/aol/search?query={}&q={}", "aol"),
    ("http://search.aol.com/aol/search?q=&query={}", "aol"),
    ("https://www.baidu.com/s?ie=utf-8&wd={}", "baidu"),
    ("https://www.baidu.com/s?word={}", "baidu"),
    ("https://yandex.ru/search/?text={}", "yandex"),
    ("https://duckduckgo.com/?q={}&t=h_", "duckduckgo"),
    ("https://www.ecosia.org/search?q={}", "ecosia"),
    ("http://www.msn.com/en-us/search?q={}", "msn"),
    ("https://www.ask.com/web?q={}", "ask"),
    (
        "http://www.searchengine.example/find?q={}",
        "unknown engine",
    ),
    ("http://www.esshopzilla.com/search/?q={}", "site search"),
    ("http://www.google.com/search?q=&oq={}", "no keyword"),
];
const KEYWORDS: &[&str] = &[
    "ipod",
    "Ipod",
    "ipod+nano",
    "Zune",
    "zune+32gb",
    "cd+player",
    "CD%20Player",
    "%20%20cd++player%20",
    "caf%C3%A9",
    "%D0%BF%D0%BB%D0%B5%D0%B5%D1%80",
    "stra%C3%9Fe+Kabel",
    "100%25+cotton",
    "50%zz+off",
    "bad%FFbyte",
    "%E4%B8%AD%E6%96%87",
    "Headphones",
    "usb+cable",
    "tv",
];
const OTHER_REFERRERS: &[&str] = &[
    "",
    "http://www.esshopzilla.com/product/?pid=as32213",
    "http://www.esshopzilla.com/cart/",
    "http://www.facebook.com/l.php?u=x",
    "not a url",
];
const PRODUCTS: &[&str] = &[
    "Ipod - Nano - 8GB",
    "Zune - 32GB",
    "Ipod - Touch - 32GB",
    "Headphones",
    "USB Cable",
];
const REVENUES: &[&str] = &[
    "290", "250", "190", "4.00", "12.5", "", "0.005", "-3.5", ".5", "12abc", "N/A", "1e3",
];
const PURCHASE_EVENTS: &[&str] = &["1", "1,2", " 1 ", "2,1,200"];
const OTHER_EVENTS: &[&str] = &["", "2", "10", "11", "12", "11,12", "2,12", "01"];
const CITIES: &[&str] = &[
    "Salem",
    "Rochester",
    "Duncan",
    "K\u{f6}ln",
    "S\u{e3}o Paulo",
];

/// A small, fast, seedable generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Visitor {
    ip: String,
    agent: &'static str,
    next_time: i64,
}

/// Writes at least `target_bytes` of data (header included), whole lines only.
pub fn generate(out: &mut impl Write, target_bytes: u64, seed: u64) -> io::Result<u64> {
    let mut rng = Rng(seed);
    let mut written = (HEADER.len() + 1) as u64;
    writeln!(out, "{HEADER}")?;
    let start = 1_254_033_280i64;
    let mut clock = start;
    let mut visitors: Vec<Visitor> = Vec::new();
    let mut line = String::with_capacity(1024);

    while written < target_bytes {
        if visitors.len() < 200 || rng.chance(3) {
            let ip = format!(
                "{}.{}.{}.{}",
                1 + rng.below(223),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            );
            visitors.push(Visitor {
                ip,
                agent: rng.pick(AGENTS),
                next_time: clock,
            });
        }
        let index = rng.below(visitors.len());
        let visitor = &mut visitors[index];
        clock = clock.max(visitor.next_time) + rng.below(3) as i64;
        let mut time = clock;
        if rng.chance(4) {
            time -= rng.below(MAX_DISORDER_SECONDS as usize + 1) as i64;
        }
        // Next hit of this visitor: usually soon, sometimes right around the 30-minute gap.
        visitor.next_time = time
            + match rng.below(20) {
                0 => 1799,
                1 => 1800,
                2 => 1801,
                3 => 2400 + rng.below(4000) as i64,
                _ => 5 + rng.below(300) as i64,
            };

        line.clear();
        write_hit(&mut line, &mut rng, time, &visitors[index]);
        if visitors.len() > 5000 {
            visitors.swap_remove(rng.below(visitors.len()));
        }
        written += line.len() as u64;
        out.write_all(line.as_bytes())?;
    }
    Ok(written)
}

fn write_hit(line: &mut String, rng: &mut Rng, time: i64, visitor: &Visitor) {
    use std::fmt::Write as _;
    let malformed = rng.below(400);
    let time_field = match malformed {
        0 => format!("{time}.0"),
        1 => String::from("unknown"),
        _ => time.to_string(),
    };
    let purchase = rng.chance(8);
    let events = if purchase {
        rng.pick(PURCHASE_EVENTS)
    } else {
        rng.pick(OTHER_EVENTS)
    };
    let referrer = if rng.chance(30) {
        let (template, _) = SEARCHES[rng.below(SEARCHES.len())];
        let keyword = rng.pick(KEYWORDS);
        template.replace("{}", keyword)
    } else {
        rng.pick(OTHER_REFERRERS).to_owned()
    };
    let mut products = String::new();
    if purchase || rng.chance(10) {
        for i in 0..1 + rng.below(3) {
            if i > 0 {
                products.push(',');
            }
            let _ = write!(
                products,
                "Electronics;{};{};{};",
                rng.pick(PRODUCTS),
                1 + rng.below(3),
                rng.pick(REVENUES)
            );
            if rng.chance(30) {
                products.push_str("200=1|201=2;");
            }
        }
    }
    let page = if rng.chance(50) {
        "Search Results"
    } else {
        "Product Detail"
    };
    let quoted_referrer = if rng.chance(5) {
        format!("\"{referrer}\"")
    } else {
        referrer
    };
    let _ = write!(
        line,
        "{time_field}\t2009-09-27 06:34:40\t{}\t{}\t{events}\t{}\tOR\tUS\t{page}\thttp://{SITE}/product/?pid=as{}\t{products}\t{quoted_referrer}",
        visitor.agent,
        visitor.ip,
        rng.pick(CITIES),
        rng.below(99_999),
    );
    if malformed == 2 {
        line.truncate(line.find("\tOR").unwrap_or(line.len()));
    }
    line.push_str(if rng.chance(10) { "\r\n" } else { "\n" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        generate(&mut a, 50_000, 7).unwrap();
        generate(&mut b, 50_000, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.len() >= 50_000);
        assert!(a.ends_with(b"\n"));
    }

    #[test]
    fn the_data_holds_the_awkward_cases() {
        let mut data = Vec::new();
        generate(&mut data, 2_000_000, 1).unwrap();
        let text = String::from_utf8_lossy(&data);
        for needle in [
            "\r\n",
            "\t\"Mozilla",
            "unknown\t",
            "search.aol.com",
            "12abc",
            "\t11\t",
            "%C3%A9",
            "esshopzilla.com/search",
        ] {
            assert!(text.contains(needle), "{needle:?} missing");
        }
    }
}
