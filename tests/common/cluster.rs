//! A private Redis Cluster on loopback for the cluster backend's tests: three primaries with
//! one replica each, `redis-server --cluster-enabled yes` on free ports (never 6379), joined
//! by `redis-cli --cluster create ... --cluster-replicas 1`. Dropped, it stops its servers
//! and removes its files.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node: its port, and its process while it runs.
struct Server {
    port: u16,
    child: Option<Child>,
}

pub struct Cluster {
    dir: std::path::PathBuf,
    servers: Vec<Server>,
}

/// A port free for the node and for its cluster bus (the port plus 10000).
fn free_pair() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if port < 55000
            && port != 6379
            && std::net::TcpListener::bind(("127.0.0.1", port + 10000)).is_ok()
        {
            return port;
        }
    }
}

impl Cluster {
    /// Starts six nodes and joins them; returns once every node sees a healthy cluster with
    /// every replica in sync.
    pub fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "tjs-cluster-{}-{}",
            std::process::id(),
            free_pair()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Cluster {
            dir,
            servers: Vec::new(),
        };
        for _ in 0..6 {
            let port = free_pair();
            let child = cluster.spawn(port);
            cluster.servers.push(Server {
                port,
                child: Some(child),
            });
        }
        for server in &cluster.servers {
            wait_for(&format!("node {} to start", server.port), || {
                std::net::TcpStream::connect(("127.0.0.1", server.port)).is_ok()
            });
        }
        let nodes: Vec<String> = cluster
            .servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is installed");
        assert!(created.success(), "redis-cli --cluster create failed");
        cluster.wait_healthy();
        wait_for("every replica to be in sync", || {
            let primaries = cluster.primaries();
            primaries.len() == 3
                && primaries
                    .iter()
                    .all(|&p| cli(p, &["INFO", "replication"]).contains("state=online"))
        });
        cluster
    }

    fn spawn(&self, port: u16) -> Child {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            // A dead primary is found, and its replica promoted, within about a second.
            .args(["--cluster-node-timeout", "1000"])
            .args(["--cluster-replica-validity-factor", "0"])
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed")
    }

    /// Every running node reports `cluster_state:ok` and agrees on who serves each slot,
    /// and every primary has its replica in sync.
    pub fn wait_healthy(&self) {
        wait_for("the cluster to be healthy", || {
            let running: Vec<u16> = self.running();
            let ok = running
                .iter()
                .all(|&port| cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            let views: Vec<String> = running.iter().map(|&p| slots_view(p)).collect();
            ok && views.windows(2).all(|w| w[0] == w[1])
        });
    }

    fn running(&self) -> Vec<u16> {
        self.servers
            .iter()
            .filter(|s| s.child.is_some())
            .map(|s| s.port)
            .collect()
    }

    /// Seed URLs of every node, comma-separated, as `REDIS_URL` takes them.
    pub fn seeds(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The ports of the running primaries.
    pub fn primaries(&self) -> Vec<u16> {
        self.running()
            .into_iter()
            .filter(|&p| cli(p, &["ROLE"]).starts_with("master"))
            .collect()
    }

    /// The replica of the primary on `primary`.
    pub fn replica_of(&self, primary: u16) -> u16 {
        let id = cli(primary, &["CLUSTER", "MYID"]).trim().to_owned();
        self.running()
            .into_iter()
            .find(|&p| {
                cli(p, &["CLUSTER", "NODES"])
                    .lines()
                    .any(|l| l.contains("myself") && l.contains("slave") && l.contains(&id))
            })
            .expect("every primary has a replica")
    }

    /// `CLUSTER FAILOVER` on the replica of `primary`: the two swap roles, with no write lost.
    pub fn manual_failover(&self, primary: u16) -> u16 {
        let replica = self.replica_of(primary);
        assert_eq!(cli(replica, &["CLUSTER", "FAILOVER"]).trim(), "OK");
        wait_for("the replica to take over", || {
            cli(replica, &["ROLE"]).starts_with("master")
        });
        replica
    }

    /// Kills the primary's process (SIGKILL): the cluster promotes its replica by itself.
    pub fn kill(&mut self, port: u16) {
        let server = self.servers.iter_mut().find(|s| s.port == port).unwrap();
        if let Some(mut child) = server.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed node again, with the configuration it had: it rejoins as a replica.
    pub fn restart(&mut self, port: u16) {
        let child = self.spawn(port);
        let server = self.servers.iter_mut().find(|s| s.port == port).unwrap();
        server.child = Some(child);
        wait_for("the node to start again", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Moves `count` slots from the primary on `from` to the one on `to`, key by key, with
    /// `redis-cli --cluster reshard` (`MIGRATING`/`IMPORTING`, then `MIGRATE`).
    pub fn reshard(&self, from: u16, to: u16, count: usize) {
        let id = |port: u16| cli(port, &["CLUSTER", "MYID"]).trim().to_owned();
        // redis-cli refuses to start while the nodes' views of the configuration differ
        // (for a moment after any change): it changed nothing then, and is run again.
        wait_for("redis-cli --cluster reshard to succeed", || {
            Command::new("redis-cli")
                .args(["--cluster", "reshard", &format!("127.0.0.1:{from}")])
                .args(["--cluster-from", &id(from), "--cluster-to", &id(to)])
                .args(["--cluster-slots", &count.to_string(), "--cluster-yes"])
                .args(["--cluster-pipeline", "10"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        });
    }

    /// The slots the primary on `port` serves, lowest first.
    pub fn slots_of(&self, port: u16) -> Vec<u16> {
        cli(port, &["CLUSTER", "NODES"])
            .lines()
            .find(|l| l.contains("myself"))
            .map(slot_ranges)
            .unwrap_or_default()
    }

    /// The port of the primary serving `slot`, as the first running node sees it.
    pub fn owner_of(&self, slot: u16) -> Option<u16> {
        let port = *self.running().first()?;
        cli(port, &["CLUSTER", "NODES"])
            .lines()
            .filter(|l| l.contains("master") && !l.contains("fail"))
            .find(|l| slot_ranges(l).contains(&slot))
            .and_then(|l| {
                let address = l.split(' ').nth(1)?;
                let (_, port) = address.split('@').next()?.rsplit_once(':')?;
                port.parse().ok()
            })
    }

    /// Sums the `INFO` counters named `name` (for instance `cmdstat_asking` and its `calls`)
    /// over every running node.
    pub fn count_stat(&self, section: &str, name: &str, field: &str) -> u64 {
        self.running()
            .into_iter()
            .map(|port| {
                cli(port, &["INFO", section])
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix(&format!("{name}:")))
                    .flat_map(|fields| fields.split(','))
                    .filter_map(|kv| kv.strip_prefix(&format!("{field}=")))
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum()
    }

    /// How many keys matching `pattern` the node on `port` holds.
    pub fn count_keys(&self, port: u16, pattern: &str) -> usize {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "--scan", "--pattern", pattern])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

/// The node's view of which node serves which slots, for comparing views.
fn slots_view(port: u16) -> String {
    let mut lines: Vec<String> = cli(port, &["CLUSTER", "NODES"])
        .lines()
        .filter(|l| l.contains("master") && !l.contains("fail"))
        .map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            format!("{} {}", fields[0], fields[8..].join(" "))
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// The slots of one `CLUSTER NODES` line (ranges `a-b` and single slots; the `[slot->-id]`
/// marks of a migration in progress are not the node's).
fn slot_ranges(line: &str) -> Vec<u16> {
    line.split(' ')
        .skip(8)
        .filter(|field| !field.starts_with('['))
        .flat_map(|field| {
            let (low, high) = field.split_once('-').unwrap_or((field, field));
            let (low, high): (u16, u16) =
                (low.trim().parse().unwrap(), high.trim().parse().unwrap());
            low..=high
        })
        .collect()
}

/// `redis-cli -p port args...`, its output.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited 60 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(mut child) = server.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
