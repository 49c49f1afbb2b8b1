//! Line charts as inline SVG, for report.html: linear or log-10 axes, gridlines, a legend and one
//! `<g class="series" data-series="...">` per line, so a page needs no script and no fetch to
//! show them and a test can find every line by name.

use std::fmt::Write;

/// Series colours, picked by workload index so a workload has one colour on every chart.
pub const PALETTE: [&str; 8] =
    ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

/// The colour of series number `i`.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// How data values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Evenly spaced values between `min` and `max`.
    Linear {
        /// Value at the axis start.
        min: f64,
        /// Value at the axis end.
        max: f64,
    },
    /// Evenly spaced powers of ten between `min` and `max` (both > 0).
    Log {
        /// Value at the axis start.
        min: f64,
        /// Value at the axis end.
        max: f64,
    },
}

impl Scale {
    /// Where `v` falls along the axis, 0 at the start and 1 at the end (outside when `v` is out
    /// of range; a log axis puts values <= 0 at its start).
    pub fn fraction(&self, v: f64) -> f64 {
        match *self {
            Scale::Linear { min, max } => {
                if max > min {
                    (v - min) / (max - min)
                } else {
                    0.5
                }
            }
            Scale::Log { min, max } => {
                if v <= 0.0 || max <= min {
                    return 0.0;
                }
                (v.log10() - min.log10()) / (max.log10() - min.log10())
            }
        }
    }

    /// A log axis from the power of ten at or below `lo` to the one at or above `hi`.
    pub fn log_decades(lo: f64, hi: f64) -> Scale {
        // No value at all (lo = +inf) or nothing positive: one decade from 1.
        let lo = if lo > 0.0 && lo.is_finite() { lo } else { 1.0 };
        let hi = if hi.is_finite() { hi.max(lo) } else { lo };
        let min = 10f64.powf(lo.log10().floor());
        let mut max = 10f64.powf(hi.log10().ceil());
        if max <= min {
            max = min * 10.0;
        }
        Scale::Log { min, max }
    }

    /// A linear axis from zero to a round number at or above `hi`.
    pub fn linear_from_zero(hi: f64) -> Scale {
        Scale::Linear { min: 0.0, max: nice_ceiling(hi) }
    }
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten that is >= `v` (1 for v <= 0).
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * p).find(|c| *c >= v * (1.0 - 1e-12)).unwrap_or(10.0 * p)
}

/// One axis: its scale, its labelled ticks and its title.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Value mapping.
    pub scale: Scale,
    /// `(value, label)` of every labelled tick, with a gridline.
    pub ticks: Vec<(f64, String)>,
    /// Values of unlabelled minor gridlines.
    pub minor: Vec<f64>,
    /// Axis title.
    pub title: String,
}

impl Axis {
    /// A log axis with a labelled tick at every power of ten and minor gridlines at 2 and 5.
    pub fn log(scale: Scale, title: &str, label: impl Fn(f64) -> String) -> Axis {
        let (min, max) = match scale {
            Scale::Log { min, max } | Scale::Linear { min, max } => (min, max),
        };
        let mut ticks = Vec::new();
        let mut minor = Vec::new();
        if !(min > 0.0 && min.is_finite() && max.is_finite()) {
            return Axis { scale, ticks, minor, title: title.to_owned() };
        }
        let mut decade = min;
        while decade <= max * (1.0 + 1e-9) {
            ticks.push((decade, label(decade)));
            for m in [2.0, 5.0] {
                if decade * m < max {
                    minor.push(decade * m);
                }
            }
            decade *= 10.0;
        }
        Axis { scale, ticks, minor, title: title.to_owned() }
    }

    /// A log axis for sizes from `lo` to `hi`: from the power of two below `lo` to the one above
    /// `hi`, a labelled tick at every power of two between (1, 2, 4, 8 MiB: the sizes caches
    /// come in, where decades of bytes would read 976.6 KiB, 9.5 MiB).
    pub fn log2(lo: f64, hi: f64, title: &str, label: impl Fn(f64) -> String) -> Axis {
        let lo = if lo > 0.0 && lo.is_finite() { lo } else { 1.0 };
        let hi = if hi.is_finite() { hi.max(lo) } else { lo };
        let min = 2f64.powf(lo.log2().floor() - 1.0);
        let max = 2f64.powf(hi.log2().ceil() + 1.0);
        let mut ticks = Vec::new();
        let mut at = min;
        while at <= max * (1.0 + 1e-9) {
            ticks.push((at, label(at)));
            at *= 2.0;
        }
        Axis { scale: Scale::Log { min, max }, ticks, minor: Vec::new(), title: title.to_owned() }
    }

