//! Line charts as SVG, written by hand: axes, ticks, a legend, one polyline per series. Text is
//! left to the viewer's sans-serif font, so nothing is measured and no font is needed to draw.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A horizontal line drawn across the chart (a target), with its label.
pub struct Limit {
    pub label: String,
    pub y: f64,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Logarithmic x axis (sizes that grow tenfold).
    pub log_x: bool,
    pub series: Vec<Series>,
    pub limits: Vec<Limit>,
}

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Round tick values covering [0, max].
fn ticks(max: f64) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0, 1.0];
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| max / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let n = (max / step).ceil() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

fn label(v: f64) -> String {
    if v >= 1_000_000.0 && v % 1_000_000.0 == 0.0 {
        format!("{}M", v / 1_000_000.0)
    } else if v >= 1_000.0 && v % 1_000.0 == 0.0 {
        format!("{}k", v / 1_000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Chart {
    pub fn svg(&self) -> String {
        let pts = self.series.iter().flat_map(|s| s.points.iter());
        let xs: Vec<f64> = pts.clone().map(|p| p.0).collect();
        let y_max = pts
            .map(|p| p.1)
            .chain(self.limits.iter().map(|l| l.y))
            .fold(0.0f64, f64::max)
            * 1.1;
        let y_ticks = ticks(y_max);
        let y_top = *y_ticks.last().unwrap_or(&1.0);
        let fx = |v: f64| if self.log_x { v.max(1e-9).log10() } else { v };
        let x_lo = xs.iter().copied().map(fx).fold(f64::INFINITY, f64::min);
        let x_hi = xs.iter().copied().map(fx).fold(f64::NEG_INFINITY, f64::max);
        let (x_lo, x_hi) = if x_lo.is_finite() && x_hi > x_lo {
            (x_lo, x_hi)
        } else {
            (x_lo.min(0.0), x_lo.max(0.0) + 1.0)
        };
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let px = |v: f64| LEFT + (fx(v) - x_lo) / (x_hi - x_lo) * pw;
        let py = |v: f64| TOP + ph - v / y_top * ph;

        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
            LEFT + pw / 2.0,
            esc(&self.title)
        );
        for t in &y_ticks {
            let y = py(*t);
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0,
                label(*t)
            );
        }
        let mut x_seen: Vec<f64> = xs.clone();
        x_seen.sort_by(f64::total_cmp);
        x_seen.dedup();
        for x in &x_seen {
            let gx = px(*x);
            let _ = writeln!(
                s,
                "<line x1=\"{gx:.1}\" y1=\"{TOP}\" x2=\"{gx:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{gx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                TOP + ph,
                TOP + ph + 18.0,
                label(*x)
            );
        }
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b:.1}\" stroke=\"black\"/>\
             <line x1=\"{LEFT}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\" stroke=\"black\"/>\n\
             <text x=\"{cx:.1}\" y=\"{xl:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text transform=\"translate(18 {cy:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            esc(&self.x_label),
            esc(&self.y_label),
            b = TOP + ph,
            r = LEFT + pw,
            cx = LEFT + pw / 2.0,
            xl = H - 16.0,
            cy = TOP + ph / 2.0,
        );
        for l in &self.limits {
            let y = py(l.y);
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#888\" stroke-dasharray=\"6 4\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\">{}</text>",
                LEFT + pw,
                LEFT + pw + 8.0,
                y + 4.0,
                esc(&l.label)
            );
        }
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let path: Vec<String> = series
                .points
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            let _ = writeln!(
                s,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                path.join(" ")
            );
            for (x, y) in &series.points {
                let _ = writeln!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}: {}</title></circle>",
                    px(*x),
                    py(*y),
                    esc(&series.name),
                    label((*y * 100.0).round() / 100.0)
                );
            }
            let ly = TOP + 20.0 + i as f64 * 18.0;
            let lx = LEFT + pw + 8.0;
            let _ = writeln!(
                s,
                "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                lx + 18.0,
                lx + 24.0,
                ly + 4.0,
                esc(&series.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// The charts of a run's document: each (file name, chart).
pub fn of_run(doc: &Value) -> Vec<(&'static str, Chart)> {
    let s = &doc["scenarios"];
    let mut out = Vec::new();
    if let Some(points) = s["growth"]["points"].as_array() {
        let series = |name: &str, f: &dyn Fn(&Value) -> Option<f64>| Series {
            name: name.to_owned(),
            points: points
                .iter()
                .filter_map(|p| Some((num(&p["size"]["clinics"])?, f(p)?)))
                .collect(),
        };
        out.push((
            "growth-latency.svg",
            Chart {
                title: "Latency as the database grows (200 paced calls)".into(),
                x_label: "clinics (bookings and texts of history: 100 per clinic each)".into(),
                y_label: "ms".into(),
                log_x: true,
                series: vec![
                    series("tool calls p50", &|p| {
                        num(&p["calls"]["all_tools"]["p50_ms"])
                    }),
                    series("tool calls p99", &|p| {
                        num(&p["calls"]["all_tools"]["p99_ms"])
                    }),
                    series("availability p99", &|p| {
                        num(&p["availability"]["latency"]["p99_ms"])
                    }),
                ],
                limits: vec![
                    Limit {
                        label: "tool p99 goal 10 ms".into(),
                        y: 10.0,
                    },
                    Limit {
                        label: "availability goal 5 ms".into(),
                        y: 5.0,
                    },
                ],
            },
        ));
        out.push((
            "growth-size.svg",
            Chart {
                title: "Database size as it grows".into(),
                x_label: "clinics".into(),
                y_label: "MB".into(),
                log_x: true,
                series: vec![series("database MB", &|p| num(&p["database_mb"]))],
                limits: vec![],
            },
        ));
    }
    if let Some(runs) = s["calls"].as_array() {
        let paced: Vec<&Value> = runs
            .iter()
            .filter(|r| r["config"]["think_ms"].as_u64().is_some_and(|t| t > 0))
            .collect();
        let series = |name: &str, key: &str| Series {
            name: name.to_owned(),
            points: paced
                .iter()
                .filter_map(|r| Some((num(&r["config"]["calls"])?, num(&r["all_tools"][key])?)))
                .collect(),
        };
        out.push((
            "calls-latency.svg",
            Chart {
                title: "Tool-call latency by concurrent calls (paced)".into(),
                x_label: "concurrent calls".into(),
                y_label: "ms".into(),
                log_x: false,
                series: vec![
                    series("p50", "p50_ms"),
                    series("p95", "p95_ms"),
                    series("p99", "p99_ms"),
                ],
                limits: vec![Limit {
                    label: "p99 goal 10 ms".into(),
                    y: 10.0,
                }],
            },
        ));
    }
    out
}

/// Writes the charts of `doc` into `dir`, each also as `<stamp>-<name>`; returns the paths of
/// the latest ones.
pub fn write(doc: &Value, dir: &Path, stamp: &str) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for (name, chart) in of_run(doc) {
        let svg = chart.svg();
        std::fs::write(dir.join(format!("{stamp}-{name}")), &svg)?;
        let latest = dir.join(name);
        std::fs::write(&latest, &svg)?;
        written.push(latest);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(9.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert!(*ticks(23.0).last().unwrap() >= 23.0);
        assert_eq!(ticks(0.0), vec![0.0, 1.0]);
    }

    #[test]
    fn a_chart_has_a_line_per_series_and_escapes_text() {
        let c = Chart {
            title: "a < b".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: true,
            series: vec![Series {
                name: "s".into(),
                points: vec![(100.0, 1.0), (1000.0, 2.0), (10000.0, 3.0)],
            }],
            limits: vec![],
        };
        let svg = c.svg();
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains(">10k<"));
    }
}
