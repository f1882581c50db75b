//! The two renderings of one list of metric samples: `mntr` (ZooKeeper's default metrics
//! provider: `zk_<name>\t<value>`, summaries as avg/min/max/cnt/sum and percentiles) and the
//! Prometheus text format 0.0.4 (ZooKeeper's PrometheusMetricsProvider: the same names without
//! `zk_`, gauges, counters, summaries with quantiles, summary sets labelled `key`).

use std::fmt::Write;

use super::metrics::{Detail, Summary, SummarySet};

/// One metric's value.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// Text (`zk_version`, `zk_server_state`, `zk_peer_state`): `mntr` only, as ZooKeeper's
    /// MonitorCommand prints them beside its metrics.
    Text(String),
    /// An integer gauge.
    Int(i64),
    /// A real gauge.
    Float(f64),
    /// A counter.
    Counter(u64),
    /// A summary.
    Summary(&'a Summary),
    /// A summary per label.
    Set(&'a SummarySet),
}

/// A named metric.
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    /// ZooKeeper's name (without `zk_`).
    pub name: &'static str,
    /// Its value.
    pub value: Value<'a>,
}

impl<'a> Sample<'a> {
    /// A sample.
    pub fn new(name: &'static str, value: Value<'a>) -> Sample<'a> {
        Sample { name, value }
    }
}

/// The `mntr` percentiles of an advanced summary.
const MNTR_PERCENTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)];

/// The quantiles ZooKeeper's Prometheus provider exports.
const PROM_BASIC: [f64; 1] = [0.5];
const PROM_ADVANCED: [f64; 3] = [0.5, 0.9, 0.99];

