//! The AdminServer commands' JSON, built by the core: field names and value types as Apache
//! ZooKeeper 3.8.0's AdminServer wrote them for a standalone server with one session, one
//! ephemeral and one data watch (captured from its `/commands/<name>`).

use serde_json::{Map, Value};

use super::*;
use crate::core::admin::{lookup, AdminIo, COMMANDS};
use crate::core::metrics_text::MonitorValue;

/// A standalone core with a session that created the ephemeral `/e` and watches `/e`'s data.
fn busy_core() -> (Core, i64) {
    let mut core = core();
    let (conn, session) = connected(&mut core, 5000);
    let ephemeral = CreateRequest {
        flags: 1,
        ..create("/e")
    };
    step(&mut core, request(conn, 1, OpCode::Create, &ephemeral), NOW);
    step(&mut core, Input::Durable(Zxid(2)), NOW);
    let get = GetDataRequest {
        path: "/e".into(),
        watch: true,
    };
    step(&mut core, request(conn, 2, OpCode::GetData, &get), NOW);
    (core, session)
}

fn io() -> AdminIo {
    AdminIo {
        datadir_size: 457,
        logdir_size: 67_109_337,
        last_snapshot: Some((0x1a, 1_796_664_327)),
        properties: vec![("user.dir".into(), "/tmp/x".into())],
        monitor: Default::default(),
    }
}

fn run(core: &mut Core, name: &str, args: &[(&str, &str)]) -> Map<String, Value> {
    let args: Vec<(String, String)> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    core.admin_command(name, &args, later(5), &io())
}

/// The JSON type of each field, as `name:type` (n: integer, f: float, s: string, b: bool,
/// o: object, a: array, z: null).
fn shape(m: &Map<String, Value>) -> Vec<String> {
    m.iter()
        .map(|(k, v)| {
            let t = match v {
                Value::Number(n) if n.is_f64() => "f",
                Value::Number(_) => "n",
                Value::String(_) => "s",
                Value::Bool(_) => "b",
                Value::Object(_) => "o",
                Value::Array(_) => "a",
                Value::Null => "z",
            };
            format!("{k}:{t}")
        })
        .collect()
}

fn shape_of(core: &mut Core, name: &str) -> Vec<String> {
    shape(&run(core, name, &[]))
}

