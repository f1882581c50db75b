use super::*;
use crate::ServerConfig;
use std::path::PathBuf;

/// zoo.cfg text: `dataDir` and `clientPort` on lines 1-2, then `lines` from line 3.
fn text(lines: &[&str]) -> String {
    let mut text = String::from("dataDir=/x\nclientPort=2181\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The (line, key, message) of a config error.
fn config_err(result: Result<impl std::fmt::Debug, ServerError>) -> (usize, String, String) {
    match result {
        Err(ServerError::Config { line, key, message }) => (line, key, message),
        other => panic!("expected a config error, got {other:?}"),
    }
}

fn parse_err(lines: &[&str]) -> (usize, String, String) {
    config_err(ServerConfig::parse(&text(lines)))
}

fn line(value: &str) -> Result<ServerLine, ServerError> {
    ServerLine::parse("server.3", value, 7)
}

const THREE: [&str; 5] = [
    "initLimit=5",
    "syncLimit=2",
    "server.1=127.0.0.1:2888:3888",
    "server.2=127.0.0.1:2889:3889",
    "server.3=127.0.0.1:2890:3890",
];

fn resolve(keys: &QuorumKeys, my_id: Option<i64>) -> Result<Resolved, ServerError> {
    let client = Some(("127.0.0.1:2181".parse().expect("addr"), 2));
    keys.resolve(my_id, Path::new("/data/myid"), client)
}

fn keys(lines: &[&str]) -> QuorumKeys {
    ServerConfig::parse(&text(lines)).expect("valid").quorum
}

#[test]
fn parses_server_lines() {
    let plain = line("10.0.0.1:2888:3888").expect("plain");
    assert_eq!(
        plain,
        ServerLine {
            id: 3,
            line: 7,
            host: "10.0.0.1".into(),
            quorum_port: 2888,
            election_port: 3888,
            learner_type: LearnerType::Participant,
            client: None,
        }
    );
    let observer = line("zk3.example:2888:3888:Observer").expect("observer");
    assert_eq!(observer.learner_type, LearnerType::Observer);
    assert_eq!(observer.host, "zk3.example");
    let voter = line("h:1:2:participant").expect("participant");
    assert_eq!(voter.learner_type, LearnerType::Participant);
    let port_only = line("h:1:2;2181").expect("client port");
    assert_eq!(port_only.client, Some((None, 2181)));
    let with_host = line("h:1:2:observer;127.0.0.1:2182").expect("client host");
    assert_eq!(with_host.client, Some((Some("127.0.0.1".into()), 2182)));
    assert_eq!(with_host.learner_type, LearnerType::Observer);
    let v6 = line("[::1]:2888:3888:participant;[::1]:2181").expect("ipv6");
    assert_eq!(v6.host, "::1");
    assert_eq!((v6.quorum_port, v6.election_port), (2888, 3888));
    assert_eq!(v6.client, Some((Some("::1".into()), 2181)));
    // Java's split drops trailing empty pieces, so ZooKeeper takes these.
    assert_eq!(
        line("h:1:2:").expect("trailing colon").learner_type,
        LearnerType::Participant
    );
    assert_eq!(line("h:1:2;").expect("trailing semicolon").client, None);
}

#[test]
fn malformed_server_lines_name_key_and_line() {
    for (value, expected) in [
        ("127.0.0.1:2888", "expected host:quorumPort"),
        ("127.0.0.1", "expected host:quorumPort"),
        ("h:1:2:observer:9", "expected host:quorumPort"),
        ("h:1:2;1;2", "expected host:quorumPort"),
        ("h:x:2", "bad quorum port \"x\""),
        ("h:1:70000", "bad election port \"70000\""),
        ("h:0:2", "bad quorum port \"0\""),
        ("h:1:2;x", "bad client port \"x\""),
        ("h:1:2;a:b:c", "expected host:quorumPort"),
        ("h:1:2;:5", "missing client host"),
        ("h:1:2:leader", "unknown server type \"leader\""),
        (":1:2", "missing host"),
        ("h:7:7", "must differ"),
        ("[::1:1:2", "no matching ']'"),
        ("[::1]", "expected host:quorumPort"),
        ("[::1]x1:2", "no port after ']:'"),
        ("a:1:2|b:1:2", "multiple addresses"),
    ] {
        let (at, key, message) = config_err(line(value));
        assert_eq!((at, key.as_str()), (7, "server.3"), "{value}: {message}");
        assert!(message.contains(expected), "{value}: {message}");
    }
    for (key, expected) in [
        ("server.x", "is not a number"),
        ("server.-1", "is not a number"),
        ("server.0", "out of range"),
        ("server.255", "out of range"),
    ] {
        let (at, k, message) = config_err(ServerLine::parse(key, "h:1:2", 4));
        assert_eq!((at, k.as_str()), (4, key));
        assert!(message.contains(expected), "{key}: {message}");
    }
    assert!(ServerLine::parse("server.254", "h:1:2", 1).is_ok());
}

#[test]
fn parse_reports_the_line_of_the_bad_server() {
    let (at, key, _) = parse_err(&["initLimit=5", "server.1=h:1:2", "server.2=h:3"]);
    assert_eq!((at, key.as_str()), (5, "server.2"));
    let (at, key, message) = parse_err(&["server.2=a:1:2", "server.02=b:1:2"]);
    assert_eq!((at, key.as_str()), (4, "server.02"));
    assert!(message.contains("already defined at line 3"), "{message}");
}

#[test]
fn other_ensemble_keys_are_checked() {
    for (bad, key, expected) in [
        (
            "peerType=leader",
            "peerType",
            "expected observer or participant",
        ),
        (
            "standaloneEnabled=yes",
            "standaloneEnabled",
            "expected true or false",
        ),
        ("initLimit=0", "initLimit", "must be positive"),
        ("syncLimit=-1", "syncLimit", "expected a positive integer"),
        ("electionAlg=1", "electionAlg", "only 3"),
        (
            "dynamicConfigFile=/x/zoo.cfg.dynamic",
            "dynamicConfigFile",
            "not supported",
        ),
        ("group.1=1:2:3", "group.1", "hierarchical"),
        ("weight.1=2", "weight.1", "hierarchical"),
    ] {
        let (at, k, message) = parse_err(&["tickTime=500", bad]);
        assert_eq!((at, k.as_str()), (4, key), "{bad}: {message}");
        assert!(message.contains(expected), "{bad}: {message}");
    }
    let cfg = ServerConfig::parse(&text(&[
        "peerType=Observer",
        "standaloneEnabled=FALSE",
        "electionAlg=3",
        "cnxTimeout=5000",
    ]));
    // standaloneEnabled=false with no participant is refused, as ZooKeeper does.
    let (at, key, _) = config_err(cfg);
    assert_eq!((at, key.as_str()), (4, "standaloneEnabled"));
    let cfg = ServerConfig::parse(&text(&[
        "peerType=Observer",
        "electionAlg=3",
        "cnxTimeout=1",
    ]))
    .expect("valid");
    assert_eq!(cfg.quorum.peer_type, Some((LearnerType::Observer, 3)));
    assert_eq!(cfg.ignored.len(), 2, "{:?}", cfg.ignored);
}

#[test]
fn an_ensemble_needs_init_and_sync_limits() {
    let (at, key, message) = parse_err(&THREE[1..]);
    assert_eq!((at, key.as_str()), (0, "initLimit"));
    assert!(message.contains("not set"), "{message}");
    let (_, key, _) = parse_err(&[&THREE[0..1], &THREE[2..]].concat());
    assert_eq!(key, "syncLimit");
    // Standalone (one server line) does not need them.
    assert!(ServerConfig::parse(&text(&["server.1=h:1:2"])).is_ok());
    let k = keys(&THREE);
    assert_eq!(k.init_limit, Some((5, 3)));
    assert_eq!(k.sync_limit, Some((2, 4)));
}

#[test]
fn observers_need_participants() {
    let (at, key, message) = parse_err(&[
        "initLimit=5",
        "syncLimit=2",
        "server.1=h:1:2:observer",
        "server.2=h:3:4:observer",
    ]);
    assert_eq!((at, key.as_str()), (5, "server.1"));
    assert!(message.contains("observers need a quorum"), "{message}");
    // One participant with standaloneEnabled=true is standalone: no quorum for observers.
    let (at, key, _) = parse_err(&["server.1=h:1:2", "server.2=h:3:4:observer"]);
    assert_eq!((at, key.as_str()), (4, "server.2"));
    // With standaloneEnabled=false, one participant is a quorum.
    let k = keys(&[
        "standaloneEnabled=false",
        "initLimit=5",
        "syncLimit=2",
        "server.1=127.0.0.1:1:2",
        "server.2=127.0.0.1:3:4:observer",
    ]);
    let ensemble = resolve(&k, Some(2))
        .expect("valid")
        .ensemble
        .expect("ensemble");
    assert_eq!(ensemble.voters().collect::<Vec<_>>(), vec![1]);
    assert_eq!(ensemble.observers().collect::<Vec<_>>(), vec![2]);
    assert_eq!(ensemble.me().learner_type, LearnerType::Observer);
}

#[test]
fn builds_the_ensemble() {
    let k = keys(&[
        "initLimit=5",
        "syncLimit=2",
        "server.1=127.0.0.1:2888:3888",
        "server.2=127.0.0.1:2889:3889;127.0.0.1:2182",
        "server.3=127.0.0.1:2890:3890:participant",
        "server.4=localhost:2891:3891:observer;2184",
    ]);
    let resolved = resolve(&k, Some(1)).expect("valid");
    assert_eq!(
        resolved.client_addr,
        Some("127.0.0.1:2181".parse().expect("addr"))
    );
    assert!(resolved.warnings.is_empty(), "{:?}", resolved.warnings);
    let e = resolved.ensemble.expect("ensemble");
    assert_eq!((e.my_id, e.init_limit, e.sync_limit), (1, 5, 2));
    assert_eq!(e.voters().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(e.observers().collect::<Vec<_>>(), vec![4]);
    let addr = |s: &str| s.parse::<SocketAddr>().expect("addr");
    assert_eq!(
        e.me(),
        &QuorumServer {
            id: 1,
            quorum_addr: addr("127.0.0.1:2888"),
            election_addr: addr("127.0.0.1:3888"),
            learner_type: LearnerType::Participant,
            client_addr: Some(addr("127.0.0.1:2181")),
        }
    );
    assert_eq!(e.servers[&2].client_addr, Some(addr("127.0.0.1:2182")));
    assert_eq!(e.servers[&3].client_addr, None);
    // localhost resolves to its IPv4 address first, as Java's InetAddress.getByName.
    assert_eq!(e.servers[&4].quorum_addr, addr("127.0.0.1:2891"));
    assert_eq!(e.servers[&4].client_addr, Some(addr("0.0.0.0:2184")));
    // The same file on server 2: its client address is its line's.
    let two = k.resolve(Some(2), Path::new("m"), None).expect("valid");
    assert_eq!(two.client_addr, Some(addr("127.0.0.1:2182")));
    assert_eq!(two.ensemble.expect("ensemble").me().id, 2);
}

#[test]
fn ipv6_ensemble() {
    let k = keys(&[
        "initLimit=5",
        "syncLimit=2",
        "server.1=[::1]:2888:3888;[::1]:2181",
        "server.2=[::1]:2889:3889",
        "server.3=[::1]:2890:3890",
    ]);
    let e = k
        .resolve(Some(1), Path::new("/data/myid"), None)
        .expect("valid")
        .ensemble
        .expect("ensemble");
    assert_eq!(e.me().quorum_addr, "[::1]:2888".parse().expect("addr"));
    assert_eq!(
        e.me().client_addr,
        Some("[::1]:2181".parse().expect("addr"))
    );
}

#[test]
fn myid_must_be_in_the_server_list() {
    let k = keys(&THREE);
    let (at, key, message) = config_err(resolve(&k, None));
    assert_eq!((at, key.as_str()), (0, "myid"));
    assert!(message.contains("/data/myid is missing"), "{message}");
    let (_, key, message) = config_err(resolve(&k, Some(4)));
    assert_eq!(key, "myid");
    assert!(
        message.contains("/data/myid says 4")
            && message.contains("not in the server list (server.1, server.2, server.3)"),
        "{message}"
    );
    // Standalone ignores myid's value, as ZooKeeper does.
    assert_eq!(
        resolve(&QuorumKeys::default(), Some(300))
            .expect("ok")
            .ensemble,
        None
    );
}

#[test]
fn one_server_line_is_standalone() {
    let k = keys(&["server.1=127.0.0.1:2888:3888"]);
    let resolved = resolve(&k, Some(1)).expect("valid");
    assert_eq!(resolved.ensemble, None);
    assert_eq!(resolved.warnings.len(), 1);
    assert_eq!(resolved.warnings[0].0, 3);
    // standaloneEnabled=false: an ensemble of one.
    let k = keys(&[
        "standaloneEnabled=false",
        "initLimit=5",
        "syncLimit=2",
        "server.1=127.0.0.1:2888:3888",
    ]);
    let e = resolve(&k, Some(1))
        .expect("valid")
        .ensemble
        .expect("ensemble");
    assert_eq!(e.servers.len(), 1);
}

#[test]
fn my_client_address_follows_zookeeper() {
    let with = |mine: &str, client_port: Option<&str>| {
        let k = keys(&[
            "initLimit=5",
            "syncLimit=2",
            mine,
            "server.2=127.0.0.1:2889:3889",
            "server.3=127.0.0.1:2890:3890",
        ]);
        let client = client_port.map(|a| (a.parse::<SocketAddr>().expect("addr"), 2));
        k.resolve(Some(1), Path::new("/data/myid"), client)
    };
    let addr = |s: &str| Some(s.parse::<SocketAddr>().expect("addr"));
    let ok = |r: Result<Resolved, ServerError>| r.expect("valid").client_addr;
    // The line's client part alone, or the same address as clientPort.
    assert_eq!(
        ok(with("server.1=127.0.0.1:1:2;127.0.0.1:7", None)),
        addr("127.0.0.1:7")
    );
    assert_eq!(
        ok(with(
            "server.1=127.0.0.1:1:2;127.0.0.1:7",
            Some("127.0.0.1:7")
        )),
        addr("127.0.0.1:7")
    );
    // A wildcard clientPortAddress agrees with any address on the same port.
    assert_eq!(
        ok(with(
            "server.1=127.0.0.1:1:2;127.0.0.1:7",
            Some("0.0.0.0:7")
        )),
        addr("127.0.0.1:7")
    );
    assert_eq!(
        ok(with("server.1=127.0.0.1:1:2", Some("0.0.0.0:7"))),
        addr("0.0.0.0:7")
    );
    // Different ports, or a bare port (0.0.0.0) against a specific clientPortAddress: refused.
    for (mine, client_port) in [
        ("server.1=127.0.0.1:1:2;127.0.0.1:7", "127.0.0.1:8"),
        ("server.1=127.0.0.1:1:2;127.0.0.1:7", "0.0.0.0:8"),
        ("server.1=127.0.0.1:1:2;7", "127.0.0.1:7"),
    ] {
        let (at, key, message) = config_err(with(mine, Some(client_port)));
        assert_eq!((at, key.as_str()), (5, "server.1"), "{mine}");
        assert!(
            message.contains("differs from clientPortAddress/clientPort"),
            "{message}"
        );
    }
    let (at, key, message) = config_err(with("server.1=127.0.0.1:1:2", None));
    assert_eq!((at, key.as_str()), (0, "clientPort"));
    assert!(
        message.contains("server.1 (line 5) has no client port"),
        "{message}"
    );
}

#[test]
fn client_port_may_come_from_the_server_line() {
    let text = "dataDir=/x\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:1:2;127.0.0.1:7\n\
                server.2=127.0.0.1:3:4;127.0.0.1:8\nserver.3=127.0.0.1:5:6;127.0.0.1:9\n";
    let cfg = ServerConfig::parse(text).expect("no clientPort needed");
    assert_eq!(cfg.client_port_line, None);
    let resolved = cfg
        .quorum
        .resolve(Some(3), Path::new("m"), None)
        .expect("valid");
    assert_eq!(
        resolved.client_addr,
        Some("127.0.0.1:9".parse().expect("addr"))
    );
    // Without any client part, clientPort is still required; clientPortAddress alone is not
    // enough (ZooKeeper refuses it too).
    let (_, key, _) = config_err(ServerConfig::parse("dataDir=/x\nserver.1=h:1:2\n"));
    assert_eq!(key, "clientPort");
    let (at, key, _) = config_err(ServerConfig::parse(
        "dataDir=/x\nclientPortAddress=127.0.0.1\nserver.1=h:1:2;5\n",
    ));
    assert_eq!((at, key.as_str()), (2, "clientPortAddress"));
}

#[test]
fn two_addresses_on_one_port_are_refused() {
    // Lines: clientPort=127.0.0.1:2181 on 2, server.1 on 5, server.2 on 6, server.3 on 7.
    for (lines, at, key, expected) in [
        (
            [
                "server.1=127.0.0.1:2888:3888",
                "server.2=127.0.0.1:2888:3889",
            ],
            6,
            "server.2",
            "the quorum address 127.0.0.1:2888 of server 2 is also server 1's quorum address \
             (server.1, line 5)",
        ),
        (
            [
                "server.1=127.0.0.1:2888:3888",
                "server.2=127.0.0.1:3888:3889",
            ],
            6,
            "server.2",
            "is also server 1's election address",
        ),
        (
            [
                "server.1=127.0.0.1:2888:3888",
                "server.2=127.0.0.1:2889:2181",
            ],
            6,
            "server.2",
            "the election address 127.0.0.1:2181 of server 2 is also server 1's client address \
             (clientPort, line 2)",
        ),
        (
            [
                "server.1=127.0.0.1:2181:3888",
                "server.2=127.0.0.1:2889:3889",
            ],
            2,
            "clientPort",
            "the client address 127.0.0.1:2181 of server 1 is also its own quorum address \
             (server.1, line 5)",
        ),
        (
            [
                "server.1=127.0.0.1:2888:3888",
                "server.2=127.0.0.1:2889:3889;127.0.0.1:2181",
            ],
            6,
            "server.2",
            "the client address 127.0.0.1:2181 of server 2 is also server 1's client address",
        ),
    ] {
        let k = keys(
            &[
                &["initLimit=5", "syncLimit=2"],
                &lines[..],
                &["server.3=127.0.0.1:1:2"],
            ]
            .concat(),
        );
        let (got_at, got_key, message) = config_err(resolve(&k, Some(1)));
        assert_eq!(
            (got_at, got_key.as_str()),
            (at, key),
            "{lines:?}: {message}"
        );
        assert!(message.contains(expected), "{lines:?}: {message}");
    }
    // A wildcard client address clashes with the server's own ports on any IP.
    let k = keys(&[
        "initLimit=5",
        "syncLimit=2",
        "server.1=127.0.0.1:2888:3888",
        "server.2=127.0.0.1:1:2",
    ]);
    let wildcard = Some(("0.0.0.0:3888".parse().expect("addr"), 2));
    let (at, key, message) = config_err(k.resolve(Some(1), Path::new("m"), wildcard));
    assert_eq!((at, key.as_str()), (2, "clientPort"));
    assert!(
        message.contains("is also its own election address"),
        "{message}"
    );
    // Bare client ports of other servers (each on its own machine) do not clash.
    let k = keys(&[
        "initLimit=5",
        "syncLimit=2",
        "server.1=10.0.0.1:2888:3888;2181",
        "server.2=10.0.0.2:2888:3888;2181",
        "server.3=10.0.0.3:2888:3888;2181",
    ]);
    let client = Some(("0.0.0.0:2181".parse().expect("addr"), 2));
    assert!(k.resolve(Some(2), Path::new("m"), client).is_ok());
}

#[test]
fn peer_type_follows_the_server_list() {
    let k = keys(&[&THREE[..], &["peerType=observer"]].concat());
    let resolved = resolve(&k, Some(2)).expect("valid");
    assert_eq!(resolved.warnings.len(), 1, "{:?}", resolved.warnings);
    assert_eq!(resolved.warnings[0].0, 8);
    assert!(resolved.warnings[0].1.contains("server.2 is a participant"));
    let e = resolved.ensemble.expect("ensemble");
    assert_eq!(e.me().learner_type, LearnerType::Participant);
}

#[test]
fn unresolvable_hosts_are_refused() {
    let k = keys(&[
        "initLimit=5",
        "syncLimit=2",
        "server.1=127.0.0.1:2888:3888",
        "server.2=no-such-host.invalid:2888:3888",
        "server.3=127.0.0.1:2890:3890",
    ]);
    let (at, key, message) = config_err(resolve(&k, Some(1)));
    assert_eq!((at, key.as_str()), (6, "server.2"));
    assert!(
        message.contains("cannot resolve host \"no-such-host.invalid\""),
        "{message}"
    );
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("corral-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn reads_myid_as_zookeeper_does() {
    let dir = TempDir::new("myid-test");
    let path = dir.0.join("myid");
    assert_eq!(read_myid(&path).expect("absent"), None);
    for (content, expected) in [("1", Some(1)), ("2\n", Some(2)), ("3\r\nfoo\n", Some(3))] {
        std::fs::write(&path, content).expect("write");
        assert_eq!(read_myid(&path).expect(content), expected, "{content:?}");
    }
    for content in ["one\n", " 1\n", "", "1 \n", "99999999999999999999"] {
        std::fs::write(&path, content).expect("write");
        let (at, key, message) = config_err(read_myid(&path));
        assert_eq!((at, key.as_str()), (0, "myid"), "{content:?}");
        assert!(
            message.contains(&path.display().to_string()) && message.contains("is not a number"),
            "{content:?}: {message}"
        );
    }
    // A directory named myid is no myid file (ZooKeeper's isFile check).
    std::fs::remove_file(&path).expect("rm");
    std::fs::create_dir(&path).expect("mkdir");
    assert_eq!(read_myid(&path).expect("a directory"), None);
}

#[test]
fn load_builds_a_pseudo_cluster_member() {
    let dir = TempDir::new("ensemble-load");
    let servers = "initLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:12888:13888;127.0.0.1:12181\n\
                   server.2=127.0.0.1:12889:13889;127.0.0.1:12182\n\
                   server.3=127.0.0.1:12890:13890:observer;127.0.0.1:12183\n";
    for id in 1..=3u8 {
        let data = dir.0.join(format!("data{id}"));
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::write(data.join("myid"), format!("{id}\n")).expect("myid");
        let cfg_path = dir.0.join(format!("zoo{id}.cfg"));
        let peer_type = if id == 3 { "observer" } else { "participant" };
        std::fs::write(
            &cfg_path,
            format!(
                "tickTime=500\ndataDir={}\npeerType={peer_type}\n{servers}",
                data.display()
            ),
        )
        .expect("zoo.cfg");
        let cfg = ServerConfig::load(&cfg_path).expect("valid ensemble member");
        let e = cfg.ensemble.as_ref().expect("ensemble");
        assert_eq!(e.my_id, u64::from(id));
        assert_eq!(cfg.server_id, id);
        let port = 12180 + u16::from(id);
        assert_eq!(cfg.client_addr, SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(e.voters().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(e.observers().collect::<Vec<_>>(), vec![3]);
        assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
    }
    // Server 2 without its myid file refuses to start, naming the file.
    let myid = dir.0.join("data2").join("myid");
    std::fs::remove_file(&myid).expect("rm");
    let (_, key, message) = config_err(ServerConfig::load(&dir.0.join("zoo2.cfg")));
    assert_eq!(key, "myid");
    assert!(message.contains(&myid.display().to_string()), "{message}");
}

#[test]
fn load_standalone_checks_a_present_myid() {
    let dir = TempDir::new("standalone-myid");
    let cfg_path = dir.0.join("zoo.cfg");
    std::fs::write(
        &cfg_path,
        format!("dataDir={}\nclientPort=2181\n", dir.0.display()),
    )
    .expect("zoo.cfg");
    let cfg = ServerConfig::load(&cfg_path).expect("no myid: standalone");
    assert_eq!((cfg.ensemble, cfg.server_id), (None, 1));
    std::fs::write(dir.0.join("myid"), "7\n").expect("myid");
    let cfg = ServerConfig::load(&cfg_path).expect("a myid is fine");
    assert_eq!((cfg.ensemble, cfg.server_id), (None, 1));
    // ZooKeeper refuses a myid that is not a number even when standalone.
    std::fs::write(dir.0.join("myid"), "garbage\n").expect("myid");
    let (_, key, _) = config_err(ServerConfig::load(&cfg_path));
    assert_eq!(key, "myid");
}
