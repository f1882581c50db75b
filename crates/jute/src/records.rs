//! The records of zookeeper.jute that the client protocol uses, field by field in its order.
//! Field names follow Rust conventions; the jute names are given where they differ.

use bytes::{Bytes, BytesMut};

use crate::io::{Jute, Reader, Secret};
use crate::JuteError;

/// Declares a record struct whose jute encoding is its fields in order.
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl Jute for $name {
            const MIN_ENCODED_LEN: usize = 0 $( + <$ty as Jute>::MIN_ENCODED_LEN )*;
            #[allow(unused_variables)]
            fn write(&self, out: &mut BytesMut) {
                $( self.$field.write(out); )*
            }
            #[allow(unused_variables)]
            fn read(r: &mut Reader) -> Result<Self, JuteError> {
                Ok($name { $( $field: <$ty as Jute>::read(r)? ),* })
            }
            fn encoded_len(&self) -> usize {
                0 $( + self.$field.encoded_len() )*
            }
        }
    };
}

record! {
    /// An identity: a scheme and an id within it (`world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`).
    pub struct Id {
        /// The scheme name.
        pub scheme: String,
        /// The id within the scheme.
        pub id: String,
    }
}

record! {
    /// An access-control entry: permission bits for an identity.
    pub struct Acl {
        /// Bits of [`crate::codes::perms`].
        pub perms: i32,
        /// Who they apply to.
        pub id: Id,
    }
}

record! {
    /// A znode's metadata, as returned to clients.
    pub struct Stat {
        /// zxid of the create.
        pub czxid: i64,
        /// zxid of the last data change.
        pub mzxid: i64,
        /// Creation time, ms since the epoch.
        pub ctime: i64,
        /// Last data change time, ms since the epoch.
        pub mtime: i64,
        /// Data version (number of data changes).
        pub version: i32,
        /// Child version (number of child changes).
        pub cversion: i32,
        /// ACL version (number of ACL changes).
        pub aversion: i32,
        /// Owning session of an ephemeral node, 0 otherwise.
        pub ephemeral_owner: i64,
        /// Length of the data.
        pub data_length: i32,
        /// Number of children.
        pub num_children: i32,
        /// zxid of the last child change.
        pub pzxid: i64,
    }
}

record! {
    /// Request header: client-chosen xid and the op code.
    pub struct RequestHeader {
        /// Request id, echoed in the reply.
        pub xid: i32,
        /// Op code ([`crate::codes::OpCode`]).
        pub op: i32,
    }
}

record! {
    /// Reply header.
    pub struct ReplyHeader {
        /// The request's xid (or a reserved xid).
        pub xid: i32,
        /// The zxid the server had reached.
        pub zxid: i64,
        /// Error code ([`crate::codes::ErrorCode`]).
        pub err: i32,
    }
}

record! {
    /// Header before each op of a multi request and each result of a multi response.
    pub struct MultiHeader {
        /// Op code of the op (or -1 for an error result / the end marker).
        pub op: i32,
        /// True on the end marker.
        pub done: bool,
        /// Error code of a result.
        pub err: i32,
    }
}

record! {
    /// addauth.
    pub struct AuthPacket {
        /// Unused by ZooKeeper, 0.
        pub auth_type: i32,
        /// The auth scheme (`digest`, ...).
        pub scheme: String,
        /// Scheme-specific credentials.
        pub auth: Secret,
    }
}

record! {
    /// sasl (op 102): the client's next SASL token (jute's `GetSASLRequest`, which the server
    /// reads; a client writes the same bytes as `SetSASLRequest`). Empty to start DIGEST-MD5.
    pub struct GetSaslRequest {
        /// The token (redacted in `Debug`: a digest-response).
        pub token: Secret,
    }
}

record! {
    /// The answer to a sasl request (jute's `SetSASLResponse`): the server's next token, or
    /// null (ZooKeeper sends null with AuthFailed, and when it has no SASL server).
    pub struct SetSaslResponse {
        /// The token.
        pub token: Option<Bytes>,
    }
}

