//! The numbers ZooKeeper puts on the wire: op codes (`ZooDefs.OpCode`), error codes
//! (`KeeperException.Code`), watch event types and keeper states (`Watcher.Event`), create
//! modes (`CreateMode`), permissions (`ZooDefs.Perms`) and the reserved xids.

use crate::JuteError;

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $unknown:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The number ZooKeeper uses on the wire.
            pub const fn code(self) -> i32 {
                self as i32
            }

            /// The variant for a wire number, or a typed error for an unknown one.
            pub fn from_code(code: i32) -> Result<Self, JuteError> {
                match code {
                    $( $value => Ok($name::$variant), )+
                    other => Err(JuteError::$unknown(other)),
                }
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v as i32
            }
        }

        impl TryFrom<i32> for $name {
            type Error = JuteError;
            fn try_from(code: i32) -> Result<Self, JuteError> {
                Self::from_code(code)
            }
        }
    };
}

wire_enum! {
    /// Request types, as `ZooDefs.OpCode`.
    OpCode, UnknownOpCode {
        /// A watch notification (server to client only).
        Notification = 0,
        /// create
        Create = 1,
        /// delete
        Delete = 2,
        /// exists
        Exists = 3,
        /// getData
        GetData = 4,
        /// setData
        SetData = 5,
        /// getACL
        GetAcl = 6,
        /// setACL
        SetAcl = 7,
        /// getChildren
        GetChildren = 8,
        /// sync
        Sync = 9,
        /// ping
        Ping = 11,
        /// getChildren2 (children + Stat)
        GetChildren2 = 12,
        /// check (version check, inside multi)
        Check = 13,
        /// multi (transaction)
        Multi = 14,
        /// create2 (create returning the Stat)
        Create2 = 15,
        /// reconfig
        Reconfig = 16,
        /// checkWatches
        CheckWatches = 17,
        /// removeWatches
        RemoveWatches = 18,
        /// createContainer
        CreateContainer = 19,
        /// deleteContainer
        DeleteContainer = 20,
        /// createTTL
        CreateTtl = 21,
        /// multiRead
        MultiRead = 22,
        /// auth packet (addauth)
        Auth = 100,
        /// setWatches (re-registration after reconnect)
        SetWatches = 101,
        /// sasl
        Sasl = 102,
        /// getEphemerals
        GetEphemerals = 103,
        /// getAllChildrenNumber
        GetAllChildrenNumber = 104,
        /// setWatches2 (with persistent watches)
        SetWatches2 = 105,
        /// addWatch (persistent / persistent recursive)
        AddWatch = 106,
        /// whoAmI
        WhoAmI = 107,
        /// createSession (a txn type)
        CreateSession = -10,
        /// closeSession
        CloseSession = -11,
        /// error (a txn type, and the type of a failed op inside a multi result)
        Error = -1,
    }
}

wire_enum! {
    /// Error codes, as `KeeperException.Code`.
    ErrorCode, UnknownErrorCode {
        /// Everything is OK.
        Ok = 0,
        /// System and server-side errors.
        SystemError = -1,
        /// A runtime inconsistency was found.
        RuntimeInconsistency = -2,
        /// A data inconsistency was found.
        DataInconsistency = -3,
        /// Connection to the server has been lost.
        ConnectionLoss = -4,
        /// Error while marshalling or unmarshalling data.
        MarshallingError = -5,
        /// Operation is unimplemented.
        Unimplemented = -6,
        /// Operation timeout.
        OperationTimeout = -7,
        /// Invalid arguments.
        BadArguments = -8,
        /// No quorum of new config is connected and up-to-date with the leader.
        NewConfigNoQuorum = -13,
        /// Another reconfiguration is in progress.
        ReconfigInProgress = -14,
        /// Unknown session (internal server use only).
        UnknownSession = -12,
        /// API errors.
        ApiError = -100,
        /// Node does not exist.
        NoNode = -101,
        /// Not authenticated.
        NoAuth = -102,
        /// Version conflict.
        BadVersion = -103,
        /// Ephemeral nodes may not have children.
        NoChildrenForEphemerals = -108,
        /// The node already exists.
        NodeExists = -110,
        /// The node has children.
        NotEmpty = -111,
        /// The session has been expired by the server.
        SessionExpired = -112,
        /// Invalid callback specified.
        InvalidCallback = -113,
        /// Invalid ACL specified.
        InvalidAcl = -114,
        /// Client authentication failed.
        AuthFailed = -115,
        /// Session moved to another server.
        SessionMoved = -118,
        /// State-changing request passed to a read-only server.
        NotReadOnly = -119,
        /// Attempt to create an ephemeral node on a local session.
        EphemeralOnLocalSession = -120,
        /// Attempting to remove a watcher that does not exist.
        NoWatcher = -121,
        /// Request not completed within max allowed time.
        RequestTimeout = -122,
        /// Reconfiguration is disabled.
        ReconfigDisabled = -123,
        /// The session was closed and requires SASL authentication.
        SessionClosedRequireSaslAuth = -124,
        /// Exceeded the quota that was set on the path.
        QuotaExceeded = -125,
        /// The operation was throttled.
        Throttled = -127,
    }
}

