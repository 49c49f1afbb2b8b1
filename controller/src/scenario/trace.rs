//! Trace files: yesterday's traffic as a key stream, for `keys = "trace:FILE"` and `fetchbench
//! trace-stats`. Three formats, told apart by the first line that is not blank or a `#` comment:
//! - an S3 server access log (a line whose third field is a `[06/Feb/2019:00:00:38 +0000]` time
//!   and whose seventh is an operation such as `REST.GET.OBJECT`): the `REST.GET.OBJECT`
//!   records give the keys (URL-decoded), their times and object sizes; other records are skipped;
//! - CSV whose header has a `key` column, and optionally `timestamp` (or `time`: seconds as a
//!   number, or an RFC 3339 time) and `size` (or `bytes`) columns;
//! - otherwise, one key per line.
//!
//! Keys are interned: a trace holds each distinct key once and its records refer to them by
//! index, which is what replay (one object per distinct key) and the statistics both need.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most records a trace may hold: a replay hands every agent its share in one message.
pub use fetchbench_proto::limits::MAX_TRACE_RECORDS as MAX_RECORDS;

/// A trace read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The distinct keys, in the order the trace first reads them.
    pub keys: Vec<String>,
    /// The requests, in the order they are replayed.
    pub records: Vec<TraceRecord>,
    /// The file's format.
    pub format: TraceFormat,
    /// Lines left out: an access log's records of other operations than `REST.GET.OBJECT`.
    pub skipped: u64,
}

/// One request of a trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceRecord {
    /// Index of its key in [`Trace::keys`].
    pub key: u32,
    /// When it was sent, after the trace's first record; `None` when the trace has no times.
    pub at: Option<Duration>,
    /// The object's size, bytes, when the trace says.
    pub size: Option<u64>,
}

/// How a trace file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// One key per line.
    Keys,
    /// CSV with a header naming a `key` column.
    Csv,
    /// Amazon S3 server access log records.
    S3AccessLog,
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceFormat::Keys => "one key per line",
            TraceFormat::Csv => "CSV",
            TraceFormat::S3AccessLog => "S3 server access log",
        })
    }
}

/// Why a trace file was refused. Displays as one line: `trace FILE:LINE: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trace {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TraceError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line at fault, when there is one.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Trace {
    /// Whether every record has a time: what a timed replay needs.
    pub fn has_times(&self) -> bool {
        !self.records.is_empty() && self.records.iter().all(|r| r.at.is_some())
    }

    /// Each distinct key's size, bytes: that of its last record giving one, `None` when none
    /// does. Indexed like [`Trace::keys`].
    pub fn key_sizes(&self) -> Vec<Option<u64>> {
        let mut sizes = vec![None; self.keys.len()];
        for r in &self.records {
            if r.size.is_some() {
                sizes[r.key as usize] = r.size;
            }
        }
        sizes
    }

    /// Requests per distinct key, indexed like [`Trace::keys`].
    pub fn counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.keys.len()];
        for r in &self.records {
            counts[r.key as usize] += 1;
        }
        counts
    }
}

/// Read the trace at `path`, telling its format from its first line.
pub fn load(path: &Path) -> Result<Trace, TraceError> {
    let fail = |line: Option<usize>, message: String| TraceError { path: path.to_owned(), line, message };
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => fail(None, "no such file; give the path of a trace file".into()),
        _ => fail(None, format!("cannot read it: {e}")),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        fail(Some(line), "is not UTF-8 text; a trace is a text file".into())
    })?;
    parse(&text).map_err(|(line, message)| fail(line, message))
}

/// Parse trace text; an error is its line (when it has one) and what is wrong.
pub fn parse(text: &str) -> Result<Trace, (Option<usize>, String)> {
    let lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let mut content = lines.clone().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((_, first)) = content.next() else {
        return Err((
            None,
            "holds no keys; write one key per line, CSV with a key column, or an S3 access log".into(),
        ));
    };
    let mut builder = Builder::default();
    let format = if access_log_fields(first).is_some() {
        parse_access_log(lines, &mut builder)?;
        TraceFormat::S3AccessLog
    } else if csv_cells(first).iter().any(|c| c.trim().eq_ignore_ascii_case("key")) {
        parse_csv(lines, &mut builder)?;
        TraceFormat::Csv
    } else {
        for (n, line) in content_lines(lines) {
            builder.push(n, line.trim(), None, None)?;
        }
        TraceFormat::Keys
    };
    builder.finish(format)
}

