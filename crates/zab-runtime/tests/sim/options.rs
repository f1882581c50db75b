//! What a run looks like (drawn from its seed) and what it exercised.

use corral_zab::sim::rng::Rng;
use corral_zab::Faults;
use corral_zab_runtime::RuntimeFaults;

/// What a run looks like, drawn from its seed.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) seed: u64,
    pub(crate) voters: usize,
    pub(crate) observers: usize,
    pub(crate) chaos_steps: u64,
    pub(crate) diff_window: usize,
    pub(crate) max_diff: usize,
    pub(crate) engine_faults: Faults,
    pub(crate) runtime_faults: RuntimeFaults,
    pub(crate) epoch_before_log: bool,
    pub(crate) disabled: Vec<String>,
    /// The draws the runtime simulator had when it found the SNAP below the shared
    /// history: initLimit 12 ticks, a slower disk writer.
    pub(crate) tight: bool,
    /// The state machines apply behind the log (the runtime's deferred apply), a few
    /// entries at a time, interleaved with everything else.
    pub(crate) async_apply: bool,
    /// A leader waiting for its epoch's quorum longer than this many ticks quits when a
    /// voter that voted for it is LOOKING again (ZooKeeper's maxTimeToWaitForEpoch).
    pub(crate) max_wait_for_epoch: Option<u64>,
}

impl Options {
    pub(crate) fn from_seed(seed: u64) -> Options {
        let mut r = Rng::new(seed ^ 0xC0DE_0000_5EED_0001);
        Options {
            seed,
            voters: [3, 3, 5][r.below(3) as usize],
            observers: r.below(2) as usize,
            chaos_steps: r.range(600, 1500),
            diff_window: r.range(2, 40) as usize,
            max_diff: if r.chance(0.5) {
                r.range(1, 100) as usize
            } else {
                100_000
            },
            engine_faults: Faults::default(),
            runtime_faults: RuntimeFaults::default(),
            epoch_before_log: false,
            tight: false,
            disabled: Vec::new(),
            async_apply: r.chance(0.5),
            // Drawn last: the draws before it stay what they were for every seed.
            max_wait_for_epoch: r.chance(0.25).then(|| r.range(1, 12)),
        }
    }
}

/// What the runs exercised.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) committed: usize,
    pub(crate) crashes: u64,
    pub(crate) diffs: u64,
    pub(crate) truncs: u64,
    pub(crate) snaps: u64,
    pub(crate) snap_chunks: u64,
    pub(crate) answered: u64,
    /// Runs whose state machines applied behind the log.
    pub(crate) async_runs: u64,
    /// The most committed entries a state machine had waiting at once.
    pub(crate) max_backlog: usize,
}

impl Summary {
    pub(crate) fn add(&mut self, o: &Summary) {
        self.committed += o.committed;
        self.crashes += o.crashes;
        self.diffs += o.diffs;
        self.truncs += o.truncs;
        self.snaps += o.snaps;
        self.snap_chunks += o.snap_chunks;
        self.answered += o.answered;
        self.async_runs += o.async_runs;
        self.max_backlog = self.max_backlog.max(o.max_backlog);
    }
}
