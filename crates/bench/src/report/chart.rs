//! chart.svg, drawn by hand: throughput (with the disk's raw fsync rate) and latency per
//! workload and level.
//!
//! Kept rather than drawn with `plotters`: plotters' SVG backend alone is cheap to build
//! (2.5 s of CPU with default features off), but laying out titled, labelled axes needs its
//! text metrics, which come only with its `ttf` feature (font-kit, FreeType and fontconfig
//! from the system) or `ab_glyph` with a font file we would ship and register. Readers would
//! get the same two panels; the SVG written here uses the viewer's own sans-serif font and
//! stays a few kilobytes of plain, diffable text.

use std::fmt::Write;

use super::figures::ms;
use crate::fsync::FsyncProbe;
use crate::suite::{Cell, Results};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const ZK_COLOR: &str = "#7f7f7f";
const CORRAL_COLOR: &str = "#d95f02";

/// Two panels over the same cells: throughput (linear) and latency p50/p99 (log scale).
pub fn svg(res: &Results) -> String {
    let cells = &res.cells;
    if cells.is_empty() {
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"40\">\
                <text x=\"10\" y=\"25\" font-family=\"sans-serif\">no throughput runs \
                (see results.md)</text></svg>\n"
            .to_string();
    }
    let n = cells.len().max(1);
    let group = 34.0;
    let left = 80.0;
    let right = 20.0;
    let width = left + right + group * n as f64;
    let top1 = 50.0;
    let h = 220.0;
    let gap = 120.0;
    let top2 = top1 + h + gap;
    let height = top2 + h + 120.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"15\">Corral vs Apache ZooKeeper 3.8 {}({})</text>",
        if res.opts.quick { "--quick " } else { "" },
        esc(&res.started_utc)
    );
    // legend
    let lx = width - right - 230.0;
    let _ = writeln!(
        s,
        "<rect x=\"{lx}\" y=\"28\" width=\"10\" height=\"10\" fill=\"{ZK_COLOR}\"/>\
         <text x=\"{}\" y=\"37\">ZooKeeper</text>\
         <rect x=\"{}\" y=\"28\" width=\"10\" height=\"10\" fill=\"{CORRAL_COLOR}\"/>\
         <text x=\"{}\" y=\"37\">Corral</text>",
        lx + 14.0,
        lx + 90.0,
        lx + 104.0
    );

    // Panel 1: throughput, linear, with the disk's raw fsync rate as a dashed line.
    let fsyncs_per_sec = res
        .fsync
        .as_ref()
        .and_then(FsyncProbe::ceiling)
        .map(|(_, r)| r);
    let max_tp = cells
        .iter()
        .flat_map(|c| [c.zookeeper.ops_per_sec, c.corral.ops_per_sec])
        .chain(fsyncs_per_sec)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let top_tp = nice_ceiling(max_tp);
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"13\">throughput (operations/s); xN = Corral / \
         ZooKeeper</text>",
        top1 - 8.0
    );
    for i in 0..=5 {
        let v = top_tp * i as f64 / 5.0;
        let y = top1 + h - h * i as f64 / 5.0;
        grid_line(&mut s, left, width - right, y, &human(v));
    }
    for (i, c) in cells.iter().enumerate() {
        let x0 = left + group * i as f64 + 4.0;
        for (j, (v, color)) in [
            (c.zookeeper.ops_per_sec, ZK_COLOR),
            (c.corral.ops_per_sec, CORRAL_COLOR),
        ]
        .into_iter()
        .enumerate()
        {
            let v = if v.is_finite() { v } else { 0.0 };
            let bh = h * v / top_tp;
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"{bh:.1}\" fill=\"{color}\">\
                 <title>{} {}x{} {}: {v:.0} ops/s</title></rect>",
                x0 + 13.0 * j as f64,
                top1 + h - bh,
                c.workload.name(),
                c.sessions,
                c.window,
                if j == 0 { "ZooKeeper" } else { "Corral" },
            );
        }
    }
    if let Some(f) = fsyncs_per_sec {
        let y = top1 + h - h * f / top_tp;
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#1b9e77\" \
             stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"9\" \
             fill=\"#1b9e77\">raw fsyncs/s, serial loop: {f:.0}</text>",
            width - right,
            width - right,
            y - 3.0,
        );
    }
    // Corral / ZooKeeper above each pair.
    for (i, c) in cells.iter().enumerate() {
        let (z, k) = (c.zookeeper.ops_per_sec, c.corral.ops_per_sec);
        if !(z > 0.0 && k.is_finite()) {
            continue;
        }
        let top = z.max(k).min(top_tp);
        let x = left + group * i as f64 + 4.0 + 12.5;
        let y = top1 + h - h * top / top_tp - 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" font-size=\"9\">\
             x{:.1}</text>",
            k / z
        );
    }
    labels(&mut s, cells, left, group, top1 + h);

    // Panel 2: latency, log scale; bars to p99, a tick at p50.
    let lat: Vec<f64> = cells
        .iter()
        .flat_map(|c| {
            [
                c.zookeeper.p50_us,
                c.zookeeper.p99_us,
                c.corral.p50_us,
                c.corral.p99_us,
            ]
        })
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = lat.iter().copied().fold(f64::INFINITY, f64::min);
    let lo = if lo.is_finite() { lo.max(1.0) } else { 1.0 };
    let hi = lat.iter().copied().fold(1.0, f64::max);
    // Decades of µs, at most 12 (1 µs .. 11 days).
    let d0 = lo.log10().floor().clamp(0.0, 11.0);
    let d1 = hi.log10().ceil().clamp(d0 + 1.0, 12.0);
    let y_of = |us: f64| top2 + h - h * (us.max(1.0).log10() - d0) / (d1 - d0);
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"13\">latency (ms, log scale): bar = p99, \
         black tick = p50</text>",
        top2 - 8.0
    );
    let mut d = d0;
    while d <= d1 {
        let y = y_of(10f64.powf(d));
        grid_line(
            &mut s,
            left,
            width - right,
            y,
            &fmt_ms(10f64.powf(d) / 1000.0),
        );
        d += 1.0;
    }
    for (i, c) in cells.iter().enumerate() {
        let x0 = left + group * i as f64 + 4.0;
        for (j, (r, color)) in [(&c.zookeeper, ZK_COLOR), (&c.corral, CORRAL_COLOR)]
            .into_iter()
            .enumerate()
        {
            if !r.p99_us.is_finite() {
                continue;
            }
            let x = x0 + 13.0 * j as f64;
            let y = y_of(r.p99_us);
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"12\" height=\"{:.1}\" fill=\"{color}\">\
                 <title>{} {}x{} {}: p50 {} ms, p99 {} ms, p999 {} ms</title></rect>",
                (top2 + h - y).max(0.0),
                c.workload.name(),
                c.sessions,
                c.window,
                if j == 0 { "ZooKeeper" } else { "Corral" },
                ms(r.p50_us),
                ms(r.p99_us),
                ms(r.p999_us),
            );
            if r.p50_us.is_finite() {
                let y50 = y_of(r.p50_us);
                let _ = writeln!(
                    s,
                    "<line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"{y50:.1}\" y2=\"{y50:.1}\" \
                     stroke=\"black\" stroke-width=\"2\"/>",
                    x + 12.0
                );
            }
        }
    }
    labels(&mut s, cells, left, group, top2 + h);
    s.push_str("</svg>\n");
    s
}

/// A horizontal grid line from `x1` to `x2` at `y`, labelled on the left.
fn grid_line(s: &mut String, x1: f64, x2: f64, y: f64, label: &str) {
    let _ = writeln!(
        s,
        "<line x1=\"{x1}\" x2=\"{x2:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
        x1 - 4.0,
        y + 4.0,
    );
}

fn labels(s: &mut String, cells: &[Cell], left: f64, group: f64, base: f64) {
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"black\"/>",
        left + group * cells.len() as f64
    );
    for (i, c) in cells.iter().enumerate() {
        let x = left + group * i as f64 + group / 2.0;
        let y = base + 10.0;
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" \
             transform=\"rotate(-50 {x:.1} {y:.1})\">{} {}x{}</text>",
            esc(c.workload.name()),
            c.sessions,
            c.window
        );
    }
}

fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_helpers() {
        assert_eq!(nice_ceiling(13_000.0), 20_000.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(fmt_ms(0.01), "0.01");
        assert_eq!(esc("a<b"), "a&lt;b");
    }
}
