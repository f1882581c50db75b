//! Four-letter words: a connection whose first four bytes spell one gets a text answer and is
//! closed, in ZooKeeper's formats. This module is the I/O side (recognising a word, measuring
//! what the core must not read itself: directory sizes, the working directory); the answers
//! are the core's (crate::core).

use std::path::Path;

use crate::config::ServerConfig;
pub use crate::core::FourLetterIo;

/// The words Corral answers.
pub const WORDS: &[&str] = &[
    "ruok", "srvr", "stat", "mntr", "conf", "envi", "srst", "isro", "wchs", "dirs", "cons", "crst",
    "dump", "wchc", "wchp", "hash", "gtmk", "stmk",
];

/// Whether the first four bytes of a connection are a four-letter word rather than a frame
/// length. ZooKeeper recognises only its known words; anything else is a frame length.
pub fn detect(first: &[u8]) -> Option<&'static str> {
    WORDS.iter().copied().find(|w| w.as_bytes() == first)
}

/// The version line ZooKeeper's clients and tools parse.
pub fn version() -> String {
    format!(
        "3.8.0-corral-{}, built on corral",
        env!("CARGO_PKG_VERSION")
    )
}

/// What the answer to `word` needs from the file system and the connection counters,
/// measured here (outside the core). Nothing for a word the whitelist refuses: the core
/// answers that it is not executed, and a refused word costs no I/O.
pub(crate) fn measure(
    word: &str,
    config: &ServerConfig,
    counters: &crate::io_metrics::NetCounters,
) -> FourLetterIo {
    let mut io = FourLetterIo::default();
    if !config.four_letter_words.allows(word) {
        return io;
    }
    if word == "mntr" {
        io = crate::io_metrics::measure(counters);
    }
    match word {
        "dirs" => {
            let (data, log) = config.version_dirs();
            io.datadir_size = files_size(&data);
            io.logdir_size = files_size(&log);
        }
        "envi" => {
            io.cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
        }
        _ => {}
    }
    io
}

/// The total size of the regular files in `dir` (ZooKeeper's `dirs` sums its snapshot and
/// txn log directories); 0 if it cannot be read.
pub(crate) fn files_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// `java.util.Date.toString()` in UTC: `Mon Nov 23 04:49:26 UTC 2026` (the dates of `dump`,
/// and of zkCli's Stat lines).
pub fn java_date(wall_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = wall_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    format!(
        "{weekday} {month_name} {day:02} {:02}:{:02}:{:02} UTC {year}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{java_date, measure};
    use crate::ServerConfig;

    #[test]
    fn a_word_the_whitelist_refuses_is_not_measured() {
        let dir = std::env::temp_dir().join(format!("corral-4lw-measure-{}", std::process::id()));
        let config = |whitelist: &str| {
            ServerConfig::parse(&format!(
                "dataDir={}\nclientPort=1\n4lw.commands.whitelist={whitelist}\n",
                dir.display()
            ))
            .expect("config")
        };
        let (data, _) = config("srvr").version_dirs();
        std::fs::create_dir_all(&data).expect("dir");
        std::fs::write(data.join("snapshot.1"), b"12345").expect("file");
        let counters = crate::io_metrics::NetCounters::default();
        assert_eq!(measure("dirs", &config("srvr"), &counters).datadir_size, 0);
        assert_eq!(measure("dirs", &config("dirs"), &counters).datadir_size, 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dates_print_as_java_does_in_utc() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-23T04:49:26Z, a Monday (seen in ZooKeeper's own `dump`)
        assert_eq!(java_date(1_795_409_366_000), "Mon Nov 23 04:49:26 UTC 2026");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(java_date(-1), "Wed Dec 31 23:59:59 UTC 1969");
    }
}