record! {
    /// A watch notification.
    pub struct WatcherEvent {
        /// [`crate::codes::EventType`].
        pub event_type: i32,
        /// [`crate::codes::KeeperState`].
        pub state: i32,
        /// The node the event is about.
        pub path: String,
    }
}

record! {
    /// setWatches: watches to re-register after a reconnect.
    pub struct SetWatches {
        /// The last zxid the client saw.
        pub relative_zxid: i64,
        /// Data watches.
        pub data_watches: Vec<String>,
        /// Exist watches.
        pub exist_watches: Vec<String>,
        /// Child watches.
        pub child_watches: Vec<String>,
    }
}

record! {
    /// setWatches2: setWatches plus persistent watches.
    pub struct SetWatches2 {
        /// The last zxid the client saw.
        pub relative_zxid: i64,
        /// Data watches.
        pub data_watches: Vec<String>,
        /// Exist watches.
        pub exist_watches: Vec<String>,
        /// Child watches.
        pub child_watches: Vec<String>,
        /// Persistent watches.
        pub persistent_watches: Vec<String>,
        /// Persistent recursive watches.
        pub persistent_recursive_watches: Vec<String>,
    }
}

record! {
    /// create / create2 / createContainer.
    pub struct CreateRequest {
        /// Path (the parent must exist).
        pub path: String,
        /// Data.
        pub data: Option<Bytes>,
        /// ACL of the new node.
        pub acl: Vec<Acl>,
        /// [`crate::codes::CreateMode`].
        pub flags: i32,
    }
}

record! {
    /// createTTL.
    pub struct CreateTtlRequest {
        /// Path.
        pub path: String,
        /// Data.
        pub data: Option<Bytes>,
        /// ACL.
        pub acl: Vec<Acl>,
        /// [`crate::codes::CreateMode`].
        pub flags: i32,
        /// Time to live, ms.
        pub ttl: i64,
    }
}

