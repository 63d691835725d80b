//! The command line as an operator uses it: `init`, `serve` under signals, `token` and `backup` beside a running
//! service, and the refusals that protect the data directory.

use std::os::unix::fs::PermissionsExt;

use reqwest::Method;
use serde_json::json;

use crate::common::process::{Served, init, run, stderr_of, stdout_of};
use crate::common::{bytes_found_under, expect_error, expect_json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn init_prints_a_token_that_serve_accepts_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = init(&data);
    assert!(token.starts_with("sdt_"), "last line is the token alone: {token}");
    assert_eq!(std::fs::metadata(data.join("sealing.key")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);

    let served = Served::start(&data, &[]).await;
    let me = client().get(format!("{}/api/v1/me", served.base_url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(expect_json(me, 200).await["role"], "superadmin");
    let status = served.terminate().await;
    assert!(status.success(), "SIGTERM ends serve with success, got {status:?}");
}

#[tokio::test]
async fn init_twice_refuses_and_keeps_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = init(&data);
    let key_before = std::fs::read(data.join("sealing.key")).unwrap();
    let again = run(&data, &["init", "--admin", "other"]);
    assert!(!again.status.success());
    assert!(stderr_of(&again).contains("already initialized"), "{}", stderr_of(&again));
    assert_eq!(std::fs::read(data.join("sealing.key")).unwrap(), key_before);
    let served = Served::start(&data, &[]).await;
    let users = client().get(format!("{}/api/v1/users", served.base_url)).bearer_auth(&token).send().await.unwrap();
    let users = expect_json(users, 200).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn serve_refuses_a_key_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    std::fs::set_permissions(data.join("sealing.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(&data, &["serve"]);
    assert!(!output.status.success());
    let message = stderr_of(&output);
    assert!(message.contains("readable by group or others") && message.contains("chmod 600"), "{message}");
}

#[tokio::test]
async fn serve_on_an_empty_directory_says_to_run_init() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&dir.path().join("nothing"), &["serve"]);
    assert!(!output.status.success());
    assert!(stderr_of(&output).contains("scaidrive-connectors init"), "{}", stderr_of(&output));
}

#[tokio::test]
async fn bad_config_file_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlog_levle = \"debug\"\n").unwrap();
    let output = run(dir.path(), &["--config", config.to_str().unwrap(), "serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("log_levle"), "{}", stderr_of(&output));
}

#[tokio::test]
async fn token_commands_work_beside_the_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init(&data);
    let served = Served::start(&data, &[]).await;
    let created = run(&data, &["token", "create", "--user", "admin", "--name", "laptop"]);
    assert!(created.status.success(), "{}", stderr_of(&created));
    let secret = stdout_of(&created).lines().last().unwrap().to_owned();
    let me = client().get(format!("{}/api/v1/me", served.base_url)).bearer_auth(&secret).send().await.unwrap();
    let token_id = expect_json(me, 200).await["token_id"].as_str().unwrap().to_owned();
    let listed = stdout_of(&run(&data, &["token", "list", "--user", "admin"]));
    assert!(listed.contains(&token_id) && !listed.contains(&secret), "{listed}");
    let revoked = run(&data, &["token", "revoke", &token_id]);
    assert!(revoked.status.success(), "{}", stderr_of(&revoked));
    let me = client().get(format!("{}/api/v1/me", served.base_url)).bearer_auth(&secret).send().await.unwrap();
    expect_error(me, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn backup_while_serving_opens_in_a_second_appliance_with_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = init(&data);
    let first = Served::start(&data, &[]).await;
    let created = client()
        .post(format!("{}/api/v1/users", first.base_url))
        .bearer_auth(&token)
        .json(&json!({"user_name": "alice", "email": "alice@example.test"}))
        .send()
        .await
        .unwrap();
    let alice = expect_json(created, 201).await;
    let share =
        client().post(format!("{}/api/v1/shares", first.base_url)).bearer_auth(&token).json(&json!({"name": "Kept"}));
    let share = expect_json(share.send().await.unwrap(), 201).await["id"].as_str().unwrap().to_owned();
    let upload = client()
        .put(format!("{}/api/v1/shares/{share}/content?path=/a/b.txt", first.base_url))
        .bearer_auth(&token)
        .body("backed up");
    assert!(upload.send().await.unwrap().status().is_success());

    let copy = dir.path().join("backup.redb");
    let output = run(&data, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let again = run(&data, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(!again.status.success(), "an existing backup is never overwritten");

    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::set_permissions(&restored, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(&copy, restored.join("scaidrive.redb")).unwrap();
    std::fs::copy(data.join("sealing.key"), restored.join("sealing.key")).unwrap();
    // Content files are immutable and named by their hash: copied after the database snapshot, they hold
    // everything it refers to.
    let copied =
        std::process::Command::new("cp").arg("-a").arg(data.join("content")).arg(restored.join("content")).status();
    assert!(copied.unwrap().success());
    std::fs::set_permissions(restored.join("sealing.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let second = Served::start(&restored, &[]).await;
    let url = format!("{}/api/v1/users/{}", second.base_url, alice["id"].as_str().unwrap());
    let restored_alice = expect_json(client().get(url).bearer_auth(&token).send().await.unwrap(), 200).await;
    assert_eq!(restored_alice, alice);
    let file =
        client().get(format!("{}/api/v1/shares/{share}/content?path=/a/b.txt", second.base_url)).bearer_auth(&token);
    assert_eq!(file.send().await.unwrap().text().await.unwrap(), "backed up");
}

#[tokio::test]
async fn token_secrets_are_in_neither_the_data_directory_nor_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin_token = init(&data);
    let served = Served::start(&data, &[("RUST_LOG", "trace")]).await;
    let issued = client()
        .post(format!("{}/api/v1/tokens", served.base_url))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "deploy"}))
        .send()
        .await
        .unwrap();
    let secret = expect_json(issued, 201).await["token"].as_str().unwrap().to_owned();
    let me = client().request(Method::GET, format!("{}/api/v1/me", served.base_url)).bearer_auth(&secret).send();
    expect_json(me.await.unwrap(), 200).await;
    let log = served.log_text();
    assert!(log.contains("serving"), "the log was captured: {log}");
    for secret in [&admin_token, &secret] {
        assert!(!log.contains(secret.as_str()), "a token secret is in the log");
        assert_eq!(bytes_found_under(&data, secret.as_bytes()), None, "a token secret is on disk");
    }
}