/// The lines that hold records: not blank, not `#` comments.
fn content_lines<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> impl Iterator<Item = (usize, &'a str)> {
    lines.filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
}

/// Records as they are read: keys interned, times in seconds on the file's own clock.
#[derive(Default)]
struct Builder {
    keys: Vec<String>,
    index: HashMap<String, u32>,
    records: Vec<(u32, Option<f64>, Option<u64>)>,
    skipped: u64,
}

impl Builder {
    fn push(
        &mut self,
        line: usize,
        key: &str,
        time: Option<f64>,
        size: Option<u64>,
    ) -> Result<(), (Option<usize>, String)> {
        if key.is_empty() {
            return Err((Some(line), "the key is empty".into()));
        }
        if self.records.len() >= MAX_RECORDS {
            return Err((Some(line), format!("more than {MAX_RECORDS} records; replay a part of the trace")));
        }
        let id = match self.index.get(key) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.keys.len()).expect("fewer keys than records");
                self.keys.push(key.to_owned());
                self.index.insert(key.to_owned(), id);
                id
            }
        };
        self.records.push((id, time, size));
        Ok(())
    }

    fn finish(self, format: TraceFormat) -> Result<Trace, (Option<usize>, String)> {
        if self.records.is_empty() {
            let what = match format {
                TraceFormat::S3AccessLog => "no REST.GET.OBJECT records",
                _ => "no keys",
            };
            return Err((None, format!("holds {what}; nothing to replay")));
        }
        let first = self.records.iter().filter_map(|r| r.1).fold(f64::INFINITY, f64::min);
        let records = self
            .records
            .into_iter()
            .map(|(key, time, size)| TraceRecord {
                key,
                at: time.map(|t| Duration::from_secs_f64((t - first).max(0.0))),
                size,
            })
            .collect();
        Ok(Trace { keys: self.keys, records, format, skipped: self.skipped })
    }
}

/// CSV: a header naming the columns, then one record per line.
fn parse_csv<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    b: &mut Builder,
) -> Result<(), (Option<usize>, String)> {
    let mut lines = content_lines(lines);
    let (header_line, header) = lines.next().expect("the caller saw a first line");
    let header: Vec<String> = csv_cells(header).iter().map(|c| c.trim().to_ascii_lowercase()).collect();
    let column = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let key = column(&["key"]).ok_or((Some(header_line), "the header has no key column".to_owned()))?;
    let time = column(&["timestamp", "time"]);
    let size = column(&["size", "bytes"]);
    let mut last_time: Option<(usize, f64)> = None;
    for (n, line) in lines {
        let cells = csv_cells(line);
        let cell = |i: usize| cells.get(i).map_or("", |c| c.trim());
        let t = match time {
            Some(i) => {
                let t = parse_time(cell(i)).ok_or_else(|| {
                    (Some(n), format!(
                        "timestamp {:?} is neither seconds (e.g. 12.5) nor an RFC 3339 time (e.g. 2026-12-01T10:00:00.25Z)",
                        cell(i)
                    ))
                })?;
                if let Some((before, earlier)) = last_time.filter(|(_, earlier)| t < *earlier) {
                    return Err((
                        Some(n),
                        format!(
                            "timestamp goes back {:.3} s from line {before}; sort the trace by time",
                            earlier - t
                        ),
                    ));
                }
                last_time = Some((n, t));
                Some(t)
            }
            None => None,
        };
        let s = match size.map(cell) {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<u64>()
                    .map_err(|_| (Some(n), format!("size {text:?} is not a number of bytes")))?,
            ),
        };
        b.push(n, cell(key), t, s)?;
    }
    Ok(())
}

/// The cells of one CSV line: commas separate, double quotes enclose, `""` is a quote.
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let cell = cells.last_mut().expect("at least one cell");
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(String::new()),
            c => cell.push(c),
        }
    }
    cells
}

/// Seconds as a number, or an RFC 3339 time as seconds since the Unix epoch.
fn parse_time(text: &str) -> Option<f64> {
    if let Ok(secs) = text.parse::<f64>() {
        return secs.is_finite().then_some(secs);
    }
    rfc3339_secs(text)
}

