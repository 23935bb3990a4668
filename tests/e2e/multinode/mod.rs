//! Many gateway nodes on one PostgreSQL database (only in the `e2e_postgres` binary).
//!
//! A [`Cluster`] is what a deployment is: standalone simulators (the providers), N gateway
//! processes with data directories of their own sharing one database and one master key,
//! and a TCP load balancer in front of them ([`Balancer`]) that providers call back through
//! and clients may send through, which skips a node that does not answer, as a real one does.

mod chaos;
mod chat_switch;
mod outage;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Gateway, SandboxProcess, TestDir, bin, free_port, fresh_dir};
use crate::wallet::{Billing, US_SMS, set_wallet, wait_final};

/// A plain TCP balancer on 127.0.0.1: each connection goes to the next node in turn, and on
/// to the one after when a node refuses the connection (it is down).
pub struct Balancer {
    pub url: String,
    backends: Arc<Mutex<Vec<SocketAddr>>>,
    /// Its own runtime, so it outlives whatever the test does with its own; stopped without
    /// blocking, as the test drops it on an async thread.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}

impl Balancer {
    pub fn start() -> Balancer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let backends: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        let list = backends.clone();
        runtime.spawn(async move {
            let mut turn = 0usize;
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let nodes = list.lock().unwrap().clone();
                turn += 1;
                tokio::spawn(async move {
                    for k in 0..nodes.len() {
                        let node = nodes[(turn + k) % nodes.len()];
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(node).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Balancer {
            url,
            backends,
            runtime: Some(runtime),
        }
    }

    fn add(&self, node: SocketAddr) {
        self.backends.lock().unwrap().push(node);
    }
}

/// One gateway process of a cluster, which may be killed and started again on its directory.
pub struct Node {
    pub dir: TestDir,
    pub listen: String,
    pub gw: Option<Gateway>,
}

pub struct Cluster {
    pub sim: SandboxProcess,
    pub balancer: Balancer,
    pub nodes: Vec<Node>,
    /// Every node's start-up options (the simulators, the balancer as public URL, ...).
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Cluster {
    /// Simulators, a balancer and `n` nodes, started one after the other (the first one makes
    /// the sandbox workspace; the others find it).
    pub fn start(name: &str, n: usize, extra: &[&str]) -> Cluster {
        Cluster::start_on(name, n, extra, None)
    }

    /// [`Cluster::start`] on the database at `database` rather than a fresh one of the
    /// shared test cluster.
    pub fn start_on(name: &str, n: usize, extra: &[&str], database: Option<&str>) -> Cluster {
        let sim = SandboxProcess::start();
        let balancer = Balancer::start();
        let master_key = String::from_utf8(
            Command::new(bin())
                .arg("new-master-key")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_string();
        // Every node the same operator key: from its data directory, as a newcomer would
        // start them (SWITCHBOARD_OPERATOR_KEY does the same from a secret store).
        let operator_key = format!("sk_operator_{}", uuid_like());
        let mut args: Vec<String> = vec![
            "--sandbox-url".into(),
            sim.url.clone(),
            "--public-url".into(),
            balancer.url.clone(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let env = vec![("SWITCHBOARD_MASTER_KEY".to_string(), master_key)];
        let mut nodes = Vec::new();
        // Shared by every node; named in the first node's directory, which drops it when the
        // test passes (a database given by the test is the test's).
        let mut database_url = String::new();
        for i in 0..n {
            let dir = fresh_dir(&format!("{name}-node{i}"));
            std::fs::write(dir.join("operator.key"), &operator_key).unwrap();
            match (i, database) {
                (0, Some(url)) => {
                    crate::support::use_database(&dir, url);
                    database_url = url.to_string();
                }
                (0, None) => {
                    database_url = crate::support::database_url(&dir).expect("a PostgreSQL run");
                }
                _ => crate::support::use_database(&dir, &database_url),
            }
            let listen = format!("127.0.0.1:{}", free_port());
            balancer.add(listen.parse().unwrap());
            nodes.push(Node {
                dir,
                listen,
                gw: None,
            });
        }
        let mut cluster = Cluster {
            sim,
            balancer,
            nodes,
            args,
            env,
        };
        for i in 0..n {
            cluster.restart(i);
        }
        cluster
    }

    pub fn node(&self, i: usize) -> &Gateway {
        self.nodes[i].gw.as_ref().expect("the node is running")
    }

    /// Start node `i` (again) on its directory and address.
    pub fn restart(&mut self, i: usize) {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let node = &mut self.nodes[i];
        node.gw = None;
        node.gw = Some(Gateway::start_with_env(
            &node.dir,
            &node.listen,
            &args,
            &env,
        ));
    }

    /// SIGKILL node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut gw) = self.nodes[i].gw.take() {
            gw.kill();
        }
    }

    pub fn node_dir(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }
}

/// Random hex, for keys the test makes up.
fn uuid_like() -> String {
    (0..32)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

async fn until(within: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The stated bound (`switchboard_gateway::app::shared_caches::BOUND`): a key revoked through
/// one node stops working on the other within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_on_one_node_stops_it_on_the_other() {
    let cluster = tokio::task::block_in_place(|| Cluster::start("mn-revoke", 2, &[]));
    let (a, b) = (cluster.node(0), cluster.node(1));
    let (_, owner) = a.new_workspace("Revoke Inc").await;
    let (s, created) = a
        .call(
            Method::POST,
            "/v1/keys",
            &owner,
            Some(&json!({"name": "ci", "scopes": ["read"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let (secret, id) = (
        created["key"].as_str().unwrap().to_string(),
        created["id"].as_str().unwrap().to_string(),
    );
    // B knows the key, and caches it.
    let (s, _) = b.call(Method::GET, "/v1/messages", &secret, None).await;
    assert_eq!(s, StatusCode::OK);

    let s = a
        .call(Method::DELETE, &format!("/v1/keys/{id}"), &owner, None)
        .await
        .0;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let bound = switchboard_gateway::app::shared_caches::BOUND;
    let took = until(bound, "the revoked key fails on node B", async || {
        b.call(Method::GET, "/v1/messages", &secret, None).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    println!("revoked on A, refused on B after {took:?} (bound {bound:?})");
    // A refuses it at once: it revoked it.
    assert_eq!(
        a.call(Method::GET, "/v1/messages", &secret, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// A connection disabled on one node is disabled on the other within the same bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_changed_on_one_node_changes_on_the_other() {
    let cluster = tokio::task::block_in_place(|| Cluster::start("mn-conn", 2, &[]));
    let (a, b) = (cluster.node(0), cluster.node(1));
    let id = "con_sandbox_twilio_sms";
    let (s, _) = b.get(&format!("/v1/connections/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = a
        .call(
            Method::PATCH,
            &format!("/v1/connections/{id}"),
            &a.key,
            Some(&json!({"name": "renamed on A"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let bound = switchboard_gateway::app::shared_caches::BOUND;
    until(bound, "node B sees the new name", async || {
        b.get(&format!("/v1/connections/{id}")).await.1["name"] == "renamed on A"
    })
    .await;
}

/// Two nodes race for the last cents: 24 sends, 12 through each node at once, against five
/// sends' worth of money. Exactly five go out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_race_for_the_last_cents_and_exactly_five_go_out() {
    let cluster = tokio::task::block_in_place(|| Cluster::start("mn-cents", 2, &[]));
    let (a, b) = (cluster.node(0), cluster.node(1));
    set_wallet(a, 5 * US_SMS, 0).await;
    let sends = (0..24).map(|i| {
        let gw = if i % 2 == 0 { a } else { b };
        async move { gw.send_sms(&format!("+1415558{i:04}"), "last cents").await }
    });
    let ids = crate::wallet::futures_join(sends).await;
    let mut delivered = 0;
    for id in &ids {
        let m = wait_final(a, id).await;
        match m["status"].as_str().unwrap() {
            "delivered" => delivered += 1,
            _ => assert_eq!(
                m["deliveries"][0]["failure"]["reason"], "insufficient_funds",
                "{m:#}"
            ),
        }
    }
    assert_eq!(delivered, 5);
    let stats = crate::support::sim_get(&cluster.sim.url, "/_sandbox/stats").await;
    assert_eq!(
        stats["sms"]["requests"], 5,
        "refused sends never reach the provider"
    );
    let after = Billing::of(b).balance().await;
    assert_eq!(
        (after["paid_micros"].as_i64(), after["held_micros"].as_i64()),
        (Some(0), Some(0))
    );
}

/// A step's timer is in the database, not in the node that set it: with that node dead, the
/// other one fires it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_timer_set_on_one_node_fires_on_the_other_when_it_is_dead() {
    let mut cluster = tokio::task::block_in_place(|| Cluster::start("mn-timer", 2, &[]));
    let a = cluster.node(0);
    // SMS never reaches `seen`, so the first step times out after 3 s and the email goes.
    let (s, body) = a
        .post_message(&json!({
            "policy": {"name": "inline", "steps": [
                {"send": {"channel": "sms"}, "until": "seen", "timeout_ms": 3000},
                {"send": {"channel": "email"}, "until": "accepted", "timeout_ms": 60000}
            ]},
            "to": {"phone": "+14155550123", "email": "timer@example.com"},
            "content": {"text": "timer across nodes"}
        }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    // The text went out (through whichever node claimed it); then A dies before the timer.
    a.wait_for(&id, "delivered", Duration::from_secs(30)).await;
    cluster.kill(0);
    let b = cluster.node(1);
    let msg = until_message(b, &id, Duration::from_secs(30), |m| {
        m["route"]["outcome"] == "succeeded"
    })
    .await;
    assert_eq!(msg["route"]["steps"][0]["state"], "timed_out", "{msg:#}");
    let mails = crate::support::sim_get(&cluster.sim.url, "/_sandbox/email/messages").await;
    let to_timer = mails
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to"].to_string().contains("timer@example.com"))
        .count();
    assert_eq!(to_timer, 1, "the timer fired once: {mails}");
}

async fn until_message(
    gw: &Gateway,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (s, msg) = gw.get(&format!("/v1/messages/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{msg}");
        if done(&msg) {
            return msg;
        }
        assert!(Instant::now() < deadline, "{msg:#}\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two nodes starting at once on a new database: each migration is applied once, and both
/// serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_starting_at_once_apply_each_migration_once() {
    let dirs = [fresh_dir("mn-migrate-a"), fresh_dir("mn-migrate-b")];
    let url = crate::support::database_url(&dirs[0]).expect("a PostgreSQL run");
    crate::support::use_database(&dirs[1], &url);
    let mut children: Vec<_> = dirs
        .iter()
        .map(|dir| {
            Command::new(bin())
                .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
                .arg("--data-dir")
                .arg(dir.as_ref() as &Path)
                .args(["--database", &url])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in &mut children {
        let out = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(out));
            lines.find_map(|l| l.ok().filter(|l| l.starts_with("switchboard listening")))
        })
        .await
        .unwrap();
        assert!(line.is_some(), "both nodes start");
    }
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let store = crate::support::open_store(&dirs[0]);
    let versions: Vec<(i64, i64)> = store
        .read(|c| {
            Ok::<_, switchboard_gateway::store::StoreError>(
                c.prepare(
                    "SELECT version, COUNT(*) FROM switchboard_migrations GROUP BY version ORDER BY version",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?,
            )
        })
        .await
        .unwrap();
    assert!(!versions.is_empty());
    assert!(
        versions
            .iter()
            .enumerate()
            .all(|(i, (v, n))| *v == i as i64 + 1 && *n == 1),
        "{versions:?}"
    );
    // And `switchboard migrate` afterwards has nothing left to do.
    let out = Command::new(bin())
        .args(["migrate", "--database", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "applied 0 migration(s)"
    );
}

/// Prices and policies are read from the database where they are used: one set through node
/// A applies on node B at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_and_a_policy_set_on_one_node_apply_on_the_other() {
    let cluster = tokio::task::block_in_place(|| Cluster::start("mn-prices", 2, &[]));
    let (a, b) = (cluster.node(0), cluster.node(1));
    let (s, body) = Billing::of(a)
        .send(
            Method::POST,
            "/v1/billing/prices",
            json!({"channel": "sms", "product": "sms", "country": "US", "unit_price_micros": 4_321}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (_, preview) = b
        .post_json(
            "/v1/messages/preview",
            &json!({"channel": "sms", "to": {"phone": "+14155550199"}, "content": {"text": "hi"}}),
        )
        .await;
    assert_eq!(preview["cost"]["cost_micros"], 4_321, "{preview}");

    let policy = json!({"name": "across", "steps": [
        {"send": {"channel": "email"}, "until": "accepted", "timeout_ms": 5000}
    ]});
    let (s, body) = a.post_json("/v1/policies", &policy).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, sent) = b
        .post_message(
            &json!({"policy": "across", "to": {"email": "policy@example.com"},
                              "content": {"subject": "s", "text": "by a policy made on A"}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
    until_message(
        b,
        sent["id"].as_str().unwrap(),
        Duration::from_secs(30),
        |m| m["route"]["outcome"] == "succeeded",
    )
    .await;
}