    /// A linear axis with five equal steps.
    pub fn linear(scale: Scale, title: &str, label: impl Fn(f64) -> String) -> Axis {
        let (min, max) = match scale {
            Scale::Log { min, max } | Scale::Linear { min, max } => (min, max),
        };
        let ticks = (0..=5).map(|i| min + (max - min) * f64::from(i) / 5.0).map(|v| (v, label(v))).collect();
        Axis { scale, ticks, minor: Vec::new(), title: title.to_owned() }
    }
}

/// One line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text, and the value of the group's `data-series` attribute.
    pub name: String,
    /// Stroke colour.
    pub color: &'static str,
    /// Dashed stroke (a secondary line, e.g. p50 beside p99).
    pub dashed: bool,
    /// `(x, y)` points in data units, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// A short text beside each point (a sweep's level, `c8`), in the order of `points`; empty
    /// for none.
    pub labels: Vec<String>,
}

/// A chart: axes, lines, and optional shaded x ranges.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The `id` of the `<svg>` element.
    pub id: String,
    /// `data-workload` attribute of the `<svg>`, when the chart belongs to one workload.
    pub workload: Option<String>,
    /// What the chart shows, for `aria-label` and a `<title>`.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<Series>,
    /// `(from x, to x, label)` ranges shaded grey, e.g. a warm-up.
    pub bands: Vec<(f64, f64, String)>,
    /// A dot on every point, where each point is a measurement of its own (a sweep's levels)
    /// rather than a sample along a curve.
    pub markers: bool,
    /// Width, CSS pixels.
    pub width: f64,
    /// Height, CSS pixels.
    pub height: f64,
}

const LEFT: f64 = 72.0;
const RIGHT: f64 = 32.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 46.0;
const LEGEND_ROW: f64 = 18.0;

/// Escape text for HTML or SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Chart {
    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let legend_rows = if self.series.len() > 1 { self.series.len() as f64 } else { 0.0 };
        let plot_h = self.height - TOP - BOTTOM;
        let plot_w = self.width - LEFT - RIGHT;
        let total_h = self.height + legend_rows * LEGEND_ROW;
        let px = |x: f64| LEFT + self.x.scale.fraction(x).clamp(0.0, 1.0) * plot_w;
        let py = |y: f64| TOP + (1.0 - self.y.scale.fraction(y).clamp(0.0, 1.0)) * plot_h;
        let mut s = String::new();
        let workload =
            self.workload.as_deref().map(|w| format!(" data-workload=\"{}\"", escape(w))).unwrap_or_default();
        let _ = write!(
            s,
            "<svg id=\"{}\" class=\"chart\"{workload} xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
             viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
            escape(&self.id),
            self.width,
            total_h,
            self.width,
            total_h,
            escape(&self.title),
            escape(&self.title)
        );
        let _ = write!(
            s,
            "<rect class=\"plot\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#fff\" stroke=\"#999\"/>"
        );
        for (from, to, label) in &self.bands {
            let (x0, x1) = (px(*from), px(*to));
            let _ = write!(
                s,
                "<rect class=\"band\" x=\"{x0:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{plot_h}\" fill=\"#eee\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#666\">{}</text>",
                (x1 - x0).max(0.0),
                x0 + 4.0,
                TOP + 13.0,
                escape(label)
            );
        }
        for v in &self.x.minor {
            let x = px(*v);
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#f0f0f0\"/>",
                TOP + plot_h
            );
        }
        for v in &self.y.minor {
            let y = py(*v);
            let _ = write!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#f0f0f0\"/>",
                LEFT + plot_w
            );
        }
        for (v, label) in &self.x.ticks {
            let x = px(*v);
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#ddd\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
                TOP + plot_h,
                TOP + plot_h + 15.0,
                escape(label)
            );
        }
        for (v, label) in &self.y.ticks {
            let y = py(*v);
            let _ = write!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#333\">{}</text>",
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0,
                escape(label)
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333\">{}</text>\
             <text transform=\"translate(14 {:.1}) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h + 34.0,
            escape(&self.x.title),
            TOP + plot_h / 2.0,
            escape(&self.y.title)
        );
        for series in &self.series {
            let points: Vec<String> =
                series.points.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
            let dash = if series.dashed { " stroke-dasharray=\"5 3\"" } else { "" };
            let _ = write!(s, "<g class=\"series\" data-series=\"{}\">", escape(&series.name));
            if points.len() == 1 {
                let (x, y) = series.points[0];
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                    px(x),
                    py(y),
                    series.color
                );
            } else {
                let _ = write!(
                    s,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}/>",
                    points.join(" "),
                    series.color
                );
                if self.markers {
                    for (x, y) in &series.points {
                        let _ = write!(
                            s,
                            "<circle class=\"marker\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                            px(*x),
                            py(*y),
                            series.color
                        );
                    }
                }
            }
            for ((x, y), label) in series.points.iter().zip(&series.labels) {
                let _ = write!(
                    s,
                    "<text class=\"point-label\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{}\">{}</text>",
                    px(*x) + 5.0,
                    py(*y) - 5.0,
                    series.color,
                    escape(label)
                );
            }
            s.push_str("</g>");
        }
        if legend_rows > 0.0 {
            for (i, series) in self.series.iter().enumerate() {
                let y = self.height + i as f64 * LEGEND_ROW;
                let dash = if series.dashed { " stroke-dasharray=\"5 3\"" } else { "" };
                let _ = write!(
                    s,
                    "<g class=\"legend\"><line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"3\"{dash}/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#333\">{}</text></g>",
                    y - 4.0,
                    LEFT + 24.0,
                    y - 4.0,
                    series.color,
                    LEFT + 30.0,
                    y,
                    escape(&series.name)
                );
            }
        }
        s.push_str("</svg>");
        s
    }
}

