//! The `mission-control` binary: starts with `--db` and `--listen`, serves, and keeps its data
//! across a restart (the schema migration runs once).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator credential the binary is started with (it creates properties only with it).
const OPERATOR: &str = "op_binary_test_0123456789";

fn start(db: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mission-control"))
        .args(["--db", db.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("KEYWAY_MC_OPERATOR_TOKEN", OPERATOR)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Running { child, base }
}

#[tokio::test]
async fn the_binary_serves_and_keeps_its_data_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mc.db");
    let http = reqwest::Client::new();
    let token = {
        let server = start(&db);
        let health: serde_json::Value =
            http.get(format!("{}/health", server.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], "ok");
        let created: keyway_api::CreatePropertyResponse = http
            .post(format!("{}/v1/properties", server.base))
            .bearer_auth(OPERATOR)
            .json(&serde_json::json!({ "name": "Elm Court", "manager_name": "Pat" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let door = http
            .post(format!("{}/v1/doors", server.base))
            .bearer_auth(&created.manager.token)
            .json(&serde_json::json!({ "name": "Lobby", "online": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(door.status().as_u16(), 200);
        created.manager.token
    };
    let server = start(&db);
    let doors: Vec<keyway_api::DoorInfo> =
        http.get(format!("{}/v1/doors", server.base)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(doors.len(), 1);
    assert_eq!(doors[0].name, "Lobby");
}
