//! The session table and its tick-bucketed expiry queue.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Password, SessionConfig, SessionError, SessionId};

/// One session as the table knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    id: SessionId,
    timeout_ms: u32,
    password: Password,
    /// The bucket the session sits in; `None` once it is closing.
    expires_at_ms: Option<u64>,
    /// The server the session's client is connected through, as an ensemble's leader knows
    /// it (ZooKeeper's session owner); `None` until claimed.
    owner: Option<u64>,
}

impl Session {
    /// The session id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The negotiated timeout, ms.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// The password to send in the ConnectResponse.
    pub fn password(&self) -> &Password {
        &self.password
    }

    /// When the session expires unless touched again: its bucket time, always a multiple of
    /// tickTime. `None` once the session is closing.
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.expires_at_ms
    }

    /// Whether the session is closing: expired by [`SessionTable::expire`] or marked by
    /// [`SessionTable::mark_closing`], and waiting for its closeSession txn.
    pub fn is_closing(&self) -> bool {
        self.expires_at_ms.is_none()
    }

    /// The server the session's client is connected through (an ensemble's leader tracks
    /// it), if known.
    pub fn owner(&self) -> Option<u64> {
        self.owner
    }
}

/// ZooKeeper's `ExpiryQueue.roundToNextInterval`: the first multiple of `interval_ms` strictly
/// after `time_ms`. Saturates instead of overflowing.
fn round_to_next_interval(time_ms: u64, interval_ms: u64) -> u64 {
    (time_ms / interval_ms)
        .saturating_add(1)
        .saturating_mul(interval_ms)
}

/// All sessions of one server, with ZooKeeper's expiry semantics
/// (`SessionTrackerImpl` + `ExpiryQueue`). See the [crate docs](crate) for the flow.
///
/// Time is whatever millisecond clock the caller passes in; it must not go backwards
/// (ZooKeeper uses a monotonic clock).
#[derive(Debug, Clone)]
pub struct SessionTable {
    config: SessionConfig,
    server_id: u8,
    next_id: SessionId,
    sessions: BTreeMap<SessionId, Session>,
    /// Bucket time → sessions due then. Empty buckets are removed at once.
    buckets: BTreeMap<u64, BTreeSet<SessionId>>,
}