#[test]
fn every_command_has_zookeepers_fields_and_types() {
    let (mut core, _) = busy_core();
    let cases: &[(&str, &[&str])] = &[
        (
            "configuration",
            &[
                "client_port:n",
                "data_dir:s",
                "data_log_dir:s",
                "tick_time:n",
                "max_client_cnxns:n",
                "min_session_timeout:n",
                "max_session_timeout:n",
                "server_id:n",
                "client_port_listen_backlog:n",
                "command:s",
                "error:z",
            ],
        ),
        ("connection_stat_reset", &["command:s", "error:z"]),
        (
            "connections",
            &[
                "connections:a",
                "secure_connections:a",
                "command:s",
                "error:z",
            ],
        ),
        (
            "dirs",
            &["datadir_size:n", "logdir_size:n", "command:s", "error:z"],
        ),
        (
            "dump",
            &[
                "expiry_time_to_session_ids:o",
                "session_id_to_ephemeral_paths:o",
                "command:s",
                "error:z",
            ],
        ),
        ("get_trace_mask", &["tracemask:n", "command:s", "error:z"]),
        ("hash", &["digests:a", "command:s", "error:z"]),
        (
            "initial_configuration",
            &["initial_configuration:s", "command:s", "error:z"],
        ),
        ("is_read_only", &["read_only:b", "command:s", "error:z"]),
        (
            "last_snapshot",
            &["zxid:s", "timestamp:n", "command:s", "error:z"],
        ),
        ("leader", &["error:s", "command:s"]),
        ("observer_connection_stat_reset", &["command:s", "error:z"]),
        (
            "observers",
            &["synced_observers:n", "observers:a", "command:s", "error:z"],
        ),
        ("ruok", &["command:s", "error:z"]),
        ("set_trace_mask", &["error:s", "command:s"]),
        ("stat_reset", &["command:s", "error:z"]),
        ("voting_view", &["current_config:o", "command:s", "error:z"]),
        (
            "watch_summary",
            &[
                "num_connections:n",
                "num_paths:n",
                "num_total_watches:n",
                "command:s",
                "error:z",
            ],
        ),
        (
            "watches",
            &["session_id_to_watched_paths:o", "command:s", "error:z"],
        ),
        (
            "watches_by_path",
            &["path_to_session_ids:o", "command:s", "error:z"],
        ),
        (
            "zabstate",
            &["voting:b", "zabstate:s", "command:s", "error:z"],
        ),
    ];
    for (name, want) in cases {
        assert_eq!(shape_of(&mut core, name), *want, "{name}");
    }
    let stats = [
        "version:s",
        "read_only:b",
        "server_stats:o",
        "client_response:o",
        "node_count:n",
    ];
    let mut want: Vec<&str> = stats.to_vec();
    want.extend(["command:s", "error:z"]);
    assert_eq!(shape_of(&mut core, "server_stats"), want);
    let mut want: Vec<&str> = stats.to_vec();
    want.extend([
        "connections:a",
        "secure_connections:a",
        "command:s",
        "error:z",
    ]);
    assert_eq!(shape_of(&mut core, "stats"), want);
    let inner = run(&mut core, "srvr", &[]);
    let Some(Value::Object(server_stats)) = inner.get("server_stats") else {
        panic!("server_stats: {inner:?}");
    };
    assert_eq!(
        shape(server_stats),
        [
            "packets_sent:n",
            "packets_received:n",
            "fsync_threshold_exceed_count:n",
            "client_response_stats:o",
            "provider_null:b",
            "data_dir_size:n",
            "log_dir_size:n",
            "server_state:s",
            "last_processed_zxid:n",
            "outstanding_requests:n",
            "avg_latency:f",
            "max_latency:n",
            "min_latency:n",
            "num_alive_client_connections:n",
            "uptime:n",
            "auth_failed_count:n",
            "non_mtlsremote_conn_count:n",
            "non_mtlslocal_conn_count:n",
        ]
    );
    assert_eq!(server_stats["server_state"], "standalone");
    assert_eq!(server_stats["last_processed_zxid"], 2);
    assert_eq!(server_stats["data_dir_size"], 457);
}

#[test]
fn connections_sessions_and_watches_are_the_cores() {
    let (mut core, session) = busy_core();
    let cons = run(&mut core, "cons", &[]);
    assert_eq!(
        cons["command"], "connections",
        "a short name answers as the primary"
    );
    let Some(Value::Array(list)) = cons.get("connections") else {
        panic!("{cons:?}");
    };
    let [Value::Object(c)] = list.as_slice() else {
        panic!("one connection: {list:?}");
    };
    assert_eq!(
        shape(c),
        [
            "remote_socket_address:s",
            "interest_ops:n",
            "outstanding_requests:n",
            "packets_received:n",
            "packets_sent:n",
            "session_id:n",
            "last_operation:s",
            "established:n",
            "session_timeout:n",
            "last_cxid:n",
            "last_zxid:n",
            "last_response_time:n",
            "last_latency:n",
            "min_latency:n",
            "avg_latency:n",
            "max_latency:n",
        ]
    );
    assert_eq!(c["remote_socket_address"], "127.0.0.1:5000");
    assert_eq!(c["session_id"], session);
    assert_eq!(c["session_timeout"], 30_000);
    assert_eq!(c["last_operation"], "GETD");
    let stats = run(&mut core, "stat", &[]);
    let Some(Value::Array(brief)) = stats.get("connections") else {
        panic!("{stats:?}");
    };
    assert_eq!(brief[0].as_object().map(Map::len), Some(5), "brief info");

    let dump = run(&mut core, "dump", &[]);
    let eph = &dump["session_id_to_ephemeral_paths"];
    assert_eq!(eph[session.to_string()], serde_json::json!(["/e"]));
    let expiry = dump["expiry_time_to_session_ids"]
        .as_object()
        .expect("object");
    assert_eq!(
        expiry.values().cloned().collect::<Vec<_>>(),
        [serde_json::json!([session])]
    );

    let watches = run(&mut core, "wchc", &[]);
    assert_eq!(
        watches["session_id_to_watched_paths"][session.to_string()],
        serde_json::json!(["/e"])
    );
    let by_path = run(&mut core, "wchp", &[]);
    assert_eq!(
        by_path["path_to_session_ids"]["/e"],
        serde_json::json!([session])
    );
    let summary = run(&mut core, "wchs", &[]);
    assert_eq!(summary["num_total_watches"], 1);

    assert_eq!(run(&mut core, "lsnp", &[])["zxid"], "1a");
    let none = core.admin_command("lsnp", &[], NOW, &AdminIo::default());
    assert_eq!(
        (none["zxid"].clone(), none["timestamp"].clone()),
        ("ffffffffffffffff".into(), (-1).into())
    );
}

