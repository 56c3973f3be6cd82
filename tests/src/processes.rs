//! Built executables run as an operator would: the workspace's examples
//! and binaries, started with a clean observability environment (and, for
//! floods, a descriptor limit), spoken to over plain HTTP/1.1, stopped with
//! SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Builds with `cargo build --workspace --locked` and `args` (for example
/// `["--example", "quickstart"]` or `["-p", "observe-examples", "--bins"]`);
/// every executable built, as (package id, target name, path). Cargo says
/// where each is: the quickstarts share one name.
pub fn built(args: &[&str]) -> Vec<(String, String, String)> {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--message-format=json", "--locked", "-q"])
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo");
    assert!(output.status.success(), "cargo build {args:?} failed");
    let mut found = Vec::new();
    for line in String::from_utf8(output.stdout).expect("UTF-8").lines() {
        let message: serde_json::Value = serde_json::from_str(line).expect("JSON");
        if let (Some(package), Some(target), Some(executable)) = (
            message["package_id"].as_str(),
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            found.push((package.into(), target.into(), executable.into()));
        }
    }
    found
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A started executable, killed if the test ends before it exits.
#[derive(Debug)]
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Running {
    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

/// `executable` with at most `descriptors` open files (`ulimit -n`); with
/// `None`, as it is.
pub fn command(executable: &str, descriptors: Option<u32>) -> Command {
    match descriptors {
        None => Command::new(executable),
        Some(descriptors) => {
            let mut command = Command::new("bash");
            command.args([
                "-c",
                &format!("ulimit -n {descriptors} && exec \"$0\""),
                executable,
            ]);
            command
        }
    }
}

/// Starts `command` with INFO logs on stdout (piped), no Sentry, no span
/// export, and `envs`.
pub fn start(mut command: Command, envs: &[(&str, String)]) -> Running {
    let child = command
        .env("RUST_LOG", "info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SENTRY_DSN")
        .env_remove("OBSERVE_ADMIN_TOKEN")
        .env_remove("OBSERVE_METRICS_ADDR")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    Running(child)
}

/// A whole HTTP/1.1 exchange on a fresh connection, giving up after a few
/// seconds: (status, body), or `None` when nothing answered.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Polls `GET path` until it answers, for at most a minute.
pub fn wait_for(addr: SocketAddr, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(answer) = get(addr, path) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered {path} on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM and waits (at most 30 s) for a clean exit; its stdout's
/// JSON lines, which must include the shutdown line.
pub fn terminate(running: &mut Running, name: &str) -> Vec<serde_json::Value> {
    let child = &mut running.0;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{name} exited with {status}");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .map(|line| serde_json::from_str(&line.expect("a line")).expect("a JSON line"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "shutdown signal received"),
        "{name}: {lines:?}"
    );
    lines
}

/// Opens up to `connections` connections to `addr`, each sending half a
/// request head (slowloris); stops early when a connect hangs (the listen
/// backlog is full).
pub fn half_sent_heads(addr: SocketAddr, connections: usize) -> Vec<TcpStream> {
    let mut flood = Vec::new();
    for _ in 0..connections {
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            break;
        };
        if stream
            .write_all(b"GET /users/1 HTTP/1.1\r\nhost: t\r\n")
            .is_ok()
        {
            flood.push(stream);
        }
    }
    flood
}

/// Reads until the server closes `stream` (`Some`, with what it sent) or a
/// minute passes (`None`).
pub fn closed_by_server(stream: &mut TcpStream) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        // A reset is closed too.
        _ => Some(String::from_utf8_lossy(&answer).into_owned()),
    }
}