impl SessionTable {
    /// An empty table for server `server_id` (`myid`; a standalone ZooKeeper uses 1,
    /// its createSessionTrackerServerId).
    ///
    /// `now_ms` only seeds session ids (see [`SessionId::initial`]). ZooKeeper uses its
    /// monotonic clock here; passing wall-clock milliseconds instead makes it less likely that
    /// a restarted server reuses ids of sessions that are still alive elsewhere.
    ///
    /// Fails if the config is invalid ([`SessionConfig::validate`]) or the server id is 255.
    pub fn new(
        config: SessionConfig,
        server_id: u8,
        now_ms: u64,
    ) -> Result<SessionTable, SessionError> {
        config.validate()?;
        if server_id == 0xff {
            return Err(SessionError::ReservedServerId(server_id));
        }
        Ok(SessionTable {
            config,
            server_id,
            next_id: SessionId::initial(server_id, now_ms),
            sessions: BTreeMap::new(),
            buckets: BTreeMap::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The server id given to [`new`](SessionTable::new).
    pub fn server_id(&self) -> u8 {
        self.server_id
    }

    /// The password ZooKeeper derives for `id` under this table's secret, whether or not the
    /// session exists.
    pub fn password_for(&self, id: SessionId) -> Password {
        Password::derive(id, self.config.password_secret)
    }

    /// Starts a new session with `timeout_ms` (already negotiated, see
    /// [`SessionConfig::negotiate`]) and returns it. The id is the next one in sequence,
    /// skipping [reserved](SessionId::is_reserved) values and ids already in the table.
    pub fn create(&mut self, timeout_ms: u32, now_ms: u64) -> Session {
        let id = loop {
            let candidate = self.next_id;
            self.next_id = SessionId(candidate.0.wrapping_add(1));
            if !candidate.is_reserved() && !self.sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        self.add(id, timeout_ms, now_ms)
    }

    /// Tracks a session that already exists elsewhere: restored from a snapshot after a
    /// restart, or replayed from a createSession txn. The password is derived from the id.
    ///
    /// A new entry starts a full timeout from `now_ms` (as ZooKeeper does for restored
    /// sessions) and returns `true`. If the id is already tracked, this is a
    /// [`touch`](SessionTable::touch) (keeping the stored timeout) and returns `false`.
    pub fn insert_existing(&mut self, id: SessionId, timeout_ms: u32, now_ms: u64) -> bool {
        if self.sessions.contains_key(&id) {
            self.touch(id, now_ms);
            return false;
        }
        self.add(id, timeout_ms, now_ms);
        true
    }

    /// Adds a session that is not in the table yet.
    fn add(&mut self, id: SessionId, timeout_ms: u32, now_ms: u64) -> Session {
        let bucket = self.bucket_for(timeout_ms, now_ms);
        let session = Session {
            id,
            timeout_ms,
            password: self.password_for(id),
            expires_at_ms: Some(bucket),
            owner: None,
        };
        self.buckets.entry(bucket).or_default().insert(id);
        self.sessions.insert(id, session.clone());
        session
    }

    /// Checks a reconnect (a ConnectRequest with a non-zero session id) and, if it is good,
    /// touches the session and returns its timeout.
    ///
    /// Checked in ZooKeeper's order: the password first (it is derived from the id, so this
    /// needs no entry), then that the session exists, then that it is not closing. On the wire
    /// every error gets the same answer; see the crate docs.
    pub fn revalidate(
        &mut self,
        id: SessionId,
        password: &[u8],
        now_ms: u64,
    ) -> Result<u32, SessionError> {
        if !self.password_for(id).matches(password) {
            return Err(SessionError::BadPassword(id));
        }
        let timeout_ms = self.check(id)?.timeout_ms;
        self.reschedule(id, timeout_ms, now_ms);
        Ok(timeout_ms)
    }

    /// Records activity (a ping or any request): the session's deadline becomes its timeout
    /// after `now_ms`, rounded up to the next tick. Returns `false`, changing nothing, if the
    /// session is unknown or closing (ZooKeeper then drops the request).
    pub fn touch(&mut self, id: SessionId, now_ms: u64) -> bool {
        match self.check(id) {
            Ok(session) => {
                let timeout_ms = session.timeout_ms;
                self.reschedule(id, timeout_ms, now_ms);
                true
            }
            Err(_) => false,
        }
    }

    /// ZooKeeper's `checkSession` (without the owner check): the session if it may be used,
    /// [`UnknownSession`](SessionError::UnknownSession) if absent,
    /// [`Expired`](SessionError::Expired) if closing.
    pub fn check(&self, id: SessionId) -> Result<&Session, SessionError> {
        match self.sessions.get(&id) {
            None => Err(SessionError::UnknownSession(id)),
            Some(s) if s.is_closing() => Err(SessionError::Expired(id)),
            Some(s) => Ok(s),
        }
    }

    /// The session's client is connected through server `owner` from now on (ZooKeeper's
    /// `setOwner`: a session created or revalidated through that server). Returns `false`
    /// if the session is unknown.
    pub fn set_owner(&mut self, id: SessionId, owner: u64) -> bool {
        match self.sessions.get_mut(&id) {
            Some(session) => {
                session.owner = Some(owner);
                true
            }
            None => false,
        }
    }

    /// ZooKeeper's `checkSession` with the owner: a request of session `id` arrived through
    /// server `owner`. [`UnknownSession`](SessionError::UnknownSession) /
    /// [`Expired`](SessionError::Expired) as [`SessionTable::check`];
    /// [`Moved`](SessionError::Moved) if the session is another server's now (its client
    /// moved and this request is a stale one from the old connection). A session with no
    /// owner yet (tracked again by a new leader) is claimed by `owner`.
    pub fn check_owner(&mut self, id: SessionId, owner: u64) -> Result<(), SessionError> {
        self.check(id)?;
        let Some(session) = self.sessions.get_mut(&id) else {
            return Err(SessionError::UnknownSession(id));
        };
        match session.owner {
            Some(current) if current != owner => Err(SessionError::Moved(id)),
            _ => {
                session.owner = Some(owner);
                Ok(())
            }
        }
    }

    /// Marks a session closing without removing it (ZooKeeper's `setSessionClosing`, done when
    /// a client's closeSession request is accepted). It leaves the expiry queue and can no
    /// longer be touched or revalidated. Returns `true` if it was open until now.
    pub fn mark_closing(&mut self, id: SessionId) -> bool {
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        let Some(bucket) = session.expires_at_ms.take() else {
            return false;
        };
        self.unbucket(id, bucket);
        true
    }

    /// Removes a session (its closeSession txn has been applied) and returns it.
    pub fn close(&mut self, id: SessionId) -> Option<Session> {
        let session = self.sessions.remove(&id)?;
        if let Some(bucket) = session.expires_at_ms {
            self.unbucket(id, bucket);
        }
        Some(session)
    }

    /// The session, open or closing.
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Whether the session is in the table, open or closing.
    pub fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Number of sessions, closing ones included.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// All sessions, closing ones included, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Session> + '_ {
        self.sessions.values()
    }

    /// Expires every session whose bucket time is `<= now_ms`: each is marked closing and
    /// stays in the table until [`close`](SessionTable::close). Returned in bucket order,
    /// then id order. A session is returned at most once.
    pub fn expire(&mut self, now_ms: u64) -> Vec<SessionId> {
        let mut due = Vec::new();
        while let Some(bucket) = self.buckets.first_entry() {
            if *bucket.key() > now_ms {
                break;
            }
            for id in bucket.remove() {
                if let Some(session) = self.sessions.get_mut(&id) {
                    session.expires_at_ms = None;
                    due.push(id);
                }
            }
        }
        due
    }

    /// When the next session is due: the earliest bucket time, if any session is open. Call
    /// [`expire`](SessionTable::expire) at (or after) that time.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.buckets.keys().next().copied()
    }

    /// Moves an open (or just-added) session into the bucket for `now_ms + timeout_ms`.
    fn reschedule(&mut self, id: SessionId, timeout_ms: u32, now_ms: u64) {
        let bucket = self.bucket_for(timeout_ms, now_ms);
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        let previous = session.expires_at_ms.replace(bucket);
        if previous == Some(bucket) {
            return;
        }
        if let Some(old) = previous {
            self.unbucket(id, old);
        }
        self.buckets.entry(bucket).or_default().insert(id);
    }

    /// The bucket of a session with `timeout_ms` touched at `now_ms`.
    fn bucket_for(&self, timeout_ms: u32, now_ms: u64) -> u64 {
        // tickTime is validated positive; `max(1)` only keeps this total.
        let interval = u64::from(self.config.tick_time_ms.max(1));
        round_to_next_interval(now_ms.saturating_add(u64::from(timeout_ms)), interval)
    }

    fn unbucket(&mut self, id: SessionId, bucket: u64) {
        if let Some(set) = self.buckets.get_mut(&bucket) {
            set.remove(&id);
            if set.is_empty() {
                self.buckets.remove(&bucket);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000; // a multiple of 2000

    fn table() -> SessionTable {
        SessionTable::new(SessionConfig::default(), 1, T0).unwrap()
    }

    #[test]
    fn rounding_is_strictly_up() {
        assert_eq!(round_to_next_interval(0, 2000), 2000);
        assert_eq!(round_to_next_interval(1, 2000), 2000);
        assert_eq!(round_to_next_interval(1999, 2000), 2000);
        // An exact multiple still goes to the next one, as in ZooKeeper.
        assert_eq!(round_to_next_interval(2000, 2000), 4000);
        assert_eq!(round_to_next_interval(2001, 2000), 4000);
        assert_eq!(round_to_next_interval(u64::MAX, 2000), u64::MAX);
    }

    #[test]
    fn new_rejects_bad_input() {
        let bad = SessionConfig {
            tick_time_ms: 0,
            ..SessionConfig::default()
        };
        assert_eq!(
            SessionTable::new(bad, 1, T0).unwrap_err(),
            SessionError::ZeroTickTime
        );
        assert_eq!(
            SessionTable::new(SessionConfig::default(), 255, T0).unwrap_err(),
            SessionError::ReservedServerId(255)
        );
        assert!(SessionTable::new(SessionConfig::default(), 254, T0).is_ok());
    }

    #[test]
    fn ids_are_sequential_and_carry_server_id() {
        let mut t = SessionTable::new(SessionConfig::default(), 3, 123_456_789).unwrap();
        let a = t.create(10_000, 0).id();
        let b = t.create(10_000, 0).id();
        let c = t.create(10_000, 0).id();
        assert_eq!(a.as_u64(), 0x0300_075b_cd15_0000);
        assert_eq!(b.0, a.0 + 1);
        assert_eq!(c.0, b.0 + 1);
        assert!([a, b, c].iter().all(|id| id.server_id() == 3));
    }

    #[test]
    fn ids_skip_reserved_and_existing() {
        // Standalone server at clock 0 would start at id 0, which means "new session".
        let mut t = SessionTable::new(SessionConfig::default(), 0, 0).unwrap();
        assert_eq!(t.create(4000, 0).id(), SessionId(1));
        // An id restored from elsewhere is not handed out again.
        assert!(t.insert_existing(SessionId(2), 4000, 0));
        assert_eq!(t.create(4000, 0).id(), SessionId(3));
        // Server 127 running into the container owner skips it.
        let mut t = SessionTable::new(SessionConfig::default(), 127, (1 << 40) - 1).unwrap();
        t.next_id = SessionId(i64::MAX);
        assert_eq!(t.create(4000, 0).id(), SessionId(i64::MAX));
        assert_eq!(t.create(4000, 0).id().as_u64(), 0x8000_0000_0000_0001);
    }

    #[test]
    fn create_gives_password_and_bucket() {
        let mut t = table();
        let s = t.create(5000, T0 + 100);
        assert_eq!(s.timeout_ms(), 5000);
        assert_eq!(s.password(), &Password::derive(s.id(), 0xB341_5C00));
        assert_eq!(s.password(), &t.password_for(s.id()));
        assert_eq!(s.expires_at_ms(), Some(T0 + 6000));
        assert!(!s.is_closing());
        assert_eq!(t.get(s.id()), Some(&s));
        assert_eq!(t.len(), 1);
        assert!(!t.is_empty());
        assert_eq!(t.next_expiry_ms(), Some(T0 + 6000));
    }

    #[test]
    fn touch_moves_session_later() {
        let mut t = table();
        let id = t.create(4000, T0).id();
        assert_eq!(t.get(id).unwrap().expires_at_ms(), Some(T0 + 6000));
        // Within the same tick: same bucket.
        assert!(t.touch(id, T0 + 1999));
        assert_eq!(t.get(id).unwrap().expires_at_ms(), Some(T0 + 6000));
        assert!(t.touch(id, T0 + 2000));
        assert_eq!(t.get(id).unwrap().expires_at_ms(), Some(T0 + 8000));
        assert_eq!(t.next_expiry_ms(), Some(T0 + 8000));
        assert_eq!(t.buckets.len(), 1, "old bucket dropped");
        assert!(t.expire(T0 + 7999).is_empty());
        assert_eq!(t.expire(T0 + 8000), vec![id]);
    }

    #[test]
    fn expire_returns_exactly_due_sessions_in_order() {
        let mut t = table();
        let a = t.create(4000, T0).id(); // due T0+6000
        let b = t.create(10_000, T0).id(); // due T0+12000
        let c = t.create(4000, T0 + 500).id(); // due T0+6000
        let d = t.create(2000, T0 + 2500).id(); // due T0+6000
        let e = t.create(3000, T0).id(); // due T0+4000
        assert!(t.expire(T0 + 3999).is_empty());
        assert_eq!(t.next_expiry_ms(), Some(T0 + 4000));
        assert_eq!(t.expire(T0 + 6500), vec![e, a, c, d]);
        assert_eq!(t.next_expiry_ms(), Some(T0 + 12_000));
        for id in [a, c, d, e] {
            let s = t.get(id).unwrap();
            assert!(s.is_closing());
            assert_eq!(s.expires_at_ms(), None);
        }
        assert!(!t.get(b).unwrap().is_closing());
        // Never twice.
        assert_eq!(t.expire(T0 + 100_000), vec![b]);
        assert!(t.expire(T0 + 200_000).is_empty());
        assert_eq!(t.next_expiry_ms(), None);
        assert_eq!(t.len(), 5, "expired sessions stay until closed");
    }

    #[test]
    fn closing_sessions_are_frozen() {
        let mut t = table();
        let s = t.create(4000, T0);
        let id = s.id();
        assert_eq!(t.expire(T0 + 6000), vec![id]);
        assert!(!t.touch(id, T0 + 6001));
        assert_eq!(
            t.revalidate(id, s.password().as_bytes(), T0 + 6001),
            Err(SessionError::Expired(id))
        );
        assert_eq!(t.check(id), Err(SessionError::Expired(id)));
        assert!(!t.mark_closing(id));
        // insert_existing does not resurrect it either.
        assert!(!t.insert_existing(id, 4000, T0 + 6001));
        assert!(t.get(id).unwrap().is_closing());
        assert!(t.expire(T0 + 100_000).is_empty());
        let closed = t.close(id).unwrap();
        assert_eq!(closed.id(), id);
        assert!(t.is_empty());
        assert_eq!(t.close(id), None);
        assert_eq!(t.check(id), Err(SessionError::UnknownSession(id)));
    }

    #[test]
    fn mark_closing_leaves_queue() {
        let mut t = table();
        let a = t.create(4000, T0).id();
        let b = t.create(4000, T0).id();
        assert!(t.mark_closing(a));
        assert!(!t.touch(a, T0 + 1));
        assert_eq!(t.expire(T0 + 10_000), vec![b]);
        assert!(!t.mark_closing(SessionId(42)));
    }

    #[test]
    fn revalidate_distinguishes_failures() {
        let mut t = table();
        let s = t.create(4000, T0);
        let id = s.id();
        let pw = *s.password().as_bytes();
        assert_eq!(t.revalidate(id, &pw, T0 + 3000), Ok(4000));
        assert_eq!(t.get(id).unwrap().expires_at_ms(), Some(T0 + 8000));
        let mut wrong = pw;
        wrong[0] ^= 1;
        assert_eq!(
            t.revalidate(id, &wrong, T0 + 3000),
            Err(SessionError::BadPassword(id))
        );
        assert_eq!(
            t.revalidate(id, &pw[..15], T0),
            Err(SessionError::BadPassword(id))
        );
        assert_eq!(
            t.revalidate(id, &[0; 16], T0),
            Err(SessionError::BadPassword(id))
        );
        let unknown = SessionId(id.0 + 100);
        let unknown_pw = *t.password_for(unknown).as_bytes();
        assert_eq!(
            t.revalidate(unknown, &unknown_pw, T0),
            Err(SessionError::UnknownSession(unknown))
        );
        // Password is checked first, as ZooKeeper does.
        assert_eq!(
            t.revalidate(unknown, &pw, T0),
            Err(SessionError::BadPassword(unknown))
        );
        t.close(id);
        assert_eq!(
            t.revalidate(id, &pw, T0),
            Err(SessionError::UnknownSession(id))
        );
    }

    #[test]
    fn touch_unknown_is_false() {
        let mut t = table();
        assert!(!t.touch(SessionId(7), T0));
        assert!(t.is_empty());
    }

    #[test]
    fn insert_existing_restores_and_touches() {
        let mut t = table();
        let id = SessionId::from_u64(0x0100_0000_1234_0000);
        assert!(t.insert_existing(id, 6000, T0 + 10));
        let s = t.get(id).unwrap();
        assert_eq!(s.timeout_ms(), 6000);
        assert_eq!(s.expires_at_ms(), Some(T0 + 8000));
        assert_eq!(s.password(), &t.password_for(id));
        // Again later: a touch with the stored timeout.
        assert!(!t.insert_existing(id, 99_000, T0 + 4000));
        let s = t.get(id).unwrap();
        assert_eq!(s.timeout_ms(), 6000);
        assert_eq!(s.expires_at_ms(), Some(T0 + 12_000));
    }

    #[test]
    fn iter_is_in_id_order() {
        let mut t = table();
        let ids: Vec<_> = (0..5).map(|i| t.create(4000 + i * 1000, T0).id()).collect();
        t.insert_existing(SessionId(5), 4000, T0);
        t.insert_existing(SessionId(-5), 4000, T0);
        let seen: Vec<_> = t.iter().map(Session::id).collect();
        let mut want = ids;
        want.extend([SessionId(5), SessionId(-5)]);
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn custom_secret_and_tick() {
        let config = SessionConfig {
            tick_time_ms: 500,
            password_secret: 0,
            ..SessionConfig::default()
        };
        let mut t = SessionTable::new(config, 0, 1000).unwrap();
        let s = t.create(1000, 1000);
        assert_eq!(s.password(), &Password::derive(s.id(), 0));
        assert_eq!(s.expires_at_ms(), Some(2500));
        assert_eq!(t.config().tick_time_ms, 500);
        assert_eq!(t.server_id(), 0);
    }

    #[test]
    fn debug_never_shows_password() {
        let mut t = table();
        let s = t.create(4000, T0);
        let shown = format!("{t:?} {s:?}");
        assert!(shown.contains("redacted"));
        let bytes = format!("{:?}", s.password().as_bytes());
        assert!(!shown.contains(&bytes[1..bytes.len() - 1]), "{shown}");
    }

    #[test]
    fn a_request_through_a_server_the_session_left_is_moved() {
        let mut t = table();
        let s = t.create(4000, T0).id();
        // No owner yet (a new leader's tracker): the first server claims it.
        assert_eq!(t.check_owner(s, 2), Ok(()));
        assert_eq!(t.get(s).and_then(Session::owner), Some(2));
        assert_eq!(t.check_owner(s, 2), Ok(()));
        // The client moved to server 3 (revalidated there).
        assert!(t.set_owner(s, 3));
        assert_eq!(t.check_owner(s, 2), Err(SessionError::Moved(s)));
        assert_eq!(t.check_owner(s, 3), Ok(()));
        // Liveness is checked first.
        assert!(t.mark_closing(s));
        assert_eq!(t.check_owner(s, 3), Err(SessionError::Expired(s)));
        let unknown = SessionId(s.0 + 1);
        assert_eq!(
            t.check_owner(unknown, 3),
            Err(SessionError::UnknownSession(unknown))
        );
        assert!(!t.set_owner(unknown, 3));
    }
}
