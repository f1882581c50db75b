//! The figures derived from the raw measurements (ratios, medians, CPU per operation, the
//! load generator's limit) and the number formats the outputs share.

use crate::load::RunResult;

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub(crate) fn ratio(corral: f64, zk: f64) -> String {
    if zk > 0.0 && corral.is_finite() && zk.is_finite() {
        format!("{:.2}", corral / zk)
    } else {
        "-".into()
    }
}

pub(crate) fn ms(us: f64) -> String {
    if !us.is_finite() {
        return "-".into();
    }
    let ms = us / 1000.0;
    if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 100.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

pub(crate) fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

pub(crate) fn median_u64(v: &[u64]) -> f64 {
    median(&v.iter().map(|x| *x as f64).collect::<Vec<_>>())
}

/// Client CPU per operation, in µs (load generator cores x 1e6 / ops per second).
pub(crate) fn loadgen_us_per_op(r: &RunResult) -> f64 {
    if r.ops_per_sec > 0.0 {
        r.cpu.bench_cores * 1e6 / r.ops_per_sec
    } else {
        f64::NAN
    }
}

pub(crate) fn server_us_per_op(r: &RunResult) -> f64 {
    if r.ops_per_sec > 0.0 {
        r.cpu.server_cores * 1e6 / r.ops_per_sec
    } else {
        f64::NAN
    }
}

/// The load generator runs on `loadgen_threads` runtime threads: at this share of them busy
/// it is taken to be the limit of the run rather than the server.
pub(crate) const LOADGEN_BOUND: f64 = 0.9;

pub(crate) fn loadgen_bound(r: &RunResult, threads: usize) -> bool {
    r.cpu.bench_cores >= LOADGEN_BOUND * threads as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_medians() {
        assert_eq!(ratio(2.0, 4.0), "0.50");
        assert_eq!(ratio(2.0, 0.0), "-");
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
