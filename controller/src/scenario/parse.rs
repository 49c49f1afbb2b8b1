//! A scenario file read and checked: TOML into the raw shape, then every field validated with the
//! line and field of what is wrong.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use fetchbench_proto::dataset::STAMP_LEN;

use super::metric::ThresholdMetric;
use super::trace::{self, Trace};
use super::*;

/// Why a scenario was refused. Displays as one line: `file:line: field: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ScenarioError {
    /// The file, or `<built-in seed>`.
    pub file: String,
    /// Line of the offending text, 1-based, when known.
    pub line: Option<usize>,
    /// The field at fault, when known.
    pub field: Option<String>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl ScenarioError {
    fn render(&self) -> String {
        let mut out = format!("scenario {}", self.file);
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        out.push_str(": ");
        if let Some(field) = &self.field {
            out.push_str(field);
            out.push_str(": ");
        }
        // One line, whatever the parser said.
        out.push_str(&self.message.split_whitespace().collect::<Vec<_>>().join(" "));
        out
    }
}

impl Scenario {
    /// The built-in seed scenario.
    pub fn seed() -> Scenario {
        Scenario::parse(SEED_TOML, "<built-in seed>").expect("the built-in seed scenario is valid")
    }

    /// Read, parse and validate the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let fail = |message: String| ScenarioError { file: file.clone(), line: None, field: None, message };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if path.is_dir() => {
                return Err(fail(format!("is a directory, not a scenario file ({e})")));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail("no such file; scenarios/ holds examples".into()));
            }
            Err(e) => return Err(fail(format!("cannot read it: {e}"))),
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!("is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
        })?;
        Scenario::parse_in(&text, &file, path.parent())
    }

    /// Parse and validate scenario text; `file` names it in errors, and the trace files it
    /// names are read relative to the current folder.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_in(text, file, None)
    }

    /// Parse and validate scenario text whose trace files are relative to `dir`.
    fn parse_in(text: &str, file: &str, dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let span = e.span();
            ScenarioError {
                file: file.to_owned(),
                line: span.as_ref().map(|s| line_of(text, s.start)),
                field: span.as_ref().and_then(|s| key_at(text, s.start)).filter(|k| {
                    // "unknown field `foo`" already names it; "missing field" spans a whole table.
                    !e.message().contains(&format!("`{k}`")) && !e.message().starts_with("missing field")
                }),
                message: e.message().trim().to_owned(),
            }
        })?;
        Validator { text, file, dir }.scenario(raw)
    }
}

/// `"64mb"`, `"512kb"`, `"1gb"` (Redis's units: powers of 1024, any case) as bytes.
pub fn memory_bytes(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &lower[digits.len()..] {
        "" | "b" => 1,
        "kb" | "k" => 1 << 10,
        "mb" | "m" => 1 << 20,
        "gb" | "g" => 1 << 30,
        _ => return None,
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(unit)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    agents: Option<Spanned<u32>>,
    dataset: RawDataset,
    #[serde(default)]
    workload: Vec<Spanned<RawWorkload>>,
    #[serde(default)]
    thresholds: BTreeMap<Spanned<String>, Spanned<f64>>,
    #[serde(default)]
    on_agent_loss: OnAgentLoss,
    cache: Option<RawCache>,
    goal: Option<Spanned<RawGoal>>,
}

/// `[goal]`: `reads_per_second = 2000` and one of `p50_ms`, `p99_ms`, `p999_ms`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGoal {
    reads_per_second: Spanned<f64>,
    p50_ms: Option<Spanned<f64>>,
    p99_ms: Option<Spanned<f64>>,
    p999_ms: Option<Spanned<f64>>,
    #[serde(default)]
    cross_az: bool,
}

/// `[cache]`: `maxmemory = "64mb"` (or bytes), `policy = "allkeys-lru"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    maxmemory: Option<Spanned<toml::Value>>,
    policy: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    objects: Spanned<u64>,
    size: Spanned<toml::Value>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    cache: CacheStart,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: Spanned<String>,
    target: Target,
    concurrency: Option<Spanned<u32>>,
    requests: Option<Spanned<u64>>,
    duration: Option<Spanned<String>>,
    warmup: Option<Spanned<RawAmount>>,
    keys: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    rate: Option<Spanned<f64>>,
    set_share: Option<Spanned<f64>>,
    pipeline: Option<Spanned<u32>>,
    busy_poll: Option<Spanned<String>>,
    ttl: Option<Spanned<String>>,
    range: Option<Spanned<String>>,
    #[serde(default)]
    verify: bool,
    write_share: Option<Spanned<f64>>,
    on_write: Option<Spanned<OnWrite>>,
    agents: Option<Spanned<u32>>,
    find_max: Option<Spanned<RawFindMax>>,
    replay: Option<Spanned<String>>,
    speed: Option<Spanned<f64>>,
}

/// `find_max = { p99_ms = 2 }`: one of the objectives, and optional settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFindMax {
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    p999_ms: Option<f64>,
    error_rate: Option<f64>,
    resolution: Option<f64>,
    step: Option<String>,
    budget: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAmount {
    Requests(u64),
    Duration(String),
}

/// Default per-request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

struct Validator<'a> {
    text: &'a str,
    file: &'a str,
    /// The scenario file's folder, which trace files are relative to; `None` for the current one.
    dir: Option<&'a Path>,
}