/// `2026-12-01T10:00:00.25Z` or `...+01:00` as seconds since the Unix epoch.
fn rfc3339_secs(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &text[19..];
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (format!("0.{}", &r[..digits]).parse::<f64>().ok()?, &r[digits..])
        }
        None => (0.0, rest),
    };
    let offset = match zone {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (z[1..3].parse::<i64>().ok()? * 3600 + z[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    civil_secs(year, month, day, hour, minute, second).map(|s| (s - offset) as f64 + fraction)
}

/// Seconds since the Unix epoch of a UTC calendar time (days from Howard Hinnant's civil
/// algorithm); `None` for a date or time out of range.
fn civil_secs(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// An S3 server access log: `REST.GET.OBJECT` records, in time order (S3 delivers log records
/// best effort, not sorted, so records are put in time order, ties kept in file order).
fn parse_access_log<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    b: &mut Builder,
) -> Result<(), (Option<usize>, String)> {
    let mut gets = Vec::new();
    for (n, line) in content_lines(lines) {
        let fields = access_log_fields(line).ok_or_else(|| {
            (Some(n), "is not an S3 server access log record (owner bucket [time] ip requester id operation key ...)".to_owned())
        })?;
        if fields.operation != "REST.GET.OBJECT" {
            b.skipped += 1;
            continue;
        }
        let time = access_log_time(fields.time).ok_or_else(|| {
            (Some(n), format!("time [{}] is not like [06/Feb/2019:00:00:38 +0000]", fields.time))
        })?;
        let key = percent_decode(fields.key)
            .ok_or_else(|| (Some(n), format!("key {:?} is not URL-encoded UTF-8", fields.key)))?;
        let size = fields.object_size.parse::<u64>().ok();
        gets.push((n, key, time, size));
    }
    gets.sort_by(|x, y| x.2.total_cmp(&y.2));
    for (n, key, time, size) in gets {
        b.push(n, &key, Some(time), size)?;
    }
    Ok(())
}

/// The fields of an access log record that a replay uses.
struct AccessLogFields<'a> {
    time: &'a str,
    operation: &'a str,
    key: &'a str,
    object_size: &'a str,
}

/// An access log line's fields, or `None` when it is not one: space-separated, with `[...]`
/// and `"..."` each one field.
fn access_log_fields(line: &str) -> Option<AccessLogFields<'_>> {
    let mut fields = Vec::with_capacity(16);
    let mut rest = line.trim_start();
    while !rest.is_empty() && fields.len() < 13 {
        let end = match rest.as_bytes()[0] {
            b'[' => rest.find(']')? + 1,
            b'"' => rest[1..].find('"')? + 2,
            _ => rest.find(' ').unwrap_or(rest.len()),
        };
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    let time = fields.get(2)?.strip_prefix('[')?.strip_suffix(']')?;
    let operation = fields.get(6)?;
    let looks_like_operation = operation.split('.').count() >= 3
        && operation.chars().all(|c| c.is_ascii_uppercase() || c == '.' || c == '_');
    if !looks_like_operation || fields.len() < 13 {
        return None;
    }
    Some(AccessLogFields { time, operation, key: fields[7], object_size: fields[12] })
}

/// `06/Feb/2019:00:00:38 +0000` as seconds since the Unix epoch.
fn access_log_time(text: &str) -> Option<f64> {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (date_time, zone) = text.split_once(' ')?;
    let mut parts = date_time.split([':', '/']);
    let day = parts.next()?.parse().ok()?;
    let name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? as i64 + 1;
    let mut next = || parts.next()?.parse::<i64>().ok();
    let (year, hour, minute, second) = (next()?, next()?, next()?, next()?);
    if zone.len() != 5 {
        return None;
    }
    let sign = match &zone[..1] {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let offset = sign * (zone[1..3].parse::<i64>().ok()? * 3600 + zone[3..5].parse::<i64>().ok()? * 60);
    civil_secs(year, month, day, hour, minute, second).map(|s| (s - offset) as f64)
}

/// `%XX` escapes decoded (a `+` stays a `+`: S3 writes a space as `%20`).
fn percent_decode(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(t: &Trace) -> Vec<&str> {
        t.records.iter().map(|r| t.keys[r.key as usize].as_str()).collect()
    }

    #[test]
    fn one_key_per_line_keeps_the_order_and_interns_keys() {
        let t = parse("# comment\na\nb\n\na\r\nc d\n").expect("valid");
        assert_eq!(t.format, TraceFormat::Keys);
        assert_eq!(keys_of(&t), ["a", "b", "a", "c d"]);
        assert_eq!(t.keys, ["a", "b", "c d"]);
        assert_eq!(t.counts(), [2, 1, 1]);
        assert!(!t.has_times());
    }

    #[test]
    fn csv_gives_times_from_the_first_record_and_sizes() {
        let t = parse("time,key,size\n10.5,a,100\n11,\"b,1\",\n12.5,a,120\n").expect("valid");
        assert_eq!(t.format, TraceFormat::Csv);
        assert_eq!(keys_of(&t), ["a", "b,1", "a"]);
        let at: Vec<_> = t.records.iter().map(|r| r.at.expect("timed")).collect();
        assert_eq!(at, [Duration::ZERO, Duration::from_millis(500), Duration::from_secs(2)]);
        assert_eq!(t.key_sizes(), [Some(120), None]);
        assert!(t.has_times());
        let rfc =
            parse("key,timestamp\nx,2026-12-01T10:00:00Z\ny,2026-12-01T11:00:01.5+01:00\n").expect("valid");
        assert_eq!(rfc.records[1].at, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn csv_errors_name_the_line() {
        assert_eq!(parse("key,time\na,1\nb,x\n").expect_err("bad time").0, Some(3));
        let back = parse("key,time\na,2\nb,1\n").expect_err("backwards");
        assert_eq!(back.0, Some(3));
        assert!(back.1.contains("sort the trace by time"), "{}", back.1);
        assert_eq!(parse("key,size\na,-1\n").expect_err("bad size").0, Some(2));
        assert!(parse("\n# only a comment\n").is_err());
    }

    const LOG: &str = "\
79a59df9 bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df9 3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /bucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" - s9lz= SigV4
79a59df9 bucket1 [06/Feb/2019:00:00:40 +0000] 192.0.2.3 79a59df9 3E57427F3EXAMPL2 REST.GET.OBJECT photos/a%20b.jpg \"GET /bucket1/photos/a%20b.jpg HTTP/1.1\" 200 - 2662992 3462992 70 10 \"-\" \"S3Console/0.4\" - s9lz= SigV4
79a59df9 bucket1 [06/Feb/2019:00:00:39 +0000] 192.0.2.3 79a59df9 3E57427F3EXAMPL3 REST.GET.OBJECT index.html \"GET /bucket1/index.html HTTP/1.1\" 404 NoSuchKey 300 - 7 - \"-\" \"curl/8\" -
79a59df9 bucket1 [06/Feb/2019:00:00:41 +0000] 192.0.2.3 79a59df9 3E57427F3EXAMPL4 REST.PUT.OBJECT index.html \"PUT /bucket1/index.html HTTP/1.1\" 200 - - 300 7 - \"-\" \"curl/8\" -
";

    #[test]
    fn an_access_log_gives_its_object_gets_in_time_order() {
        let t = parse(LOG).expect("valid");
        assert_eq!(t.format, TraceFormat::S3AccessLog);
        assert_eq!(keys_of(&t), ["index.html", "photos/a b.jpg"]);
        assert_eq!(t.skipped, 2);
        let at: Vec<_> = t.records.iter().map(|r| r.at).collect();
        assert_eq!(at, [Some(Duration::ZERO), Some(Duration::from_secs(1))]);
        assert_eq!(t.key_sizes(), [None, Some(3_462_992)]);
        assert_eq!(access_log_time("01/Jan/1970:01:00:00 +0100"), Some(0.0));
        assert_eq!(access_log_time("06/Feb/2019:00:00:38 +0000"), Some(1_549_411_238.0));
    }

    #[test]
    fn a_damaged_access_log_line_is_named() {
        let text = format!("{LOG}79a59df9 bucket1 [06/Feb/2019:00:00:41 +0000] truncated\n");
        assert_eq!(parse(&text).expect_err("damaged").0, Some(5));
    }
}
