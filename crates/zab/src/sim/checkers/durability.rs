//! A committed zxid is never lost, changed or reordered.
//!
//! ZAB paper, section III: delivery follows zxid order on every process, and
//! a transaction once delivered stays delivered (the paper's Agreement across
//! recoveries; ZooKeeper's guarantee that a committed write survives any
//! minority of failures). Checked three ways: each server delivers in
//! strictly increasing zxid order; a server that restarts or installs a SNAP
//! comes back with a prefix of the committed sequence; at the end of the
//! liveness phase every server holds the whole sequence.

use bytes::Bytes;

use super::{violation, Violation};
use crate::{PeerId, Zxid};

#[derive(Debug, Default)]
pub struct Durability;

impl Durability {
    pub fn delivered(
        &mut self,
        id: PeerId,
        state: &[(Zxid, Bytes)],
        zxid: Zxid,
    ) -> Result<(), Violation> {
        match state.last() {
            Some((last, _)) if *last >= zxid => violation(
                "durability",
                format!("server {id} delivered {zxid:?} after {last:?} (reordered or repeated)"),
            ),
            _ => Ok(()),
        }
    }

    pub fn recovered(
        &mut self,
        id: PeerId,
        state: &[(Zxid, Bytes)],
        global: &[(Zxid, Bytes)],
    ) -> Result<(), Violation> {
        let base = state.len().min(global.len());
        if state.len() > global.len() || state[..base] != global[..base] {
            return violation(
                "durability",
                format!(
                    "server {id} recovered {} entries that are not a prefix of the {} committed",
                    state.len(),
                    global.len()
                ),
            );
        }
        Ok(())
    }

    pub fn complete(
        &self,
        id: PeerId,
        state: &[(Zxid, Bytes)],
        global: &[(Zxid, Bytes)],
    ) -> Result<(), Violation> {
        if state != global {
            return violation(
                "durability",
                format!(
                    "server {id} ends with {} entries, {} were committed",
                    state.len(),
                    global.len()
                ),
            );
        }
        Ok(())
    }
}
