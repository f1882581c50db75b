//! Committed prefixes agree.
//!
//! ZAB paper, section III, Agreement and Total order: if two processes
//! deliver, every transaction the one delivers at some position, the other
//! delivers at the same position. The checker keeps the one global committed
//! sequence; every delivery must land on it, or extend it.

use bytes::Bytes;

use super::{violation, Violation};
use crate::{PeerId, Zxid};

#[derive(Debug, Default)]
pub struct Agreement {
    global: Vec<(Zxid, Bytes)>,
}

impl Agreement {
    /// Server `id` delivered at `position`. Returns true when this extended
    /// the global sequence.
    pub fn delivered(
        &mut self,
        id: PeerId,
        position: usize,
        zxid: Zxid,
        payload: &Bytes,
    ) -> Result<bool, Violation> {
        if let Some((z, p)) = self.global.get(position) {
            if *z != zxid || p != payload {
                return violation(
                    "agreement",
                    format!("server {id} delivered {zxid:?} at position {position}, where others delivered {z:?}"),
                )
                .map(|_| false);
            }
            return Ok(false);
        }
        if position != self.global.len() {
            return violation(
                "agreement",
                format!("server {id} delivered past a hole at {position}"),
            )
            .map(|_| false);
        }
        self.global.push((zxid, payload.clone()));
        Ok(true)
    }

    pub fn global(&self) -> &[(Zxid, Bytes)] {
        &self.global
    }
}
