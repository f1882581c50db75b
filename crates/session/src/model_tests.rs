//! Property tests: random operation sequences against a simple model of ZooKeeper's expiry.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::{SessionConfig, SessionError, SessionId, SessionTable};

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    /// Jump to the next bucket time, or one ms before it.
    AdvanceToNextExpiry(bool),
    Create(u32),
    Touch(usize),
    Revalidate(usize, bool),
    MarkClosing(usize),
    Close(usize),
    InsertExisting(usize, u32),
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..6_000).prop_map(Op::Advance),
        2 => any::<bool>().prop_map(Op::AdvanceToNextExpiry),
        2 => (0u32..50_000).prop_map(Op::Create),
        3 => any::<usize>().prop_map(Op::Touch),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(i, ok)| Op::Revalidate(i, ok)),
        1 => any::<usize>().prop_map(Op::MarkClosing),
        1 => any::<usize>().prop_map(Op::Close),
        1 => (any::<usize>(), 0u32..50_000).prop_map(|(i, t)| Op::InsertExisting(i, t)),
        3 => Just(Op::Expire),
    ]
}

#[derive(Debug)]
struct Model {
    timeout: u32,
    /// Bucket from the last touch; `None` once closing.
    deadline: Option<u64>,
}

fn deadline(now: u64, timeout: u32, tick: u32) -> u64 {
    let t = now + u64::from(timeout);
    (t / u64::from(tick) + 1) * u64::from(tick)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn table_matches_model(
        tick in 1u32..3_000,
        server_id in 0u8..=254,
        start in 0u64..(1 << 45),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let config = SessionConfig { tick_time_ms: tick, ..SessionConfig::default() };
        let mut table = SessionTable::new(config, server_id, start).unwrap();
        let mut now = start;
        let mut model: BTreeMap<SessionId, Model> = BTreeMap::new();
        // Every id ever handed out, plus one that never exists; ops index into it.
        let mut known: Vec<SessionId> = vec![SessionId::from_u64(0x7777)];
        // Sessions expired since they were last added.
        let mut expired: BTreeSet<SessionId> = BTreeSet::new();
        let mut last_created: Option<SessionId> = None;

        for op in ops {
            let pick = |i: usize| known[i % known.len()];
            match op {
                Op::Advance(d) => now += d,
                Op::AdvanceToNextExpiry(early) => {
                    if let Some(next) = table.next_expiry_ms() {
                        now = now.max(next - u64::from(early));
                    }
                }
                Op::Create(timeout) => {
                    let s = table.create(timeout, now);
                    let id = s.id();
                    prop_assert!(!known.contains(&id), "id reused: {}", id);
                    prop_assert!(!id.is_reserved());
                    prop_assert_eq!(id.server_id(), server_id);
                    if let Some(prev) = last_created {
                        prop_assert!(id.0 > prev.0, "ids must increase");
                    }
                    last_created = Some(id);
                    prop_assert_eq!(s.password(), &table.password_for(id));
                    known.push(id);
                    model.insert(id, Model { timeout, deadline: Some(deadline(now, timeout, tick)) });
                }
                Op::Touch(i) => {
                    let id = pick(i);
                    let open = match model.get_mut(&id) {
                        Some(m) if m.deadline.is_some() => {
                            m.deadline = Some(deadline(now, m.timeout, tick));
                            true
                        }
                        _ => false,
                    };
                    prop_assert_eq!(table.touch(id, now), open);
                }
                Op::Revalidate(i, good) => {
                    let id = pick(i);
                    let mut pw = *table.password_for(id).as_bytes();
                    if !good {
                        pw[3] ^= 0x40;
                    }
                    let got = table.revalidate(id, &pw, now);
                    let want = match model.get_mut(&id) {
                        _ if !good => Err(SessionError::BadPassword(id)),
                        None => Err(SessionError::UnknownSession(id)),
                        Some(m) if m.deadline.is_none() => Err(SessionError::Expired(id)),
                        Some(m) => {
                            m.deadline = Some(deadline(now, m.timeout, tick));
                            Ok(m.timeout)
                        }
                    };
                    prop_assert_eq!(got, want);
                }
                Op::MarkClosing(i) => {
                    let id = pick(i);
                    let was_open = model.get_mut(&id).and_then(|m| m.deadline.take()).is_some();
                    prop_assert_eq!(table.mark_closing(id), was_open);
                }
                Op::Close(i) => {
                    let id = pick(i);
                    let want = model.remove(&id).map(|m| m.timeout);
                    // Only a closed (then re-inserted) session may expire again.
                    expired.remove(&id);
                    prop_assert_eq!(table.close(id).map(|s| s.timeout_ms()), want);
                }
                Op::InsertExisting(i, timeout) => {
                    let id = pick(i);
                    let added = match model.get_mut(&id) {
                        None => {
                            model.insert(id, Model { timeout, deadline: Some(deadline(now, timeout, tick)) });
                            true
                        }
                        Some(m) => {
                            if m.deadline.is_some() {
                                m.deadline = Some(deadline(now, m.timeout, tick));
                            }
                            false
                        }
                    };
                    prop_assert_eq!(table.insert_existing(id, timeout, now), added);
                }
                Op::Expire => {
                    let mut due: Vec<(u64, SessionId)> = model
                        .iter()
                        .filter_map(|(id, m)| m.deadline.filter(|d| *d <= now).map(|d| (d, *id)))
                        .collect();
                    due.sort();
                    for (_, id) in &due {
                        if let Some(m) = model.get_mut(id) {
                            m.deadline = None;
                        }
                    }
                    let want: Vec<SessionId> = due.into_iter().map(|(_, id)| id).collect();
                    let got = table.expire(now);
                    prop_assert_eq!(&got, &want);
                    for id in got {
                        prop_assert!(expired.insert(id), "{} expired twice", id);
                    }
                }
            }

            // Invariants after every step.
            prop_assert_eq!(table.len(), model.len());
            let ids: Vec<SessionId> = table.iter().map(|s| s.id()).collect();
            let model_ids: Vec<SessionId> = model.keys().copied().collect();
            prop_assert_eq!(ids, model_ids);
            for (id, m) in &model {
                let s = table.get(*id).unwrap();
                prop_assert_eq!(s.expires_at_ms(), m.deadline);
                prop_assert_eq!(s.timeout_ms(), m.timeout);
                prop_assert_eq!(s.is_closing(), m.deadline.is_none());
            }
            let next = model.values().filter_map(|m| m.deadline).min();
            prop_assert_eq!(table.next_expiry_ms(), next);
        }
    }

    #[test]
    fn expiry_is_exactly_at_rounded_deadline(
        tick in 1u32..5_000,
        timeout in 0u32..100_000,
        touch_at in 0u64..(1 << 40),
    ) {
        let config = SessionConfig { tick_time_ms: tick, ..SessionConfig::default() };
        let mut table = SessionTable::new(config, 1, 0).unwrap();
        let id = table.create(timeout, touch_at).id();
        let due = table.get(id).unwrap().expires_at_ms().unwrap();
        // Rounded strictly up, by at most one tick.
        let raw = touch_at + u64::from(timeout);
        prop_assert!(due > raw && due - raw <= u64::from(tick));
        prop_assert_eq!(due % u64::from(tick), 0);
        prop_assert!(table.expire(due - 1).is_empty());
        prop_assert_eq!(table.expire(due), vec![id]);
        prop_assert!(table.expire(u64::MAX).is_empty());
    }
}