impl ErrorCode {
    /// The message ZooKeeper's `KeeperException.getCodeMessage` gives for this code.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::SystemError => "SystemError",
            ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
            ErrorCode::DataInconsistency => "DataInconsistency",
            ErrorCode::ConnectionLoss => "ConnectionLoss",
            ErrorCode::MarshallingError => "MarshallingError",
            ErrorCode::Unimplemented => "Unimplemented",
            ErrorCode::OperationTimeout => "OperationTimeout",
            ErrorCode::BadArguments => "BadArguments",
            ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum",
            ErrorCode::ReconfigInProgress => "ReconfigInProgress",
            ErrorCode::UnknownSession => "Unknown session",
            ErrorCode::ApiError => "APIError",
            ErrorCode::NoNode => "NoNode",
            ErrorCode::NoAuth => "NoAuth",
            ErrorCode::BadVersion => "BadVersion",
            ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemerals",
            ErrorCode::NodeExists => "NodeExists",
            ErrorCode::NotEmpty => "Directory not empty",
            ErrorCode::SessionExpired => "Session expired",
            ErrorCode::InvalidCallback => "Invalid callback",
            ErrorCode::InvalidAcl => "InvalidACL",
            ErrorCode::AuthFailed => "AuthFailed",
            ErrorCode::SessionMoved => "Session moved",
            ErrorCode::NotReadOnly => "Not a read-only call",
            ErrorCode::EphemeralOnLocalSession => "Ephemeral node on local session",
            ErrorCode::NoWatcher => "No such watcher",
            ErrorCode::RequestTimeout => "Request timeout",
            ErrorCode::ReconfigDisabled => "Reconfig is disabled",
            ErrorCode::SessionClosedRequireSaslAuth => {
                "Session closed because client failed to authenticate"
            }
            ErrorCode::QuotaExceeded => "Quota has exceeded",
            ErrorCode::Throttled => "Op throttled due to high load",
        }
    }
}

wire_enum! {
    /// Watch event types, as `Watcher.Event.EventType`.
    EventType, UnknownEventType {
        /// A connection state change, not a node event.
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's children changed.
        NodeChildrenChanged = 4,
        /// A data watch was removed.
        DataWatchRemoved = 5,
        /// A child watch was removed.
        ChildWatchRemoved = 6,
        /// A persistent watch was removed.
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// Connection states, as `Watcher.Event.KeeperState`.
    KeeperState, UnknownKeeperState {
        /// Disconnected from the ensemble.
        Disconnected = 0,
        /// Connected.
        SyncConnected = 3,
        /// Authentication failed.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authenticated.
        SaslAuthenticated = 6,
        /// The session expired.
        Expired = -112,
        /// The client closed the session.
        Closed = 7,
    }
}

wire_enum! {
    /// Node creation modes, as `CreateMode` (the `flags` of a create request).
    CreateMode, UnknownCreateMode {
        /// Persistent.
        Persistent = 0,
        /// Ephemeral: deleted when the session ends.
        Ephemeral = 1,
        /// Persistent with a 10-digit sequence suffix.
        PersistentSequential = 2,
        /// Ephemeral with a 10-digit sequence suffix.
        EphemeralSequential = 3,
        /// Container: deleted once it had children and has none left.
        Container = 4,
        /// Persistent with a time to live.
        PersistentWithTtl = 5,
        /// Persistent sequential with a time to live.
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    /// Whether the node is deleted when its owning session ends.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }
    /// Whether a sequence suffix is appended to the path.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }
    /// Whether this is a container node.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }
    /// Whether the node carries a TTL.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

wire_enum! {
    /// Watcher types of removeWatches / checkWatches, as `Watcher.WatcherType`.
    WatcherType, UnknownWatcherType {
        /// Child watches.
        Children = 1,
        /// Data (and exist) watches.
        Data = 2,
        /// Persistent watches.
        Persistent = 4,
        /// Persistent recursive watches.
        PersistentRecursive = 5,
        /// Any kind.
        Any = 3,
    }
}

wire_enum! {
    /// Modes of addWatch, as `AddWatchMode`.
    AddWatchMode, UnknownAddWatchMode {
        /// A persistent watch on one node.
        Persistent = 0,
        /// A persistent watch on a node and all its descendants.
        PersistentRecursive = 1,
    }
}

/// Permission bits, as `ZooDefs.Perms`.
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 1 << 1;
    /// Create children.
    pub const CREATE: i32 = 1 << 2;
    /// Delete children.
    pub const DELETE: i32 = 1 << 3;
    /// Set the ACL.
    pub const ADMIN: i32 = 1 << 4;
    /// Everything.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// Reserved xids, as used by `ClientCnxn`.
pub mod xid {
    /// A watch notification from the server.
    pub const NOTIFICATION: i32 = -1;
    /// A ping and its reply.
    pub const PING: i32 = -2;
    /// An auth packet and its reply.
    pub const AUTH: i32 = -4;
    /// A setWatches request and its reply.
    pub const SET_WATCHES: i32 = -8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_is_an_error() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::from_code(op.code()).ok(), Some(*op));
        }
        assert!(matches!(
            OpCode::from_code(10),
            Err(JuteError::UnknownOpCode(10))
        ));
        assert_eq!(ErrorCode::from_code(-101).ok(), Some(ErrorCode::NoNode));
        assert!(ErrorCode::from_code(-9999).is_err());
    }
}