#[test]
fn trace_mask_unknown_commands_and_resets() {
    let (mut core, _) = busy_core();
    assert_eq!(run(&mut core, "gtmk", &[])["tracemask"], 306);
    let bad = run(&mut core, "stmk", &[("traceMask", "abc")]);
    assert_eq!(
        bad["error"],
        "setTraceMask requires long traceMask argument, got abc"
    );
    assert_eq!(bad["command"], "set_trace_mask");
    let set = run(&mut core, "set_trace_mask", &[("traceMask", "4")]);
    assert_eq!(
        (set["tracemask"].clone(), set["error"].clone()),
        (4.into(), Value::Null)
    );
    assert_eq!(run(&mut core, "get_trace_mask", &[])["tracemask"], 4);

    let unknown = run(&mut core, "nosuch", &[]);
    assert_eq!(shape(&unknown), ["command:s", "error:s"]);
    assert_eq!(unknown["error"], "Unknown command: nosuch");
    assert_eq!(unknown["command"], "nosuch");

    assert!(core.stats.packets_received > 0);
    run(&mut core, "srst", &[]);
    assert_eq!(core.stats.packets_received, 0);
    run(&mut core, "crst", &[]);
    assert!(core.conns.iter().all(|(_, c)| c.stats().received == 0));
}

#[test]
fn monitor_is_mntr_typed_without_the_prefix() {
    let (mut core, _) = busy_core();
    let monitor = run(&mut core, "monitor", &[]);
    let entries = core.monitor_entries(later(5).mono_ms(), &io().monitor);
    assert_eq!(
        monitor.len(),
        entries.len() + 2,
        "every mntr key, command and error"
    );
    for (k, v) in &entries {
        let shown = &monitor[k.as_str()];
        match v {
            MonitorValue::Text(t) => assert_eq!(shown, t.as_str(), "{k}"),
            MonitorValue::Long(n) => assert_eq!(shown.as_i64(), Some(*n), "{k}"),
            MonitorValue::Double(_) => assert!(shown.is_f64(), "{k}"),
        }
    }
    assert!(monitor["znode_count"].is_i64());
    assert!(monitor["avg_latency"].is_f64());
    assert_eq!(monitor["server_state"], "standalone");
}

#[test]
fn the_command_table_is_zookeepers() {
    assert_eq!(COMMANDS.len(), 26);
    let mut sorted: Vec<&str> = COMMANDS.iter().map(|c| c.primary).collect();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        COMMANDS.iter().map(|c| c.primary).collect::<Vec<_>>()
    );
    for (short, primary) in [
        ("conf", "configuration"),
        ("config", "configuration"),
        ("cons", "connections"),
        ("crst", "connection_stat_reset"),
        ("env", "environment"),
        ("envi", "environment"),
        ("gtmk", "get_trace_mask"),
        ("icfg", "initial_configuration"),
        ("isro", "is_read_only"),
        ("lsnp", "last_snapshot"),
        ("lead", "leader"),
        ("mntr", "monitor"),
        ("orst", "observer_connection_stat_reset"),
        ("obsr", "observers"),
        ("srvr", "server_stats"),
        ("stmk", "set_trace_mask"),
        ("srst", "stat_reset"),
        ("stat", "stats"),
        ("sysp", "system_properties"),
        ("wchs", "watch_summary"),
        ("wchc", "watches"),
        ("wchp", "watches_by_path"),
    ] {
        assert_eq!(lookup(short).map(|c| c.primary), Some(primary), "{short}");
    }
    assert!(lookup("snapshot").is_none());
}

