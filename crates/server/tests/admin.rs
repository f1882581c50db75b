//! The AdminServer over real HTTP: a command's JSON, the index, a POST, idle connections
//! closed after admin.idleTimeout, a taken port refused at start. (Every command's fields
//! against Apache ZooKeeper's own AdminServer: interop/test_admin_server.py.)

mod support;

use std::net::SocketAddr;

use corral_server::{Server, ServerConfig, ServerError};
use support::{fresh_dir, start_in};

const ADMIN: &str =
    "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\nadmin.idleTimeout=300\n";

/// Sends `request` as written and reads until the server closes the connection.
async fn exchange(admin: SocketAddr, request: &str) -> String {
    support::send_and_read(admin, request).await
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n")
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn commands_index_and_methods() {
    let dir = fresh_dir("admin");
    let server = start_in(&dir, ADMIN, None).await;
    let admin = server.admin.expect("AdminServer on");

    let ruok = exchange(admin, &get("/commands/ruok")).await;
    assert!(ruok.starts_with("HTTP/1.1 200 OK\r\n"), "{ruok}");
    assert!(
        ruok.contains("content-type: application/json\r\n"),
        "{ruok}"
    );
    let json: serde_json::Value = serde_json::from_str(body(&ruok)).expect("JSON");
    assert_eq!(json, serde_json::json!({"command": "ruok", "error": null}));

    let srvr = exchange(admin, &get("/commands/srvr")).await;
    let json: serde_json::Value = serde_json::from_str(body(&srvr)).expect("JSON");
    assert_eq!(json["command"], "server_stats");
    assert_eq!(json["server_stats"]["server_state"], "standalone");

    let index = exchange(admin, &get("/commands")).await;
    assert!(
        body(&index).starts_with("<a href=\"/commands/configuration\">configuration</a>\n<br/>\n"),
        "{index}"
    );
    let post = exchange(
        admin,
        "POST /commands/ruok HTTP/1.1\r\nHost: corral\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    let head = exchange(
        admin,
        "HEAD /commands/ruok HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body(&head), "", "no body for HEAD");
    let elsewhere = exchange(admin, &get("/metrics")).await;
    assert!(elsewhere.starts_with("HTTP/1.1 404 "), "{elsewhere}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let dir = fresh_dir("admin-idle");
    let server = start_in(&dir, ADMIN, None).await;
    let admin = server.admin.expect("AdminServer on");
    // Nothing sent: closed after admin.idleTimeout (exchange fails if it stays open).
    assert_eq!(exchange(admin, "").await, "");
    // A kept-alive connection after its answer: closed too.
    let kept = exchange(admin, "GET /commands/ruok HTTP/1.1\r\nHost: corral\r\n\r\n").await;
    assert!(kept.starts_with("HTTP/1.1 200 OK\r\n"), "{kept}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_taken_port_stops_the_server_and_off_means_off() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = fresh_dir("admin-taken");
    let cfg = ServerConfig::parse(&format!(
        "dataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={port}\n",
        dir.display()
    ))
    .expect("config");
    let err = match Server::bind(cfg).await {
        Err(e) => e,
        Ok(_) => panic!("the AdminServer's port is taken: bind must fail"),
    };
    assert!(matches!(err, ServerError::AdminBind { .. }), "{err}");
    assert!(err.to_string().contains("admin.serverPort"), "{err}");

    let _ = std::fs::remove_dir_all(&dir);
    let dir = fresh_dir("admin-off");
    let off = start_in(&dir, "", None).await;
    assert_eq!(off.admin, None);
    off.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