/// `mntr`'s text.
pub fn mntr(samples: &[Sample<'_>]) -> String {
    let mut out = String::new();
    for s in samples {
        let name = s.name;
        match &s.value {
            Value::Text(t) => {
                let _ = writeln!(out, "zk_{name}\t{t}");
            }
            Value::Int(v) => {
                let _ = writeln!(out, "zk_{name}\t{v}");
            }
            Value::Float(v) => {
                let _ = writeln!(out, "zk_{name}\t{}", java_double(*v));
            }
            Value::Counter(v) => {
                let _ = writeln!(out, "zk_{name}\t{v}");
            }
            Value::Summary(sum) => mntr_summary(&mut out, "", name, sum),
            Value::Set(set) => {
                for (key, sum) in set.iter() {
                    mntr_summary(&mut out, &format!("{key}_"), name, sum);
                }
            }
        }
    }
    out
}

fn mntr_summary(out: &mut String, key: &str, name: &str, s: &Summary) {
    let _ = writeln!(out, "zk_avg_{key}{name}\t{}", java_double(s.avg()));
    let _ = writeln!(out, "zk_min_{key}{name}\t{}", s.min());
    let _ = writeln!(out, "zk_max_{key}{name}\t{}", s.max());
    let _ = writeln!(out, "zk_cnt_{key}{name}\t{}", s.count());
    let _ = writeln!(out, "zk_sum_{key}{name}\t{}", s.sum());
    if s.detail() == Detail::Advanced {
        let qs: Vec<f64> = MNTR_PERCENTILES.iter().map(|(_, q)| *q).collect();
        for ((label, _), v) in MNTR_PERCENTILES.iter().zip(s.quantiles(&qs)) {
            // ZooKeeper prints them as longs (0 before any value).
            let _ = writeln!(out, "zk_{label}_{key}{name}\t{}", v.unwrap_or(0.0) as i64);
        }
    }
}

/// The Prometheus text exposition format (version 0.0.4) of the samples; text values are
/// left out, as ZooKeeper's provider has no string metrics.
pub fn prometheus(samples: &[Sample<'_>]) -> String {
    let mut out = String::new();
    let mut lines = Vec::new();
    for s in samples {
        let Some(kind) = prom_kind(&s.value) else {
            continue;
        };
        let name = s.name;
        let _ = writeln!(out, "# HELP {name} {name}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        lines.clear();
        prom_samples(s, &mut lines);
        for (sample, value) in &lines {
            let _ = writeln!(out, "{sample} {value}");
        }
    }
    out
}

/// `mntr` as ZooKeeper prints it when its Prometheus provider is on (MonitorCommand dumps
/// the provider's samples): the text rows, then `zk_<sample name>{labels}\t<value>` for
/// every Prometheus sample.
pub fn mntr_prometheus(samples: &[Sample<'_>]) -> String {
    let mut out = String::new();
    let mut lines = Vec::new();
    for s in samples {
        if let Value::Text(t) = &s.value {
            let _ = writeln!(out, "zk_{}\t{t}", s.name);
            continue;
        }
        lines.clear();
        prom_samples(s, &mut lines);
        for (sample, value) in &lines {
            let _ = writeln!(out, "zk_{sample}\t{value}");
        }
    }
    out
}

fn prom_kind(value: &Value<'_>) -> Option<&'static str> {
    Some(match value {
        Value::Text(_) => return None,
        Value::Int(_) | Value::Float(_) => "gauge",
        Value::Counter(_) => "counter",
        Value::Summary(_) | Value::Set(_) => "summary",
    })
}

/// A metric's Prometheus samples: (name with labels, value).
fn prom_samples(s: &Sample<'_>, out: &mut Vec<(String, String)>) {
    let name = s.name;
    match &s.value {
        Value::Text(_) => {}
        Value::Int(v) => out.push((name.to_string(), java_double(*v as f64))),
        Value::Float(v) => out.push((name.to_string(), java_double(*v))),
        Value::Counter(v) => out.push((name.to_string(), java_double(*v as f64))),
        Value::Summary(sum) => prom_summary(out, name, None, sum),
        Value::Set(set) => {
            for (key, sum) in set.iter() {
                prom_summary(out, name, Some(key), sum);
            }
        }
    }
}

fn prom_summary(out: &mut Vec<(String, String)>, name: &str, key: Option<&str>, s: &Summary) {
    let qs: &[f64] = match s.detail() {
        Detail::Basic => &PROM_BASIC,
        Detail::Advanced => &PROM_ADVANCED,
    };
    let key_label = key.map(|k| format!("key=\"{}\",", escape_label(k)));
    let key_label = key_label.as_deref().unwrap_or("");
    for (q, v) in qs.iter().zip(s.quantiles(qs)) {
        // No value in the window: NaN, as Prometheus's Java client reports an empty summary.
        let v = v.map_or_else(|| "NaN".to_string(), java_double);
        out.push((format!("{name}{{{key_label}quantile=\"{q}\"}}"), v));
    }
    let plain = key.map(|k| format!("{{key=\"{}\"}}", escape_label(k)));
    let plain = plain.as_deref().unwrap_or("");
    out.push((
        format!("{name}_count{plain}"),
        java_double(s.count() as f64),
    ));
    out.push((format!("{name}_sum{plain}"), java_double(s.sum() as f64)));
}

/// A label value with `\`, `"` and newlines escaped (the text format's rules).
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A double as Java's `Double.toString` writes it (`0.0`, `7.0`, `0.3333`, `1.0E-4`,
/// `1.2E7`): what ZooKeeper's `mntr` and Prometheus's Java client print.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exp}")
        } else {
            format!("{mantissa}.0E{exp}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(7.0), "7.0");
        assert_eq!(java_double(0.3333), "0.3333");
        assert_eq!(java_double(1e-4), "1.0E-4");
        assert_eq!(java_double(1.25e7), "1.25E7");
        assert_eq!(java_double(-2.5), "-2.5");
        assert_eq!(java_double(f64::NAN), "NaN");
    }

    #[test]
    fn one_list_two_renderings() {
        let mut lat = Summary::new(Detail::Advanced);
        lat.add(2);
        lat.add(4);
        let mut basic = Summary::new(Detail::Basic);
        basic.add(3);
        let mut set = SummarySet::new(Detail::Basic);
        set.add("a\"b", 10);
        let samples = vec![
            Sample::new("server_state", Value::Text("standalone".into())),
            Sample::new("znode_count", Value::Int(5)),
            Sample::new("avg_latency", Value::Float(0.5)),
            Sample::new("watch_bytes", Value::Counter(12)),
            Sample::new("readlatency", Value::Summary(&lat)),
            Sample::new("fsynctime", Value::Summary(&basic)),
            Sample::new("write_per_namespace", Value::Set(&set)),
        ];
        let m = mntr(&samples);
        let expected_mntr = "zk_server_state\tstandalone\nzk_znode_count\t5\nzk_avg_latency\t0.5\n\
zk_watch_bytes\t12\nzk_avg_readlatency\t3.0\nzk_min_readlatency\t2\nzk_max_readlatency\t4\n\
zk_cnt_readlatency\t2\nzk_sum_readlatency\t6\nzk_p50_readlatency\t3\nzk_p95_readlatency\t4\n\
zk_p99_readlatency\t4\nzk_p999_readlatency\t4\nzk_avg_fsynctime\t3.0\nzk_min_fsynctime\t3\n\
zk_max_fsynctime\t3\nzk_cnt_fsynctime\t1\nzk_sum_fsynctime\t3\nzk_avg_a\"b_write_per_namespace\t10.0\n\
zk_min_a\"b_write_per_namespace\t10\nzk_max_a\"b_write_per_namespace\t10\n\
zk_cnt_a\"b_write_per_namespace\t1\nzk_sum_a\"b_write_per_namespace\t10\n";
        assert_eq!(m, expected_mntr);
        let p = prometheus(&samples);
        let expected_prom = "# HELP znode_count znode_count\n# TYPE znode_count gauge\nznode_count 5.0\n\
# HELP avg_latency avg_latency\n# TYPE avg_latency gauge\navg_latency 0.5\n\
# HELP watch_bytes watch_bytes\n# TYPE watch_bytes counter\nwatch_bytes 12.0\n\
# HELP readlatency readlatency\n# TYPE readlatency summary\nreadlatency{quantile=\"0.5\"} 3.0\n\
readlatency{quantile=\"0.9\"} 4.0\nreadlatency{quantile=\"0.99\"} 4.0\nreadlatency_count 2.0\n\
readlatency_sum 6.0\n# HELP fsynctime fsynctime\n# TYPE fsynctime summary\n\
fsynctime{quantile=\"0.5\"} 3.0\nfsynctime_count 1.0\nfsynctime_sum 3.0\n\
# HELP write_per_namespace write_per_namespace\n# TYPE write_per_namespace summary\n\
write_per_namespace{key=\"a\\\"b\",quantile=\"0.5\"} 10.0\nwrite_per_namespace_count{key=\"a\\\"b\"} 1.0\n\
write_per_namespace_sum{key=\"a\\\"b\"} 10.0\n";
        assert_eq!(p, expected_prom);
    }

    #[test]
    fn mntr_with_the_prometheus_provider_prints_its_samples() {
        let mut lat = Summary::new(Detail::Advanced);
        lat.add(2);
        let samples = vec![
            Sample::new("server_state", Value::Text("standalone".into())),
            Sample::new("znode_count", Value::Int(5)),
            Sample::new("readlatency", Value::Summary(&lat)),
        ];
        assert_eq!(
            mntr_prometheus(&samples),
            "zk_server_state\tstandalone\nzk_znode_count\t5.0\n\
zk_readlatency{quantile=\"0.5\"}\t2.0\nzk_readlatency{quantile=\"0.9\"}\t2.0\n\
zk_readlatency{quantile=\"0.99\"}\t2.0\nzk_readlatency_count\t1.0\nzk_readlatency_sum\t2.0\n"
        );
    }

    #[test]
    fn an_empty_summary_has_nan_quantiles_and_zero_counts() {
        let s = Summary::new(Detail::Basic);
        let p = prometheus(&[Sample::new("snapshottime", Value::Summary(&s))]);
        assert!(p.contains("snapshottime{quantile=\"0.5\"} NaN\n"), "{p}");
        assert!(p.contains("snapshottime_count 0.0\n"), "{p}");
        let m = mntr(&[Sample::new("snapshottime", Value::Summary(&s))]);
        assert!(m.starts_with("zk_avg_snapshottime\t0.0\nzk_min_snapshottime\t0\n"));
    }
}