/// `v` to one decimal, without a trailing `.0`.
fn one_decimal(v: f64) -> String {
    let t = format!("{v:.1}");
    t.strip_suffix(".0").map(str::to_owned).unwrap_or(t)
}

/// An ops/s label for an axis tick: `500`, `20k`, `1.5M`.
pub fn ops_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", one_decimal(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", one_decimal(v / 1e3))
    } else {
        one_decimal(v)
    }
}

/// A latency label for an axis tick: `1 µs`, `250 µs`, `2.5 ms`, `10 s`.
pub fn latency_label(us: f64) -> String {
    if us < 1000.0 {
        format!("{} µs", one_decimal(us))
    } else if us < 1_000_000.0 {
        format!("{} ms", one_decimal(us / 1000.0))
    } else {
        format!("{} s", one_decimal(us / 1_000_000.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scale_puts_decades_evenly() {
        let s = Scale::log_decades(150.0, 4000.0);
        assert_eq!(s, Scale::Log { min: 100.0, max: 10_000.0 });
        assert!((s.fraction(1000.0) - 0.5).abs() < 1e-12);
        assert_eq!(s.fraction(100.0), 0.0);
        assert!((s.fraction(10_000.0) - 1.0).abs() < 1e-12);
        // A single value still gets a decade of room, and no value at all one decade from 1.
        assert_eq!(Scale::log_decades(100.0, 100.0), Scale::Log { min: 100.0, max: 1000.0 });
        assert_eq!(Scale::log_decades(f64::INFINITY, 0.0), Scale::Log { min: 1.0, max: 10.0 });
        // Sizes get a tick at every power of two, one step beyond the values each way.
        const MIB: f64 = 1_048_576.0;
        let sizes = Axis::log2(2.0 * MIB, 16.0 * MIB, "size", |b| format!("{}", b / MIB));
        let labels: Vec<&str> = sizes.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["1", "2", "4", "8", "16", "32"]);
        assert!((sizes.scale.fraction(4.0 * MIB) - 0.4).abs() < 1e-12, "2 of 5 doublings");
        // An axis over a broken scale has no ticks rather than endless ones.
        let broken = Axis::log(Scale::Log { min: f64::INFINITY, max: f64::INFINITY }, "t", |v| v.to_string());
        assert!(broken.ticks.is_empty());
    }

    #[test]
    fn nice_ceilings_round_up() {
        assert_eq!(nice_ceiling(5694.0), 10_000.0);
        assert_eq!(nice_ceiling(2300.0), 2500.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(100.0), 100.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    #[test]
    fn latency_labels_pick_a_unit() {
        assert_eq!(latency_label(1.0), "1 µs");
        assert_eq!(latency_label(100.0), "100 µs");
        assert_eq!(latency_label(2500.0), "2.5 ms");
        assert_eq!(latency_label(10_000_000.0), "10 s");
    }

    #[test]
    fn series_are_named_and_escaped() {
        let scale = Scale::Linear { min: 0.0, max: 10.0 };
        let chart = Chart {
            id: "c".into(),
            workload: Some("a<b".into()),
            title: "t".into(),
            x: Axis::linear(scale, "x", |v| format!("{v}")),
            y: Axis::linear(scale, "y", |v| format!("{v}")),
            series: vec![Series {
                name: "w\"1".into(),
                color: color(0),
                dashed: false,
                points: vec![(0.0, 0.0), (10.0, 10.0)],
                labels: Vec::new(),
            }],
            bands: vec![],
            markers: false,
            width: 400.0,
            height: 200.0,
        };
        let svg = chart.render();
        assert!(svg.contains("data-workload=\"a&lt;b\""), "{svg}");
        assert!(svg.contains("data-series=\"w&quot;1\""), "{svg}");
        // (0, 0) is the plot's bottom-left corner, (10, 10) its top-right one.
        assert!(
            svg.contains(&format!(
                "points=\"{LEFT:.1},{:.1} {:.1},{TOP:.1}\"",
                200.0 - BOTTOM,
                400.0 - RIGHT
            )),
            "{svg}"
        );
    }
}
