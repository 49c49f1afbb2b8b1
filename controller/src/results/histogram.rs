//! The latency histograms: HdrHistogram of nanoseconds, serialised V2 (deflate) for the wire and
//! as base64 in result.json. Every module that reads or writes one goes through here, and a
//! histogram that does not decode is one error type, naming its workload.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use fetchbench_proto::wire::HISTOGRAM_SIGNIFICANT_DIGITS;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{DeserializeError, Deserializer, Serializer, V2DeflateSerializer};

use crate::results::schema::{LatencySummary, WorkloadResult};

/// Why serialised histogram bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// result.json's text is not base64.
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The bytes are not a V2 histogram.
    #[error("not an HdrHistogram V2 serialisation: {0}")]
    Hdr(#[from] DeserializeError),
}

/// A workload's histogram in a result that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("histogram of workload {workload:?} does not decode: {source}")]
pub struct HistogramError {
    /// The workload's name in the result.
    pub workload: String,
    /// What the decoder found.
    pub source: DecodeError,
}

impl HistogramError {
    /// The same error, naming the result file it was read from.
    pub fn in_file(self, path: &Path) -> DamagedResult {
        DamagedResult { path: path.to_owned(), source: self }
    }
}

/// A kept result file whose histogram does not decode: the file is damaged, not the command line.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}; the file is damaged: restore it, or run the scenario again", path.display())]
pub struct DamagedResult {
    /// The result file.
    pub path: PathBuf,
    /// The workload and what the decoder found.
    pub source: HistogramError,
}

/// A fresh auto-resizing histogram of nanoseconds.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, HISTOGRAM_SIGNIFICANT_DIGITS)
        .expect("1..2 with 3 significant digits is a valid histogram range");
    h.auto(true);
    h
}

/// Add `h` into `into`.
pub fn add(into: &mut Histogram<u64>, h: &Histogram<u64>) {
    into.add(h).expect("auto-resizing histograms accept every value");
}

/// The sum of several histograms.
pub fn merge<'a>(histograms: impl IntoIterator<Item = &'a Histogram<u64>>) -> Histogram<u64> {
    let mut total = new_histogram();
    for h in histograms {
        add(&mut total, h);
    }
    total
}

/// Min, mean, percentiles and max of a nanosecond histogram, in microseconds.
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    LatencySummary {
        min: us(h.min()),
        mean: h.mean() / 1000.0,
        p50: us(h.value_at_quantile(0.50)),
        p90: us(h.value_at_quantile(0.90)),
        p99: us(h.value_at_quantile(0.99)),
        p999: us(h.value_at_quantile(0.999)),
        max: us(h.max()),
    }
}

/// Decode a V2 (plain or deflate) serialised histogram.
pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>, DecodeError> {
    Ok(Deserializer::new().deserialize(&mut std::io::Cursor::new(bytes))?)
}

/// Decode a V2 histogram as an agent sends it: empty bytes mean an empty histogram.
pub fn decode_or_empty(bytes: &[u8]) -> Result<Histogram<u64>, DecodeError> {
    if bytes.is_empty() { Ok(new_histogram()) } else { decode(bytes) }
}

/// Base64 of the V2 deflate serialisation, as result.json holds it.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut bytes).expect("serialising into a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode result.json's `histogram` field.
pub fn decode_base64(text: &str) -> Result<Histogram<u64>, DecodeError> {
    decode(&base64::engine::general_purpose::STANDARD.decode(text)?)
}

/// The merged latency histogram of workload `w` as its result holds it.
pub fn of_workload(w: &WorkloadResult) -> Result<Histogram<u64>, HistogramError> {
    decode_base64(&w.histogram).map_err(|source| HistogramError { workload: w.name.clone(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_histogram_names_its_workload_and_file() {
        let w = WorkloadResult { name: "redis-get".into(), histogram: "AAAA".into(), ..Default::default() };
        let e = of_workload(&w).expect_err("four zero bytes are no histogram");
        assert_eq!(e.workload, "redis-get");
        let line = e.in_file(Path::new("runs/a/result.json")).to_string();
        assert!(
            line.starts_with("runs/a/result.json: histogram of workload \"redis-get\" does not decode: "),
            "{line}"
        );
        let w = WorkloadResult { histogram: encode(&new_histogram()), ..w };
        assert!(of_workload(&w).expect("decodes").is_empty());
    }
}
