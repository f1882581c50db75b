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

/// One entry of ZooKeeper's monitor output: a `mntr` line (`zk_<key>\t<value>`), a field of
/// the AdminServer's `monitor` command (`<key>`: a string, an integer or a real), with the
/// value's type as ZooKeeper's.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorValue {
    /// Text.
    Text(String),
    /// A Java long or int.
    Long(i64),
    /// A Java double.
    Double(f64),
}

impl std::fmt::Display for MonitorValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MonitorValue::Text(t) => f.write_str(t),
            MonitorValue::Long(v) => write!(f, "{v}"),
            MonitorValue::Double(v) => f.write_str(&java_double(*v)),
        }
    }
}

/// The monitor entries of the samples, as ZooKeeper's MonitorCommand dumps its metrics
/// provider: the default provider's keys (summaries as avg/min/max/cnt/sum, and p50..p999
/// when advanced), or with `prometheus_provider` the Prometheus samples (`readlatency{
/// quantile="0.5"}`, all values doubles). Text entries come as they are.
pub fn monitor(samples: &[Sample<'_>], prometheus_provider: bool) -> Vec<(String, MonitorValue)> {
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for s in samples {
        let name = s.name;
        if let Value::Text(t) = &s.value {
            out.push((name.to_string(), MonitorValue::Text(t.clone())));
            continue;
        }
        if prometheus_provider {
            lines.clear();
            prom_samples(s, &mut lines);
            for (sample, value) in lines.drain(..) {
                out.push((sample, MonitorValue::Double(value)));
            }
            continue;
        }
        match &s.value {
            Value::Text(_) => {}
            Value::Int(v) => out.push((name.to_string(), MonitorValue::Long(*v))),
            Value::Float(v) => out.push((name.to_string(), MonitorValue::Double(*v))),
            Value::Counter(v) => out.push((
                name.to_string(),
                MonitorValue::Long(i64::try_from(*v).unwrap_or(i64::MAX)),
            )),
            Value::Summary(sum) => monitor_summary(&mut out, "", name, sum),
            Value::Set(set) => {
                for (key, sum) in set.iter() {
                    monitor_summary(&mut out, &format!("{key}_"), name, sum);
                }
            }
        }
    }
    out
}

fn monitor_summary(out: &mut Vec<(String, MonitorValue)>, key: &str, name: &str, s: &Summary) {
    out.push((format!("avg_{key}{name}"), MonitorValue::Double(s.avg())));
    out.push((format!("min_{key}{name}"), MonitorValue::Long(s.min())));
    out.push((format!("max_{key}{name}"), MonitorValue::Long(s.max())));
    let count = i64::try_from(s.count()).unwrap_or(i64::MAX);
    out.push((format!("cnt_{key}{name}"), MonitorValue::Long(count)));
    out.push((format!("sum_{key}{name}"), MonitorValue::Long(s.sum())));
    if s.detail() == Detail::Advanced {
        let qs: Vec<f64> = MNTR_PERCENTILES.iter().map(|(_, q)| *q).collect();
        for ((label, _), v) in MNTR_PERCENTILES.iter().zip(s.quantiles(&qs)) {
            // ZooKeeper prints them as longs (0 before any value).
            let v = MonitorValue::Long(v.unwrap_or(0.0) as i64);
            out.push((format!("{label}_{key}{name}"), v));
        }
    }
}

/// `mntr`'s text: the monitor entries as `zk_<key>\t<value>` lines.
fn mntr_text(entries: Vec<(String, MonitorValue)>) -> String {
    let mut out = String::new();
    for (key, value) in entries {
        let _ = writeln!(out, "zk_{key}\t{value}");
    }
    out
}

/// `mntr` with ZooKeeper's default metrics provider.
pub fn mntr(samples: &[Sample<'_>]) -> String {
    mntr_text(monitor(samples, false))
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
            let _ = writeln!(out, "{sample} {}", java_double(*value));
        }
    }
    out
}

/// `mntr` as ZooKeeper prints it when its Prometheus provider is on (MonitorCommand dumps
/// the provider's samples): the text rows, then `zk_<sample name>{labels}\t<value>` for
/// every Prometheus sample.
pub fn mntr_prometheus(samples: &[Sample<'_>]) -> String {
    mntr_text(monitor(samples, true))
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
fn prom_samples(s: &Sample<'_>, out: &mut Vec<(String, f64)>) {
    let name = s.name;
    match &s.value {
        Value::Text(_) => {}
        Value::Int(v) => out.push((name.to_string(), *v as f64)),
        Value::Float(v) => out.push((name.to_string(), *v)),
        Value::Counter(v) => out.push((name.to_string(), *v as f64)),
        Value::Summary(sum) => prom_summary(out, name, None, sum),
        Value::Set(set) => {
            for (key, sum) in set.iter() {
                prom_summary(out, name, Some(key), sum);
            }
        }
    }
}

fn prom_summary(out: &mut Vec<(String, f64)>, name: &str, key: Option<&str>, s: &Summary) {
    let qs: &[f64] = match s.detail() {
        Detail::Basic => &PROM_BASIC,
        Detail::Advanced => &PROM_ADVANCED,
    };
    let key_label = key.map(|k| format!("key=\"{}\",", escape_label(k)));
    let key_label = key_label.as_deref().unwrap_or("");
    for (q, v) in qs.iter().zip(s.quantiles(qs)) {
        // No value in the window: NaN, as Prometheus's Java client reports an empty summary.
        out.push((
            format!("{name}{{{key_label}quantile=\"{q}\"}}"),
            v.unwrap_or(f64::NAN),
        ));
    }
    let plain = key.map(|k| format!("{{key=\"{}\"}}", escape_label(k)));
    let plain = plain.as_deref().unwrap_or("");
    out.push((format!("{name}_count{plain}"), s.count() as f64));
    out.push((format!("{name}_sum{plain}"), s.sum() as f64));
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
    fn monitor_entries_carry_zookeepers_types() {
        let mut lat = Summary::new(Detail::Basic);
        lat.add(3);
        let samples = vec![
            Sample::new("version", Value::Text("v".into())),
            Sample::new("znode_count", Value::Int(5)),
            Sample::new("avg_latency", Value::Float(0.5)),
            Sample::new("watch_bytes", Value::Counter(7)),
            Sample::new("fsynctime", Value::Summary(&lat)),
        ];
        use MonitorValue::{Double, Long, Text};
        let expected = vec![
            ("version", Text("v".into())),
            ("znode_count", Long(5)),
            ("avg_latency", Double(0.5)),
            ("watch_bytes", Long(7)),
            ("avg_fsynctime", Double(3.0)),
            ("min_fsynctime", Long(3)),
            ("max_fsynctime", Long(3)),
            ("cnt_fsynctime", Long(1)),
            ("sum_fsynctime", Long(3)),
        ];
        let got = monitor(&samples, false);
        let got: Vec<(&str, MonitorValue)> =
            got.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        assert_eq!(got, expected);
        // The Prometheus provider's dump: every metric value a double.
        let prom = monitor(&samples, true);
        assert!(
            prom[1..].iter().all(|(_, v)| matches!(v, Double(_))),
            "{prom:?}"
        );
        assert_eq!(prom[4].0, "fsynctime{quantile=\"0.5\"}");
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
