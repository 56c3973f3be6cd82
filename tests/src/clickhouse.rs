//! A real ClickHouse server (Debian's `clickhouse-server`) on loopback,
//! with its data in a temporary directory, alone or as one shard of a
//! cluster named `observe`; queried over its HTTP interface.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::processes::free_port;

/// One running server.
#[derive(Debug)]
pub struct ClickHouse {
    child: Option<Child>,
    dir: PathBuf,
    /// The HTTP interface.
    pub http: SocketAddr,
    /// The native port (what the cluster's shards speak).
    pub tcp: u16,
}

/// Whether the server is installed; when it is not and `.ci/run` requires
/// the tools, a panic says how to install it.
pub fn available() -> bool {
    crate::require_tool(
        "sh",
        &["-c", "command -v clickhouse-server"],
        "apt-get install clickhouse-server",
    )
    .is_some()
}

impl ClickHouse {
    /// Ports for a server not started yet (so a cluster can name them all
    /// before the first starts).
    pub fn ports() -> (u16, u16) {
        (free_port(), free_port())
    }

    /// Starts a server on `http` and `tcp`, whose cluster `observe` has one
    /// shard per port of `shards`; waits until it answers.
    pub fn start(http: u16, tcp: u16, shards: &[u16]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("observe-clickhouse-{}-{http}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary dir");
        let shards: String = shards
            .iter()
            .map(|port| {
                format!(
                    "<shard><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
                )
            })
            .collect();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><console>1</console></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <users_config>{dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>5368709</mark_cache_size>
    <remote_servers><observe>{shards}</observe></remote_servers>
</yandex>
"#,
            dir = dir.display()
        );
        let users = r#"<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <writer>
            <password>writer-secret</password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </writer>
    </users>
    <quotas><default></default></quotas>
</yandex>
"#;
        std::fs::write(dir.join("config.xml"), config).expect("config");
        std::fs::write(dir.join("users.xml"), users).expect("users");
        let mut server = Self {
            child: None,
            dir,
            http: ([127, 0, 0, 1], http).into(),
            tcp,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let child = Command::new("clickhouse-server")
            .arg(format!(
                "--config-file={}",
                self.dir.join("config.xml").display()
            ))
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clickhouse-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.query("SELECT 1").is_err() {
            assert!(
                Instant::now() < deadline,
                "clickhouse-server did not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Runs `sql`; the answer's body, or the server's error.
    pub fn query(&self, sql: &str) -> Result<String, String> {
        let mut stream = TcpStream::connect_timeout(&self.http, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}",
            sql.len()
        )
        .map_err(|e| e.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| e.to_string())?;
        let (head, body) = response.split_once("\r\n\r\n").ok_or("no response")?;
        if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
            Ok(body.to_string())
        } else {
            Err(body.to_string())
        }
    }

    /// A number the query returns.
    pub fn number(&self, sql: &str) -> u64 {
        let answer = self.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        answer
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{sql}: not a number: {answer:?}"))
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