impl Validator<'_> {
    fn error(&self, span: &Range<usize>, field: &str, message: String) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: Some(line_of(self.text, span.start)),
            field: Some(field.to_owned()),
            message,
        }
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario, ScenarioError> {
        let name = raw.name.get_ref().trim().to_owned();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(self.error(
                &raw.name.span(),
                "name",
                format!("{name:?} is not a valid name; use 1-64 letters, digits, '-', '_' or '.'"),
            ));
        }
        let agents = match &raw.agents {
            Some(a) => self.count(a, MAX_AGENTS, "agents")?,
            None => 1,
        };
        let dataset = self.dataset(&raw.dataset)?;
        if raw.workload.is_empty() {
            return Err(ScenarioError {
                file: self.file.to_owned(),
                line: None,
                field: Some("workload".into()),
                message: "no [[workload]] table; a scenario needs at least one".into(),
            });
        }
        let mut workloads: Vec<Workload> = Vec::with_capacity(raw.workload.len());
        let mut traces = Vec::new();
        for w in &raw.workload {
            let (workload, trace) = self.workload(w.get_ref())?;
            if let (Some(trace), Some(keys)) = (trace, &w.get_ref().keys) {
                traces.push((workloads.len(), trace, keys.span()));
            }
            let smallest = dataset.size.smallest();
            if let Some(span) = w.get_ref().write_share.as_ref().filter(|_| workload.write_share > 0.0)
                && smallest < STAMP_LEN as u64
            {
                return Err(self.error(
                    &span.span(),
                    "workload.write_share",
                    format!(
                        "writes stamp a version on the first {STAMP_LEN} bytes of an object, and the \
                         smallest objects have {smallest}; make the dataset's objects at least {STAMP_LEN} bytes"
                    ),
                ));
            }
            if let (Some((first, _)), Some(span)) = (workload.range, &w.get_ref().range)
                && first >= smallest
            {
                // S3 answers such a read 416 and Redis an empty string: every short object would
                // be an error, which says nothing about either store.
                return Err(self.error(
                    &span.span(),
                    "workload.range",
                    format!(
                        "starts at byte {first}, past the end of the smallest objects ({smallest} byte{}); \
                         start it below {smallest}",
                        if smallest == 1 { "" } else { "s" }
                    ),
                ));
            }
            if let (Some(n), Some(span)) = (workload.agents, &w.get_ref().agents)
                && n > agents
            {
                return Err(self.error(
                    &span.span(),
                    &format!("workload {:?} agents", workload.name),
                    format!(
                        "{n} is more than the scenario's {agents} agent{}; raise the scenario's agents or lower this",
                        if agents == 1 { "" } else { "s" }
                    ),
                ));
            }
            if workloads.iter().any(|o| o.name == workload.name) {
                return Err(self.error(
                    &w.get_ref().name.span(),
                    "workload.name",
                    format!("{:?} is used by two workloads; names must be unique", workload.name),
                ));
            }
            workloads.push(workload);
        }
        let mut thresholds = BTreeMap::new();
        for (key, value) in &raw.thresholds {
            let (k, v) = (key.get_ref(), *value.get_ref());
            let field = format!("thresholds.{k:?}");
            let (workload, metric) = k.rsplit_once('.').ok_or_else(|| {
                self.error(
                    &key.span(),
                    &field,
                    "write \"<workload>.<metric>\", e.g. \"redis-get.p99_us\"".into(),
                )
            })?;
            let Some(w) = workloads.iter().find(|w| w.name == workload) else {
                let names: Vec<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
                return Err(self.error(
                    &key.span(),
                    &field,
                    format!("no workload is named {workload:?}; the workloads are {}", names.join(", ")),
                ));
            };
            let Some(m) = ThresholdMetric::parse(metric) else {
                return Err(self.error(
                    &key.span(),
                    &field,
                    format!("unknown metric {metric:?}; use one of {}", ThresholdMetric::NAMES.join(", ")),
                ));
            };
            if m == ThresholdMetric::HitRatio && w.target != Target::CacheAside {
                return Err(self.error(
                    &key.span(),
                    &field,
                    "hit_ratio applies to cache-aside workloads only".into(),
                ));
            }
            if !v.is_finite() || v < 0.0 {
                return Err(self.error(&value.span(), &field, format!("{v} is not a number >= 0")));
            }
            if matches!(m, ThresholdMetric::ErrorRate | ThresholdMetric::HitRatio) && v > 1.0 {
                return Err(self.error(
                    &value.span(),
                    &field,
                    format!("{v} is not a share in [0, 1] (0.01 is 1% of requests)"),
                ));
            }
            if matches!(m, ThresholdMetric::Service(_)) && w.rate.is_none() {
                return Err(self.error(
                    &key.span(),
                    &field,
                    format!(
                        "service time applies to open-loop workloads (rate = ...); workload {:?} \
                         runs closed loop, where the latency is the service time: use {}",
                        w.name,
                        metric.trim_start_matches("service_")
                    ),
                ));
            }
            thresholds.insert(k.clone(), v);
        }
        let cache = match &raw.cache {
            Some(c) => self.cache(c)?,
            None => CacheConfig::default(),
        };
        let goal = raw.goal.as_ref().map(|g| self.goal(g)).transpose()?;
        let mut dataset = dataset;
        self.replays(&mut dataset, &mut workloads, traces)?;
        Ok(Scenario {
            name,
            agents,
            dataset,
            workloads,
            thresholds,
            on_agent_loss: raw.on_agent_loss,
            rounds: 1,
            cache,
            goal,
        })
    }

    /// `[goal]`: a positive read rate and exactly one positive latency objective.
    fn goal(&self, raw: &Spanned<RawGoal>) -> Result<Goal, ScenarioError> {
        let g = raw.get_ref();
        let rate = &g.reads_per_second;
        if !(rate.get_ref().is_finite() && *rate.get_ref() > 0.0) {
            return Err(self.error(
                &rate.span(),
                "goal.reads_per_second",
                format!("{} is not a read rate above 0", rate.get_ref()),
            ));
        }
        let objectives: Vec<(&str, &Spanned<f64>)> =
            [("p50", &g.p50_ms), ("p99", &g.p99_ms), ("p999", &g.p999_ms)]
                .into_iter()
                .filter_map(|(p, v)| v.as_ref().map(|v| (p, v)))
                .collect();
        let [(percentile, ms)] = objectives[..] else {
            return Err(self.error(
                &raw.span(),
                "goal",
                format!(
                    "gives {} latency objectives; give exactly one of p50_ms, p99_ms or p999_ms",
                    objectives.len()
                ),
            ));
        };
        if !(ms.get_ref().is_finite() && *ms.get_ref() > 0.0) {
            return Err(self.error(
                &ms.span(),
                &format!("goal.{percentile}_ms"),
                format!("{} is not a latency above 0 ms", ms.get_ref()),
            ));
        }
        Ok(Goal {
            reads_per_second: *rate.get_ref(),
            percentile: percentile.to_owned(),
            latency_ms: *ms.get_ref(),
            cross_az: g.cross_az,
        })
    }

    /// Map each trace's keys to objects: `filename{i}.txt` with i below the dataset's objects is
    /// object i; any other key becomes a named object (shared by the traces that read it) with
    /// the trace's size, or a size drawn from the dataset's when the trace gives none.
    fn replays(
        &self,
        dataset: &mut Dataset,
        workloads: &mut [Workload],
        traces: Vec<(usize, Trace, Range<usize>)>,
    ) -> Result<(), ScenarioError> {
        let generator = dataset.generator();
        let mut named: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
        for (w, trace, span) in traces {
            let field = format!("workload {:?} keys", workloads[w].name);
            let sizes = trace.key_sizes();
            let mut objects_of_keys = Vec::with_capacity(trace.keys.len());
            for (key, size) in trace.keys.iter().zip(sizes) {
                if let Some(i) = generated_index(key, dataset.objects) {
                    objects_of_keys.push(i);
                    continue;
                }
                if let Some(&i) = named.get(key) {
                    objects_of_keys.push(i);
                    continue;
                }
                let i = dataset.objects + dataset.named.len() as u64;
                let size = size.unwrap_or_else(|| generator.drawn_size(i));
                if size > MAX_OBJECT_BYTES {
                    return Err(self.error(
                        &span,
                        &field,
                        format!("the trace gives {key:?} {size} bytes, above the {MAX_OBJECT_BYTES} an object may have"),
                    ));
                }
                dataset.named.push((key.clone(), size));
                named.insert(key.clone(), i);
                objects_of_keys.push(i);
            }
            let workload = &mut workloads[w];
            let speed = workload.speed;
            let at = (workload.replay == Replay::Timed)
                .then(|| trace.records.iter().map(|r| r.at.unwrap_or_default().div_f64(speed)).collect());
            let objects = trace.records.iter().map(|r| objects_of_keys[r.key as usize]).collect();
            workload.trace = Some(std::sync::Arc::new(Replayed { objects, at }));
        }
        Ok(())
    }

    /// A trace file named by a scenario: relative to the scenario's folder.
    fn trace_path(&self, file: &str) -> std::path::PathBuf {
        match self.dir {
            Some(dir) => dir.join(file),
            None => Path::new(file).to_owned(),
        }
    }

    /// `[cache]`: a memory limit of at least 1 MiB (`"64mb"`, `"1gb"`, or bytes) and one of
    /// Redis's eviction policies.
    fn cache(&self, raw: &RawCache) -> Result<CacheConfig, ScenarioError> {
        let maxmemory = match &raw.maxmemory {
            None => None,
            Some(v) => {
                let bytes = match v.get_ref() {
                    toml::Value::Integer(n) => u64::try_from(*n).ok(),
                    toml::Value::String(text) => memory_bytes(text),
                    _ => None,
                };
                match bytes {
                    Some(b) if b >= 1 << 20 => Some(b),
                    _ => {
                        return Err(self.error(
                            &v.span(),
                            "cache.maxmemory",
                            format!(
                                "{} is not a memory size of at least 1mb; write e.g. \"64mb\", \"1gb\" or bytes",
                                v.get_ref()
                            ),
                        ));
                    }
                }
            }
        };
        let policy = match &raw.policy {
            None => None,
            Some(p) if POLICIES.contains(&p.get_ref().as_str()) => Some(p.get_ref().clone()),
            Some(p) => {
                return Err(self.error(
                    &p.span(),
                    "cache.policy",
                    format!(
                        "{:?} is not a Redis eviction policy; use one of {}",
                        p.get_ref(),
                        POLICIES.join(", ")
                    ),
                ));
            }
        };
        Ok(CacheConfig { maxmemory_bytes: maxmemory, policy })
    }

    fn dataset(&self, d: &RawDataset) -> Result<Dataset, ScenarioError> {
        let objects = *d.objects.get_ref();
        if !(1..=MAX_OBJECTS).contains(&objects) {
            return Err(self.error(
                &d.objects.span(),
                "dataset.objects",
                format!("{objects} is not in 1..={MAX_OBJECTS}"),
            ));
        }
        let size = self.sizes(&d.size)?;
        let generator =
            Dataset { objects, size: size.clone(), seed: d.seed, cache: d.cache, named: Vec::new() }
                .generator();
        if generator.max_size() > MAX_OBJECT_BYTES {
            return Err(self.error(
                &d.size.span(),
                "dataset.size",
                format!(
                    "objects up to {} bytes are above {MAX_OBJECT_BYTES} bytes (1 GiB)",
                    generator.max_size()
                ),
            ));
        }
        let dataset = Dataset { objects, size, seed: d.seed, cache: d.cache, named: Vec::new() };
        let bytes = dataset.estimated_bytes();
        if bytes > MAX_DATASET_BYTES {
            return Err(self.error(
                &d.objects.span(),
                "dataset.objects",
                format!(
                    "{objects} objects of {} come to about {}, above the 1 TiB a dataset may hold; \
                     use fewer or smaller objects",
                    dataset.describe_sizes(),
                    human_bytes(bytes)
                ),
            ));
        }
        Ok(dataset)
    }

    /// `size = 1024`, `{ min, max }`, `[[bytes, weight], ...]` or `{ median, sigma, min?, max? }`.
    fn sizes(&self, v: &Spanned<toml::Value>) -> Result<Sizes, ScenarioError> {
        let fail = |msg: String| self.error(&v.span(), "dataset.size", msg);
        let bytes = |v: &toml::Value, what: &str| -> Result<u64, ScenarioError> {
            v.as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| fail(format!("{what} {v} is not a number of bytes >= 0")))
        };
        let number = |v: &toml::Value, what: &str| -> Result<f64, ScenarioError> {
            v.as_float()
                .or_else(|| v.as_integer().map(|n| n as f64))
                .filter(|f| f.is_finite())
                .ok_or_else(|| fail(format!("{what} {v} is not a number")))
        };
        let expected = "write a number of bytes, { min = A, max = B }, [[bytes, weight], ...] \
                        or { median = M, sigma = S }";
        let sizes = match v.get_ref() {
            toml::Value::Integer(_) => {
                let n = bytes(v.get_ref(), "size")?;
                Sizes::Uniform { min: n, max: n }
            }
            toml::Value::Array(items) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let pair = item
                        .as_array()
                        .filter(|p| p.len() == 2)
                        .ok_or_else(|| fail(format!("{item} is not a [bytes, weight] pair; {expected}")))?;
                    let w = number(&pair[1], "weight")?;
                    if w <= 0.0 {
                        return Err(fail(format!("weight {w} is not > 0")));
                    }
                    list.push((bytes(&pair[0], "size")?, w));
                }
                if list.is_empty() {
                    return Err(fail(format!("the list is empty; {expected}")));
                }
                if !list.iter().map(|(_, w)| w).sum::<f64>().is_finite() {
                    return Err(fail("the weights add up to more than a number can hold".into()));
                }
                Sizes::Weighted(list)
            }
            toml::Value::Table(t) => {
                let known = ["min", "max", "median", "sigma"];
                if let Some(k) = t.keys().find(|k| !known.contains(&k.as_str())) {
                    return Err(fail(format!("unknown key {k:?}; {expected}")));
                }
                let min = t.get("min").map(|v| bytes(v, "min")).transpose()?;
                let max = t.get("max").map(|v| bytes(v, "max")).transpose()?;
                match (t.get("median"), t.get("sigma")) {
                    (None, None) => match (min, max) {
                        (Some(min), Some(max)) if min <= max => Sizes::Uniform { min, max },
                        (Some(min), Some(max)) => return Err(fail(format!("min {min} is above max {max}"))),
                        _ => return Err(fail(format!("a range needs both min and max; {expected}"))),
                    },
                    (Some(median), Some(sigma)) => {
                        let (median, sigma) = (number(median, "median")?, number(sigma, "sigma")?);
                        if median < 1.0 {
                            return Err(fail(format!("median {median} is below 1 byte")));
                        }
                        if !(0.0..=10.0).contains(&sigma) {
                            return Err(fail(format!("sigma {sigma} is not in [0, 10]")));
                        }
                        let (min, max) = (min.unwrap_or(1), max.unwrap_or(MAX_OBJECT_BYTES));
                        if min > max {
                            return Err(fail(format!("min {min} is above max {max}")));
                        }
                        Sizes::Lognormal { median, sigma, min, max }
                    }
                    _ => return Err(fail("a log-normal needs both median and sigma".into())),
                }
            }
            other => return Err(fail(format!("{other} is not a size; {expected}"))),
        };
        Ok(sizes)
    }

    fn workload(&self, w: &RawWorkload) -> Result<(Workload, Option<Trace>), ScenarioError> {
        let name = w.name.get_ref().trim().to_owned();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(self.error(
                &w.name.span(),
                "workload.name",
                format!("{name:?} is not a valid name; use 1-64 printable characters"),
            ));
        }
        let field = |f: &str| format!("workload {name:?} {f}");
        let mut keys = match &w.keys {
            Some(k) => k.get_ref().parse().map_err(|e| self.error(&k.span(), &field("keys"), e))?,
            None => KeyDist::Uniform,
        };
        let trace = match (&keys, &w.keys) {
            (KeyDist::Trace(file), Some(k)) => {
                let path = self.trace_path(file);
                let trace =
                    trace::load(&path).map_err(|e| self.error(&k.span(), &field("keys"), e.to_string()))?;
                keys = KeyDist::Trace(path.display().to_string());
                Some(trace)
            }
            _ => None,
        };
        let (replay, speed) = self.replay(w, trace.as_ref(), &field)?;
        if trace.is_some() {
            self.fits_a_trace(w, &field)?;
        }
        let concurrency = match &w.concurrency {
            Some(c) => self.count(c, MAX_CONCURRENCY, &field("concurrency"))?,
            None => 1,
        };
        let stop = match (&w.requests, &w.duration) {
            (Some(_), Some(d)) => {
                return Err(self.error(
                    &d.span(),
                    &field("duration"),
                    "set either requests or duration, not both".into(),
                ));
            }
            (Some(r), None) => {
                let n = *r.get_ref();
                if n == 0 {
                    return Err(self.error(
                        &r.span(),
                        &field("requests"),
                        "0 requests; use at least 1".into(),
                    ));
                }
                Amount::Requests(n)
            }
            (None, Some(d)) => Amount::Duration(self.duration(d, &field("duration"))?),
            (None, None) => match (&w.find_max, &trace) {
                // Each step of the search runs for its own length.
                (Some(_), _) => Amount::Duration(Duration::ZERO),
                // Until its records are used up: no agent gets more than all of them.
                (None, Some(t)) => Amount::Requests(t.records.len() as u64),
                (None, None) => {
                    return Err(self.error(
                        &w.name.span(),
                        &field("requests"),
                        "missing; set requests = N (per agent) or duration = \"30s\"".into(),
                    ));
                }
            },
        };
        let warmup = match &w.warmup {
            None => None,
            Some(s) => match s.get_ref() {
                RawAmount::Requests(0) => None,
                RawAmount::Requests(n) => Some(Amount::Requests(*n)),
                RawAmount::Duration(text) => {
                    let spanned = Spanned::new(s.span(), text.clone());
                    let d = self.duration(&spanned, &field("warmup"))?;
                    (!d.is_zero()).then_some(Amount::Duration(d))
                }
            },
        };
        let timeout = match &w.timeout {
            Some(t) => {
                let d = self.duration(t, &field("timeout"))?;
                if d < Duration::from_millis(1) {
                    return Err(self.error(&t.span(), &field("timeout"), "must be at least 1ms".into()));
                }
                d
            }
            None => DEFAULT_TIMEOUT,
        };
        let rate = match &w.rate {
            Some(r) => {
                let v = *r.get_ref();
                if !(v.is_finite() && v > 0.0 && v <= MAX_RATE) {
                    return Err(self.error(
                        &r.span(),
                        &field("rate"),
                        format!("{v} is not a rate in (0, {MAX_RATE}] requests per second per agent"),
                    ));
                }
                Some(v)
            }
            None => None,
        };
        let set_share = match &w.set_share {
            Some(p) => {
                let v = *p.get_ref();
                if !(0.0..=1.0).contains(&v) {
                    return Err(self.error(&p.span(), &field("set_share"), format!("{v} is not in [0, 1]")));
                }
                if v > 0.0 && w.target != Target::Redis {
                    return Err(self.error(
                        &p.span(),
                        &field("set_share"),
                        "applies to target = \"redis\" only".into(),
                    ));
                }
                v
            }
            None => 0.0,
        };
        let pipeline = match &w.pipeline {
            Some(p) => {
                let n = *p.get_ref();
                let problem = if !(1..=MAX_PIPELINE).contains(&n) {
                    Some(format!("{n} is not in 1..={MAX_PIPELINE}"))
                } else if n > 1 && w.target != Target::Redis {
                    Some("applies to target = \"redis\" only".to_owned())
                } else if n > 1 && rate.is_some() {
                    Some("applies to closed loop only; remove rate, or set pipeline = 1".to_owned())
                } else {
                    None
                };
                if let Some(message) = problem {
                    return Err(self.error(&p.span(), &field("pipeline"), message));
                }
                n
            }
            None => 1,
        };
        let busy_poll = match &w.busy_poll {
            Some(b) => {
                let d = self.duration(b, &field("busy_poll"))?;
                let problem = if d < Duration::from_micros(1) || d > MAX_BUSY_POLL {
                    Some(format!("{:?} is not in 1us..=10ms", b.get_ref()))
                } else if w.target != Target::Redis {
                    Some("applies to target = \"redis\" only".to_owned())
                } else if pipeline > 1 {
                    Some("applies to one command at a time; remove pipeline or busy_poll".to_owned())
                } else {
                    None
                };
                if let Some(message) = problem {
                    return Err(self.error(&b.span(), &field("busy_poll"), message));
                }
                Some(d)
            }
            None => None,
        };
        let write_share = match &w.write_share {
            Some(p) => {
                let v = *p.get_ref();
                let problem = if !(0.0..=1.0).contains(&v) {
                    Some(format!("{v} is not in [0, 1]"))
                } else if w.target != Target::CacheAside {
                    Some("applies to target = \"cache-aside\" only".to_owned())
                } else if w.range.is_some() && v > 0.0 {
                    Some("writes whole objects; remove range".to_owned())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(self.error(&p.span(), &field("write_share"), problem));
                }
                v
            }
            None => 0.0,
        };
        let on_write = match &w.on_write {
            Some(o) if write_share == 0.0 => {
                return Err(self.error(
                    &o.span(),
                    &field("on_write"),
                    "says what a write does, and this workload has no write_share".into(),
                ));
            }
            Some(o) => *o.get_ref(),
            None => OnWrite::Invalidate,
        };
        let ttl = match &w.ttl {
            Some(t) => {
                if w.target != Target::CacheAside {
                    return Err(self.error(
                        &t.span(),
                        &field("ttl"),
                        "applies to target = \"cache-aside\" only".into(),
                    ));
                }
                let d = self.duration(t, &field("ttl"))?;
                if d < Duration::from_millis(1) {
                    return Err(self.error(
                        &t.span(),
                        &field("ttl"),
                        format!(
                            "{:?} would expire every cached copy at once; give at least 1ms, or \
                             leave ttl out for copies that never expire",
                            t.get_ref()
                        ),
                    ));
                }
                Some(d)
            }
            None => None,
        };
        let range = match &w.range {
            Some(r) => {
                let parsed = r.get_ref().split_once('-').and_then(|(a, b)| {
                    let (a, b) = (a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?);
                    (a <= b).then_some((a, b))
                });
                Some(parsed.ok_or_else(|| {
                    self.error(
                        &r.span(),
                        &field("range"),
                        format!(
                            "{:?} is not a byte range; write \"FIRST-LAST\", e.g. \"0-1023\"",
                            r.get_ref()
                        ),
                    )
                })?)
            }
            None => None,
        };
        let agents = match &w.agents {
            Some(a) => Some(self.count(a, MAX_AGENTS, &field("agents"))?),
            None => None,
        };
        let find_max = match &w.find_max {
            Some(f) => {
                let found = self.find_max(f, &field("find_max"))?;
                if let Some(r) = &w.rate {
                    return Err(self.error(
                        &r.span(),
                        &field("rate"),
                        "find_max sets the rate of each step itself; remove rate".into(),
                    ));
                }
                if let Some(span) =
                    w.requests.as_ref().map(Spanned::span).or(w.duration.as_ref().map(Spanned::span))
                {
                    return Err(self.error(
                        &span,
                        &field(if w.requests.is_some() { "requests" } else { "duration" }),
                        "find_max holds each rate for its step (step = \"5s\" by default); remove it".into(),
                    ));
                }
                if let Some(p) = w.pipeline.as_ref().filter(|p| *p.get_ref() > 1) {
                    return Err(self.error(
                        &p.span(),
                        &field("pipeline"),
                        "find_max runs in open loop, one command at a time; remove pipeline".into(),
                    ));
                }
                Some(found)
            }
            None => None,
        };
        let stop = match (&find_max, stop) {
            (Some(f), _) => Amount::Duration(f.step),
            (None, stop) => stop,
        };
        if let (Some(r), Some(rate)) = (&w.rate, rate) {
            for amount in std::iter::once(stop).chain(warmup) {
                if let Some(problem) = too_long_at_rate(amount, rate) {
                    return Err(self.error(&r.span(), &field("rate"), problem));
                }
            }
        }
        let workload = Workload {
            name,
            target: w.target,
            concurrency,
            stop,
            warmup,
            keys,
            replay,
            speed,
            trace: None,
            timeout,
            rate,
            set_share,
            pipeline,
            busy_poll,
            ttl,
            range,
            verify: w.verify,
            write_share,
            on_write,
            agents,
            find_max,
            cache_maxmemory_bytes: None,
        };
        Ok((workload, trace))
    }

    /// `replay = "fast" | "timed"` and `speed`, which apply to a trace only, and a timed replay
    /// to a trace with times only.
    fn replay(
        &self,
        w: &RawWorkload,
        trace: Option<&Trace>,
        field: &dyn Fn(&str) -> String,
    ) -> Result<(Replay, f64), ScenarioError> {
        let replay = match &w.replay {
            None => Replay::Fast,
            Some(r) => {
                let fail = |message: String| self.error(&r.span(), &field("replay"), message);
                let mode = match r.get_ref().as_str() {
                    "fast" => Replay::Fast,
                    "timed" => Replay::Timed,
                    other => return Err(fail(format!("{other:?} is not \"fast\" or \"timed\""))),
                };
                match trace {
                    None => return Err(fail("applies to keys = \"trace:FILE\" only".into())),
                    Some(t) if mode == Replay::Timed && !t.has_times() => {
                        return Err(fail(format!(
                            "the trace ({}) has no times; use replay = \"fast\", or a CSV with a \
                             timestamp column or an S3 access log",
                            t.format
                        )));
                    }
                    Some(_) => mode,
                }
            }
        };
        let speed = match &w.speed {
            None => 1.0,
            Some(s) => {
                let v = *s.get_ref();
                let problem = if !(v.is_finite() && v > 0.0 && v <= 1e6) {
                    Some(format!("{v} is not a speed in (0, 1000000]; 2.0 replays twice as fast as recorded"))
                } else if replay != Replay::Timed {
                    Some("applies to replay = \"timed\" only".to_owned())
                } else {
                    None
                };
                if let Some(message) = problem {
                    return Err(self.error(&s.span(), &field("speed"), message));
                }
                v
            }
        };
        Ok((replay, speed))
    }

    /// The fields a trace replay sets itself, or reads no way to honour, refused by name.
    fn fits_a_trace(&self, w: &RawWorkload, field: &dyn Fn(&str) -> String) -> Result<(), ScenarioError> {
        let refuse =
            |span: Range<usize>, f: &str, why: &str| Err(self.error(&span, &field(f), why.to_owned()));
        if let Some(r) = &w.rate {
            return refuse(
                r.span(),
                "rate",
                "a trace sets its own pace; remove rate (replay = \"timed\" keeps the recorded times)",
            );
        }
        if let Some(s) = &w.warmup {
            return refuse(s.span(), "warmup", "a trace replays once, without warm-up; remove warmup");
        }
        if let Some(p) = w.pipeline.as_ref().filter(|p| *p.get_ref() > 1) {
            return refuse(p.span(), "pipeline", "a trace replays one read at a time; remove pipeline");
        }
        if let Some(p) = w.set_share.as_ref().filter(|p| *p.get_ref() > 0.0) {
            return refuse(p.span(), "set_share", "a trace replays its reads only; remove set_share");
        }
        if let Some(p) = w.write_share.as_ref().filter(|p| *p.get_ref() > 0.0) {
            return refuse(p.span(), "write_share", "a trace replays its reads only; remove write_share");
        }
        if let Some(f) = &w.find_max {
            return refuse(f.span(), "find_max", "a trace sets its own pace; find_max searches for one");
        }
        Ok(())
    }

    /// `find_max = { p99_ms = 2, ... }`.
    fn find_max(&self, raw: &Spanned<RawFindMax>, field: &str) -> Result<FindMax, ScenarioError> {
        let fail = |message: String| self.error(&raw.span(), field, message);
        let r = raw.get_ref();
        let objectives: Vec<(Percentile, f64)> =
            [(Percentile::P50, r.p50_ms), (Percentile::P99, r.p99_ms), (Percentile::P999, r.p999_ms)]
                .into_iter()
                .filter_map(|(p, v)| v.map(|v| (p, v)))
                .collect();
        let [(percentile, limit_ms)] = objectives[..] else {
            return Err(fail("give one objective: p50_ms, p99_ms or p999_ms (e.g. { p99_ms = 2 })".into()));
        };
        let mut found = FindMax::new(percentile, limit_ms);
        if let Some(e) = r.error_rate {
            found.max_error_rate = e;
        }
        if let Some(res) = r.resolution {
            found.resolution = res;
        }
        if let Some(step) = &r.step {
            found.step = find_max::duration(step, "step").map_err(fail)?;
        }
        if let Some(budget) = &r.budget {
            found.budget = find_max::duration(budget, "budget").map_err(fail)?;
        }
        found.check().map_err(fail)?;
        Ok(found)
    }

    /// A count of at least 1 and at most `max`.
    fn count(&self, v: &Spanned<u32>, max: u32, field: &str) -> Result<u32, ScenarioError> {
        let n = *v.get_ref();
        if !(1..=max).contains(&n) {
            return Err(self.error(&v.span(), field, format!("{n} is not in 1..={max}")));
        }
        Ok(n)
    }

    fn duration(&self, s: &Spanned<String>, field: &str) -> Result<Duration, ScenarioError> {
        let text = s.get_ref();
        let d = humantime::parse_duration(text).map_err(|e| {
            self.error(
                &s.span(),
                field,
                format!("{text:?} is not a duration ({e}); write e.g. \"30s\", \"500ms\", \"2m\""),
            )
        })?;
        if d.is_zero() && field.ends_with("duration") {
            return Err(self.error(&s.span(), field, format!("{text:?} is zero; use a positive duration")));
        }
        if d < MIN_DURATION && field.ends_with("duration") {
            return Err(self.error(
                &s.span(),
                field,
                format!("{text:?} is shorter than one request can take; use at least 1ms"),
            ));
        }
        if d > MAX_DURATION {
            return Err(self.error(&s.span(), field, format!("{text:?} is longer than 7 days")));
        }
        Ok(d)
    }
}