#[test]
fn secure_client_port_connections_are_listed_apart() {
    let (mut core, _) = busy_core();
    let remote = "127.0.0.1:6000".parse().expect("addr");
    let transport = conns::Transport {
        secure: true,
        tls_ids: Vec::new(),
    };
    core.open_connection(remote, transport, NOW)
        .expect("connection");
    for name in ["connections", "stats"] {
        let answer = run(&mut core, name, &[]);
        let addresses = |field: &str| -> Vec<Value> {
            answer[field]
                .as_array()
                .expect("array")
                .iter()
                .map(|c| c["remote_socket_address"].clone())
                .collect()
        };
        assert_eq!(addresses("connections"), ["127.0.0.1:5000"], "{name}");
        assert_eq!(
            addresses("secure_connections"),
            ["127.0.0.1:6000"],
            "{name}"
        );
    }
}

/// Server 2 of a 3-server ensemble (a core only: no ZAB engine; its role is set by hand).
fn member_core() -> Core {
    let mut config = ServerConfig::parse(
        "dataDir=/unused\nclientPort=2182\nclientPortAddress=127.0.0.1\ninitLimit=10\n\
         syncLimit=5\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2181\n\
         server.2=127.0.0.1:2889:3889;127.0.0.1:2182\n\
         server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183\n",
    )
    .expect("config");
    let client = config
        .client_port_line
        .map(|line| (config.client_addr, line));
    let resolved = config
        .quorum
        .resolve(Some(2), std::path::Path::new("/unused/myid"), client)
        .expect("resolves");
    config.ensemble = resolved.ensemble;
    config.server_id = 2;
    Core::new(config, NOW).expect("core")
}

#[test]
fn an_ensemble_member_answers_from_its_quorum_state() {
    let mut core = member_core();
    // Looking: commands that need a serving server say so, under the name asked for.
    let srvr = run(&mut core, "srvr", &[]);
    assert_eq!(
        srvr,
        crate::core::admin::error_response("srvr", crate::core::admin::NOT_SERVING)
    );
    assert_eq!(run(&mut core, "monitor", &[])["server_state"], "looking");
    core.set_leader_view(None, "election");
    let zab = run(&mut core, "zabstate", &[]);
    assert_eq!(
        shape(&zab),
        ["voting:b", "zabstate:s", "command:s", "error:z"]
    );
    assert_eq!(
        zab["zabstate"], "",
        "electing: answered as ZooKeeper without a server"
    );
    core.set_leader_view(Some(1), "synchronization");
    let zab = run(&mut core, "zabstate", &[]);
    assert_eq!(zab["zabstate"], "synchronization");
    assert_eq!(zab["myid"], 2);

    core.set_role(QuorumRole::Following, NOW);
    core.set_leader_view(Some(1), "broadcast");
    let leader = run(&mut core, "leader", &[]);
    assert_eq!(
        leader,
        serde_json::json!({"is_leader": false, "leader_id": 1, "leader_ip": "127.0.0.1",
                           "command": "leader", "error": null})
        .as_object()
        .cloned()
        .expect("object")
    );
    let zab = run(&mut core, "zabstate", &[]);
    assert_eq!(zab["myid"], 2);
    assert_eq!(zab["voting"], true);
    assert_eq!(zab["zabstate"], "broadcast");
    assert_eq!(zab["quorum_address"]["one"], "127.0.0.1:2889");
    assert_eq!(
        zab["election_address"]["all_ports"],
        serde_json::json!([3889])
    );
    assert_eq!(zab["client_address"], "127.0.0.1:2182");
    // Participants only.
    let view = run(&mut core, "voting_view", &[]);
    let ids: Vec<&String> = view["current_config"]
        .as_object()
        .expect("map")
        .keys()
        .collect();
    assert_eq!(ids, ["1", "2"]);
    assert_eq!(
        view["current_config"]["1"]["server_addresses"],
        serde_json::json!(["127.0.0.1:2888"])
    );
    assert_eq!(run(&mut core, "conf", &[])["server_id"], 2);
    assert_eq!(
        run(&mut core, "icfg", &[])["initial_configuration"],
        Value::Null
    );
    assert_eq!(
        run(&mut core, "srvr", &[])["server_stats"]["server_state"],
        "follower"
    );
}