record! {
    /// delete / deleteContainer.
    pub struct DeleteRequest {
        /// Path.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// getData.
    pub struct GetDataRequest {
        /// Path.
        pub path: String,
        /// Leave a data watch.
        pub watch: bool,
    }
}

record! {
    /// setData.
    pub struct SetDataRequest {
        /// Path.
        pub path: String,
        /// New data.
        pub data: Option<Bytes>,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// exists.
    pub struct ExistsRequest {
        /// Path.
        pub path: String,
        /// Leave a watch (fires on create, change or delete).
        pub watch: bool,
    }
}

record! {
    /// getChildren and getChildren2.
    pub struct GetChildrenRequest {
        /// Path.
        pub path: String,
        /// Leave a child watch.
        pub watch: bool,
    }
}

record! {
    /// A request that carries only a path: getACL, sync, getAllChildrenNumber,
    /// getEphemerals (prefixPath).
    pub struct PathRequest {
        /// Path.
        pub path: String,
    }
}

record! {
    /// setACL.
    pub struct SetAclRequest {
        /// Path.
        pub path: String,
        /// The new ACL.
        pub acl: Vec<Acl>,
        /// Expected aversion, -1 for any.
        pub version: i32,
    }
}

record! {
    /// check (inside multi).
    pub struct CheckVersionRequest {
        /// Path.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// checkWatches / removeWatches.
    pub struct RemoveWatchesRequest {
        /// Path.
        pub path: String,
        /// [`crate::codes::WatcherType`].
        pub watcher_type: i32,
    }
}

record! {
    /// addWatch.
    pub struct AddWatchRequest {
        /// Path.
        pub path: String,
        /// [`crate::codes::AddWatchMode`].
        pub mode: i32,
    }
}

record! {
    /// The reply of a request that fails: the error code again.
    pub struct ErrorResponse {
        /// [`crate::codes::ErrorCode`].
        pub err: i32,
    }
}

record! {
    /// create reply (and sync reply: the path).
    pub struct PathResponse {
        /// The created (or synced) path.
        pub path: String,
    }
}

record! {
    /// create2 / createTTL / createContainer reply.
    pub struct Create2Response {
        /// The created path.
        pub path: String,
        /// Its Stat.
        pub stat: Stat,
    }
}

record! {
    /// A reply that carries only a Stat: exists, setData, setACL.
    pub struct StatResponse {
        /// The Stat.
        pub stat: Stat,
    }
}

record! {
    /// getData reply.
    pub struct GetDataResponse {
        /// The data (null stays null).
        pub data: Option<Bytes>,
        /// The Stat.
        pub stat: Stat,
    }
}

record! {
    /// getChildren reply (and getEphemerals reply: the paths).
    pub struct ChildrenResponse {
        /// Child names (or ephemeral paths).
        pub children: Vec<String>,
    }
}

record! {
    /// getChildren2 reply.
    pub struct GetChildren2Response {
        /// Child names.
        pub children: Vec<String>,
        /// The parent's Stat.
        pub stat: Stat,
    }
}

record! {
    /// getACL reply.
    pub struct GetAclResponse {
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The Stat.
        pub stat: Stat,
    }
}

record! {
    /// getAllChildrenNumber reply.
    pub struct GetAllChildrenNumberResponse {
        /// Number of descendants.
        pub total_number: i32,
    }
}

record! {
    /// One authenticated identity of a whoAmI reply.
    pub struct ClientInfo {
        /// The scheme.
        pub auth_scheme: String,
        /// The user.
        pub user: String,
    }
}

record! {
    /// whoAmI reply.
    pub struct WhoAmIResponse {
        /// The session's identities.
        pub client_info: Vec<ClientInfo>,
    }
}

/// The first packet of a connection. `read_only` is absent from old clients' packets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Protocol version, 0.
    pub protocol_version: i32,
    /// The last zxid the client saw (the server refuses a client ahead of it).
    pub last_zxid_seen: i64,
    /// Requested session timeout, ms.
    pub timeout: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    /// The session's password (zeros for a new session).
    pub passwd: Secret,
    /// Whether the client accepts a read-only server; `None` if the client did not send it.
    pub read_only: Option<bool>,
}

/// The server's answer to a [`ConnectRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Protocol version, 0.
    pub protocol_version: i32,
    /// Negotiated timeout, ms; 0 tells the client its session is invalid (expired).
    pub timeout: i32,
    /// The session id.
    pub session_id: i64,
    /// The session's password.
    pub passwd: Secret,
    /// Whether this server is read-only; `None` answers an old client in its own format.
    pub read_only: Option<bool>,
}

fn optional_bool(r: &mut Reader) -> Result<Option<bool>, JuteError> {
    if r.remaining() == 0 {
        Ok(None)
    } else {
        r.read_bool().map(Some)
    }
}

impl Jute for ConnectRequest {
    const MIN_ENCODED_LEN: usize = 4 + 8 + 4 + 8 + 4;
    fn write(&self, out: &mut BytesMut) {
        self.protocol_version.write(out);
        self.last_zxid_seen.write(out);
        self.timeout.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(ro) = self.read_only {
            ro.write(out);
        }
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: Secret::read(r)?,
            read_only: optional_bool(r)?,
        })
    }
    fn encoded_len(&self) -> usize {
        Self::MIN_ENCODED_LEN + self.passwd.0.len() + usize::from(self.read_only.is_some())
    }
}

impl Jute for ConnectResponse {
    const MIN_ENCODED_LEN: usize = 4 + 4 + 8 + 4;
    fn write(&self, out: &mut BytesMut) {
        self.protocol_version.write(out);
        self.timeout.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(ro) = self.read_only {
            ro.write(out);
        }
    }
    fn read(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: Secret::read(r)?,
            read_only: optional_bool(r)?,
        })
    }
    fn encoded_len(&self) -> usize {
        Self::MIN_ENCODED_LEN + self.passwd.0.len() + usize::from(self.read_only.is_some())
    }
}