/// The object a trace key names when it is a generated one: `filename{i}.txt`, written as the
/// dataset writes it, with i below `objects`.
fn generated_index(key: &str, objects: u64) -> Option<u64> {
    let i: u64 = key.strip_prefix("filename")?.strip_suffix(".txt")?.parse().ok()?;
    (i < objects && key == fetchbench_proto::dataset::Generator::s3_key(i)).then_some(i)
}

/// 1-based line of byte offset `pos`.
fn line_of(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The key whose value (or which itself) starts at byte offset `pos`, read off its line.
fn key_at(text: &str, pos: usize) -> Option<String> {
    let pos = pos.min(text.len());
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let is_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let before = &text[line_start..pos];
    let key: String = match before.rfind('=') {
        Some(eq) => {
            let lhs = before[..eq].trim_end();
            let rev: String = lhs.chars().rev().take_while(|&c| is_key(c)).collect();
            rev.chars().rev().collect()
        }
        None => text[pos..line_end].chars().take_while(|&c| is_key(c)).collect(),
    };
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_the_tutorial_experiment() {
        let s = Scenario::seed();
        assert_eq!(s.name, "seed");
        assert_eq!(s.dataset.objects, 200);
        assert_eq!(s.dataset.size, Sizes::Uniform { min: 235, max: 434 });
        let targets: Vec<_> = s.workloads.iter().map(|w| w.target).collect();
        assert_eq!(targets, [Target::Redis, Target::S3]);
        for w in &s.workloads {
            assert_eq!(w.stop, Amount::Requests(199));
            assert_eq!(w.warmup, Some(Amount::Requests(1)));
            assert_eq!(w.concurrency, 1);
            assert_eq!(w.keys, KeyDist::Uniform);
        }
    }

    #[test]
    fn every_example_scenario_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
            let path = entry.expect("readable entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
        assert!(seen >= 2, "only {seen} example scenarios");
    }

    /// The README's scenario reference is a scenario, and every key it shows commented out is one
    /// the parser knows.
    #[test]
    fn the_readme_scenario_reference_parses() {
        let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md is readable");
        let (_, after) =
            readme.split_once("## Scenario reference").expect("the README has a scenario reference");
        let (_, block) = after.split_once("```toml\n").expect("the reference holds a toml block");
        let (block, _) = block.split_once("```").expect("the toml block ends");
        Scenario::parse(block, "README.md").unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = block.lines().collect();
        let commented: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].strip_prefix("# ").is_some_and(|l| l.split_once(" = ").is_some()))
            .collect();
        assert!(commented.len() >= 8, "only {} commented keys", commented.len());
        for i in commented {
            let key = lines[i][2..].split_once(" = ").map_or("", |(k, _)| k.trim());
            let variant: Vec<&str> = lines
                .iter()
                .enumerate()
                // `duration` replaces `requests`; the rest add to the scenario as it is.
                .filter(|&(j, l)| !(key == "duration" && j != i && l.starts_with("requests =")))
                .map(|(j, l)| if j == i { &l[2..] } else { l })
                .collect();
            if let Err(e) = Scenario::parse(&variant.join("\n"), "README.md") {
                assert!(!e.to_string().contains("unknown field"), "{key}: {e}");
            }
        }
    }

    #[test]
    fn key_distributions_round_trip() {
        for text in ["uniform", "sequential", "zipf:0.99", "hotset:0.1:0.9"] {
            let k: KeyDist = text.parse().expect(text);
            assert_eq!(k.to_string(), text);
        }
        for bad in ["zipf", "zipf:-1", "zipf:abc", "hotset:2:0.5", "hotset:0.1:1.5", "pareto"] {
            assert!(bad.parse::<KeyDist>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_goal_takes_a_rate_and_exactly_one_objective() {
        let goal = |g: &str| with("s3", &format!("[goal]\n{g}"));
        let s = goal("reads_per_second = 2000\np99_ms = 5\ncross_az = true").expect("valid");
        assert_eq!(
            s.goal,
            Some(Goal {
                reads_per_second: 2000.0,
                percentile: "p99".into(),
                latency_ms: 5.0,
                cross_az: true
            })
        );
        assert_eq!(
            goal("reads_per_second = 50.5\np999_ms = 0.5").expect("valid").goal.map(|g| g.percentile),
            Some("p999".into())
        );
        for (bad, says) in [
            (
                "reads_per_second = 2000",
                "gives 0 latency objectives; give exactly one of p50_ms, p99_ms or p999_ms",
            ),
            ("reads_per_second = 2000\np50_ms = 1\np99_ms = 5", "gives 2 latency objectives"),
            ("reads_per_second = 0\np99_ms = 5", "0 is not a read rate above 0"),
            ("reads_per_second = 10\np99_ms = -1", "-1 is not a latency above 0 ms"),
            ("reads_per_second = 10\np95_ms = 1", "unknown field `p95_ms`"),
        ] {
            let e = goal(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        assert_eq!(with("s3", "").expect("valid").goal, None);
    }

    #[test]
    fn a_cache_section_sizes_the_local_redis_in_redis_units() {
        assert_eq!(memory_bytes("64mb"), Some(64 << 20));
        assert_eq!(memory_bytes("1GB"), Some(1 << 30));
        assert_eq!(memory_bytes("512k"), Some(512 << 10));
        assert_eq!(memory_bytes("2048"), Some(2048));
        assert_eq!(memory_bytes("64 mib"), None);
        let text = "name = \"x\"\n[cache]\nmaxmemory = 2097152\npolicy = \"allkeys-lfu\"\n[dataset]\nobjects = 10\n\
                    size = 100\n[[workload]]\nname = \"a\"\ntarget = \"redis\"\nrequests = 5\n";
        let s = Scenario::parse(text, "c.toml").expect("valid");
        assert_eq!(
            (s.cache.maxmemory_bytes, s.cache.policy.as_deref()),
            (Some(2 << 20), Some("allkeys-lfu"))
        );
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = "name = \"x\"\n[dataset]\nobjects = 10\nsize = 100\n[[workload]]\nname = \"a\"\n\
                    target = \"redis\"\nrequests = 5\nconcurrency = 0\n";
        let e = Scenario::parse(text, "t.toml").expect_err("zero concurrency");
        assert_eq!(e.line, Some(9));
        assert_eq!(e.to_string(), "scenario t.toml:9: workload \"a\" concurrency: 0 is not in 1..=100000");

        let e = Scenario::parse(&text.replace("concurrency = 0", "concurrency = \"x\""), "t.toml")
            .expect_err("wrong type");
        assert_eq!((e.line, e.field.as_deref()), (Some(9), Some("concurrency")));
        assert!(!e.to_string().contains('\n'));
    }

    /// A scenario in a folder of its own beside `trace.csv` (and `keys.txt`), its workload's
    /// lines ending in `extra`.
    fn with_trace(extra: &str) -> Result<Scenario, ScenarioError> {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(
            dir.path().join("trace.csv"),
            "time,key,size\n0,filename1.txt,\n0.5,photos/a.jpg,7\n2,x,\n",
        )
        .expect("trace");
        std::fs::write(dir.path().join("keys.txt"), "filename1.txt\nx\n").expect("keys");
        let text = format!(
            "name = \"t\"\n[dataset]\nobjects = 4\nsize = 100\n[[workload]]\nname = \"w\"\n\
             target = \"redis\"\n{extra}\n"
        );
        let path = dir.path().join("t.toml");
        std::fs::write(&path, text).expect("scenario");
        Scenario::load(&path)
    }

    #[test]
    fn a_trace_maps_its_keys_to_objects_and_scales_its_times() {
        let s = with_trace("keys = \"trace:trace.csv\"\nreplay = \"timed\"\nspeed = 2.0").expect("valid");
        let w = &s.workloads[0];
        assert_eq!((w.replay, w.speed, w.stop), (Replay::Timed, 2.0, Amount::Requests(3)));
        // filename1.txt is object 1; the others are named objects 4 and 5.
        assert_eq!(s.dataset.named[0], ("photos/a.jpg".to_owned(), 7));
        assert_eq!(s.dataset.named[1].0, "x");
        assert_eq!(s.dataset.named[1].1, 100, "a size drawn from the dataset's");
        let trace = w.trace.as_ref().expect("a loaded trace");
        assert_eq!(trace.objects, [1, 4, 5]);
        let at = [0, 250, 1000].map(Duration::from_millis).to_vec();
        assert_eq!(trace.at.as_ref(), Some(&at));
        let keys = w.settings().into_iter().find(|(name, _)| *name == "keys").map(|(_, v)| v);
        assert!(keys.is_some_and(|k| k.starts_with("trace:") && k.ends_with("trace.csv (timed, speed 2)")));
        let fast = with_trace("keys = \"trace:keys.txt\"\nrequests = 1").expect("valid");
        assert_eq!(fast.workloads[0].trace.as_ref().map(|t| t.at.is_none()), Some(true));
        assert_eq!(fast.workloads[0].stop, Amount::Requests(1), "requests may end it early");
    }

    #[test]
    fn replay_fields_are_checked_against_the_trace() {
        let refused = |extra: &str| with_trace(extra).expect_err(extra).to_string();
        let e = refused("keys = \"trace:keys.txt\"\nreplay = \"timed\"");
        assert!(e.contains(":9: workload \"w\" replay: the trace (one key per line) has no times"), "{e}");
        let e = refused("replay = \"timed\"");
        assert!(e.contains("replay: applies to keys = \"trace:FILE\" only"), "{e}");
        let e = refused("keys = \"trace:trace.csv\"\nspeed = 2.0");
        assert!(e.contains("speed: applies to replay = \"timed\" only"), "{e}");
        let e = refused("keys = \"trace:trace.csv\"\nreplay = \"timed\"\nspeed = 0.0");
        assert!(e.contains("speed: 0 is not a speed"), "{e}");
        let e = refused("keys = \"trace:trace.csv\"\nreplay = \"slow\"");
        assert!(e.contains("\"slow\" is not \"fast\" or \"timed\""), "{e}");
        let e = refused("keys = \"trace:trace.csv\"\nrate = 10.0");
        assert!(e.contains("rate: a trace sets its own pace"), "{e}");
        let e = refused("keys = \"trace:trace.csv\"\nwrite_share = 0.1");
        assert!(e.contains("write_share: a trace replays its reads only"), "{e}");
        let e = refused("keys = \"trace:trace.csv\"\nwarmup = 2");
        assert!(e.contains("warmup: a trace replays once"), "{e}");
        let e = refused("keys = \"trace:missing.csv\"");
        assert!(
            e.contains(":8: workload \"w\" keys: trace ") && e.contains("missing.csv: no such file"),
            "{e}"
        );
        let e = refused("requests = 1\nkeys = \"trace:\"");
        assert!(e.contains("trace: names no file"), "{e}");
    }

    #[test]
    fn a_workload_runs_on_part_of_the_fleet_within_the_scenarios_agents() {
        let text = "name = \"x\"\nagents = 4\n[dataset]\nobjects = 10\nsize = 100\n[[workload]]\nname = \"a\"\n\
                    target = \"redis\"\nrequests = 5\nagents = 2\n[[workload]]\nname = \"b\"\ntarget = \"s3\"\nrequests = 5\n";
        let s = Scenario::parse(text, "t.toml").expect("valid");
        assert_eq!(s.workloads[0].agents, Some(2));
        assert_eq!(s.workloads[1].agents, None, "all of them");

        let e = Scenario::parse(&text.replace("agents = 2", "agents = 5"), "t.toml").expect_err("5 of 4");
        assert_eq!(
            e.to_string(),
            "scenario t.toml:10: workload \"a\" agents: 5 is more than the scenario's 4 agents; \
             raise the scenario's agents or lower this"
        );
        let e = Scenario::parse(&text.replace("agents = 2", "agents = 0"), "t.toml").expect_err("none");
        assert_eq!(e.to_string(), "scenario t.toml:10: workload \"a\" agents: 0 is not in 1..=1024");
    }

    #[test]
    fn durations_and_warmups_parse() {
        let text = "name = \"x\"\n[dataset]\nobjects = 10\nsize = { min = 1, max = 2 }\n[[workload]]\n\
                    name = \"a\"\ntarget = \"s3\"\nduration = \"1m 30s\"\nwarmup = \"5s\"\ntimeout = \"250ms\"\n";
        let s = Scenario::parse(text, "t.toml").expect("valid");
        let w = &s.workloads[0];
        assert_eq!(w.stop, Amount::Duration(Duration::from_secs(90)));
        assert_eq!(w.warmup, Some(Amount::Duration(Duration::from_secs(5))));
        assert_eq!(w.timeout, Duration::from_millis(250));
        let json = serde_json::to_string(&s).expect("serialises");
        let back: Scenario = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, s);
    }

    const BASE: &str = "name = \"x\"\n[dataset]\nobjects = 10\nsize = 100\n[[workload]]\nname = \"w\"\n\
                        target = \"TARGET\"\nrequests = 5\n";

    fn with(target: &str, extra: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&format!("{}{extra}\n", BASE.replace("TARGET", target)), "t.toml")
    }

    #[test]
    fn sizes_take_four_shapes() {
        let sized =
            |size: &str| Scenario::parse(&BASE.replace("TARGET", "s3").replace("size = 100", size), "t.toml");
        assert_eq!(sized("size = 7").expect("fixed").dataset.size, Sizes::Uniform { min: 7, max: 7 });
        let w = sized("size = [[1024, 0.7], [65536, 0.3]]").expect("weighted");
        assert_eq!(w.dataset.size, Sizes::Weighted(vec![(1024, 0.7), (65536, 0.3)]));
        let l = sized("size = { median = 4096, sigma = 1.0, max = 65536 }").expect("lognormal");
        assert_eq!(l.dataset.size, Sizes::Lognormal { median: 4096.0, sigma: 1.0, min: 1, max: 65536 });
        for (bad, part) in [
            ("size = { min = 5 }", "needs both min and max"),
            ("size = [[1024, 0]]", "weight 0 is not > 0"),
            ("size = [1024]", "is not a [bytes, weight] pair"),
            ("size = { median = 10 }", "needs both median and sigma"),
            ("size = \"big\"", "is not a size"),
            ("size = 2147483648", "above 1073741824 bytes"),
        ] {
            let e = sized(bad).expect_err(bad);
            assert!(e.to_string().contains(part), "{bad}: {e}");
            assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("dataset.size")), "{bad}");
        }
    }

    #[test]
    fn target_specific_fields_are_checked() {
        let w = with("cache-aside", "ttl = \"30s\"\nrange = \"10-19\"").expect("valid");
        assert_eq!(w.workloads[0].ttl, Some(Duration::from_secs(30)));
        assert_eq!(w.workloads[0].range, Some((10, 19)));
        // A range may run past an object's end (both stores return what there is), not start there.
        assert_eq!(with("s3", "range = \"99-500\"").expect("valid").workloads[0].range, Some((99, 500)));
        let weighted = BASE.replace("TARGET", "s3").replace("size = 100", "size = [[4096, 0.9], [64, 0.1]]");
        let e = Scenario::parse(&format!("{weighted}range = \"64-127\"\n"), "t.toml").expect_err("past 64");
        assert!(e.to_string().contains("smallest objects (64 bytes); start it below 64"), "{e}");
        assert_eq!(with("redis", "set_share = 0.2").expect("valid").workloads[0].set_share, 0.2);
        assert_eq!(with("redis", "pipeline = 16").expect("valid").workloads[0].pipeline, 16);
        assert_eq!(with("s3", "").expect("valid").workloads[0].pipeline, 1, "one at a time by default");
        assert_eq!(
            with("redis", "busy_poll = \"50us\"").expect("valid").workloads[0].busy_poll,
            Some(Duration::from_micros(50))
        );
        assert_eq!(with("redis", "").expect("valid").workloads[0].busy_poll, None, "off by default");
        assert_eq!(
            with("redis", "rate = 250").expect("an integer rate is fine").workloads[0].rate,
            Some(250.0)
        );
        assert_eq!(with("redis", "rate = 250.0").expect("valid").workloads[0].rate, Some(250.0));
        for (target, extra, part) in [
            ("s3", "ttl = \"1s\"", "cache-aside"),
            ("s3", "set_share = 0.5", "applies to target = \"redis\" only"),
            ("redis", "set_share = 1.5", "1.5 is not in [0, 1]"),
            ("redis", "pipeline = 0", "0 is not in 1..=10000"),
            ("s3", "pipeline = 4", "applies to target = \"redis\" only"),
            ("redis", "pipeline = 4\nrate = 100", "closed loop only"),
            ("redis", "busy_poll = \"1s\"", "is not in 1us..=10ms"),
            ("redis", "busy_poll = \"0us\"", "is not in 1us..=10ms"),
            ("redis", "busy_poll = \"fast\"", "is not a duration"),
            ("s3", "busy_poll = \"50us\"", "applies to target = \"redis\" only"),
            ("redis", "busy_poll = \"50us\"\npipeline = 4", "remove pipeline or busy_poll"),
            ("redis", "rate = -5.0", "is not a rate"),
            ("s3", "range = \"9-1\"", "is not a byte range"),
            (
                "redis",
                "range = \"100-200\"",
                "starts at byte 100, past the end of the smallest objects (100 bytes)",
            ),
        ] {
            let e = with(target, extra).expect_err(extra);
            assert!(e.to_string().contains(part), "{extra}: {e}");
            assert_eq!(e.line, Some(9), "{extra}");
        }
    }

    #[test]
    fn thresholds_parse_and_name_bounds() {
        let s =
            with("cache-aside", "[thresholds]\n\"w.p99_us\" = 100\n\"w.hit_ratio\" = 0.5").expect("valid");
        assert_eq!(s.thresholds.len(), 2);
        assert!(ThresholdMetric::parse("p99_us").expect("known").is_upper_bound());
        assert!(!ThresholdMetric::parse("hit_ratio").expect("known").is_upper_bound());
        assert_eq!(ThresholdMetric::parse("service_p999_us"), Some(ThresholdMetric::Service("p999")));
        for name in ThresholdMetric::NAMES {
            assert!(ThresholdMetric::parse(name).is_some(), "{name}");
        }
        let e = with("redis", "[thresholds]\n\"w.p99_us\" = -1").expect_err("negative limit");
        assert_eq!(e.line, Some(10));
    }
}
