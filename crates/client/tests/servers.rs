//! corral-client against both servers: every scenario is written once, generic over the
//! server's address, and runs against an in-process Corral server and against Apache
//! ZooKeeper 3.8 (started once for this binary as a child process, killed by pid at exit).
//!
//! `cargo test -p corral-client --test servers [-- FILTER]` runs the scenarios whose name
//! contains FILTER. Each is bounded in time; failures are listed at the end.

#[path = "it/ops.rs"]
mod ops;
#[path = "it/recipes.rs"]
mod recipes;
#[path = "it/session.rs"]
mod session;
#[path = "it/support.rs"]
mod support;
#[path = "it/watches.rs"]
mod watches;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use support::{Kind, Target, TestResult};

type Scenario = fn(Target) -> Pin<Box<dyn Future<Output = TestResult> + Send>>;

macro_rules! scenarios {
    ($($m:ident :: $f:ident),* $(,)?) => {
        vec![$((concat!(stringify!($m), "::", stringify!($f)),
               (|t| Box::pin($m::$f(t))) as Scenario)),*]
    };
}

fn main() -> ExitCode {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let all = scenarios![
        ops::create_modes_and_errors,
        ops::read_write_delete,
        ops::acl_and_auth,
        ops::multi_and_multi_read,
        ops::session_queries,
        ops::chroot,
        ops::pipelining,
        ops::container_and_ttl,
        watches::one_shot_watches,
        watches::event_before_later_reply,
        watches::persistent_watches,
        watches::remove_and_check_watches,
        session::reconnect_keeps_session_and_watches,
        session::expiry_is_reported,
        session::close_deletes_ephemerals,
        recipes::lock_mutual_exclusion_and_fifo,
        recipes::rwlock,
        recipes::election,
        recipes::barriers,
        recipes::queue_and_counter,
        recipes::discovery_and_tree_cache,
        recipes::recipes_on_expiry,
    ];
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|(name, _)| filter.as_deref().is_none_or(|f| name.contains(f)))
        .collect();

    // Without ZooKeeper (no jar here) Corral's scenarios still run and decide the outcome; the
    // oracle's side is reported as skipped at the end (`cargo xtask` installs ZooKeeper).
    let zk = support::ZooKeeper::start();
    if let Err(e) = &zk {
        eprintln!("cannot start Apache ZooKeeper: {e}; running the scenarios on Corral only");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let failures = rt.block_on(async {
        let corral = support::start_corral().await;
        let mut targets = vec![Target {
            kind: Kind::Corral,
            addr: corral,
        }];
        if let Ok(zk) = &zk {
            targets.push(Target {
                kind: Kind::ZooKeeper,
                addr: zk.addr,
            });
        }
        // The two servers' runs go side by side; scenarios on one server run one at a time.
        let mut runs = tokio::task::JoinSet::new();
        for target in targets {
            let chosen = chosen.clone();
            runs.spawn(async move {
                let mut failed = Vec::new();
                for (name, scenario) in chosen {
                    let t0 = Instant::now();
                    let run = tokio::spawn(scenario(target.clone()));
                    let abort = run.abort_handle();
                    let outcome = match tokio::time::timeout(Duration::from_secs(45), run).await {
                        Ok(Ok(Ok(()))) => Ok(()),
                        Ok(Ok(Err(e))) => Err(e.to_string()),
                        Ok(Err(e)) if e.is_panic() => Err(panic_message(e.into_panic())),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => {
                            abort.abort();
                            Err("timed out after 45 s".to_string())
                        }
                    };
                    let ms = t0.elapsed().as_millis();
                    match outcome {
                        Ok(()) => println!("ok    {:?} {name} ({ms} ms)", target.kind),
                        Err(e) => {
                            println!("FAIL  {:?} {name} ({ms} ms): {e}", target.kind);
                            failed.push(format!("{:?} {name}: {e}", target.kind));
                        }
                    }
                }
                failed
            });
        }
        let mut failures = Vec::new();
        while let Some(r) = runs.join_next().await {
            match r {
                Ok(f) => failures.extend(f),
                Err(e) => failures.push(format!("runner: {e}")),
            }
        }
        failures
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    match zk {
        Ok(zk) => drop(zk),
        Err(e) => println!("SKIP  ZooKeeper: every scenario ({e})"),
    }
    println!(
        "\n{} scenario runs failed, {:.1} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    for f in &failures {
        println!("  {f}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}
