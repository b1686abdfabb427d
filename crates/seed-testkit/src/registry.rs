//! A real OCI registry for integration tests: CNCF Distribution (Debian's
//! `docker-registry`, 2.8.x) serving plain HTTP on a free loopback port, with
//! its storage in a temporary directory. The process is killed and the
//! storage removed when the handle drops.
//!
//! The binary is `$SEED_ETH_DISTRIBUTION_BIN` if set, else `docker-registry` or
//! `registry` (upstream's name) on `PATH`. A missing binary is an error that
//! says how to install it: tests fail, they never skip.

use std::{
    fs,
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The environment variable naming the registry binary.
pub const REGISTRY_ENV: &str = "SEED_ETH_DISTRIBUTION_BIN";

/// How long a freshly started registry may take to answer `/v2/`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The user of a registry started with [`TestRegistry::start_with_basic_auth`].
pub const TEST_USER: &str = "seed";
/// That user's password.
pub const TEST_PASSWORD: &str = "seed-eth-test";
/// bcrypt (cost 4, fast) of [`TEST_PASSWORD`], as Distribution's htpasswd
/// file wants it.
const TEST_PASSWORD_BCRYPT: &str = "$2b$04$BTTMMinNKBND.RWFbzlyxOXbxpTwu6TkWF.Mm.lXbgjVlessGy/gy";

/// Why the registry could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No registry binary was found.
    #[error("no OCI registry binary found (tried {tried}); install CNCF Distribution with `apt-get install docker-registry`, or set {REGISTRY_ENV} to a `registry` binary")]
    NotFound {
        /// What was tried, in order.
        tried: String,
    },
    /// `$SEED_ETH_DISTRIBUTION_BIN` names a file that does not exist.
    #[error("{REGISTRY_ENV}={} does not exist; unset it or point it at a CNCF Distribution `registry` binary", path.display())]
    EnvPathMissing {
        /// The configured path.
        path: PathBuf,
    },
    /// Setting up the temporary directory, config or process failed.
    #[error("could not start the registry at {}: {source}", binary.display())]
    Io {
        /// The binary.
        binary: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The registry exited or never answered `/v2/`.
    #[error("the registry at {} did not become ready on {addr}: {reason}; its log:\n{log}", binary.display())]
    NotReady {
        /// The binary.
        binary: PathBuf,
        /// The address it was told to listen on.
        addr: SocketAddr,
        /// What happened.
        reason: String,
        /// The registry's own log output.
        log: String,
    },
}

/// Finds the registry binary (see the module documentation for the order).
pub fn registry_binary() -> Result<PathBuf, RegistryError> {
    if let Some(path) = std::env::var_os(REGISTRY_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        // A wrong configured path is a configuration error, not a reason to
        // pick some other registry silently.
        return Err(RegistryError::EnvPathMissing { path });
    }
    let names = ["docker-registry", "registry"];
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| names.map(|name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    });
    found.ok_or_else(|| RegistryError::NotFound {
        tried: format!("${REGISTRY_ENV} (unset), docker-registry and registry on PATH"),
    })
}

/// A running registry. Killed, and its storage deleted, on drop.
#[derive(Debug)]
pub struct TestRegistry {
    child: Option<Child>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl TestRegistry {
    /// Starts a registry on a free loopback port and waits until `/v2/`
    /// answers.
    pub fn start() -> Result<Self, RegistryError> {
        Self::start_inner(false)
    }

    /// Like [`Self::start`], but every request needs HTTP basic credentials:
    /// [`TEST_USER`] and [`TEST_PASSWORD`].
    pub fn start_with_basic_auth() -> Result<Self, RegistryError> {
        Self::start_inner(true)
    }

    fn start_inner(basic_auth: bool) -> Result<Self, RegistryError> {
        let binary = registry_binary()?;
        let io = |source| RegistryError::Io {
            binary: binary.clone(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("seed-eth-registry-")
            .tempdir()
            .map_err(io)?;
        // The port is picked by binding port 0 and releasing it; another
        // process could grab it in between, so a start that fails is retried
        // on a new port.
        let mut last_error = None;
        for _ in 0..3 {
            let addr = free_loopback_addr().map_err(io)?;
            match Self::start_at(&binary, dir.path(), addr, basic_auth) {
                Ok(child) => {
                    return Ok(Self {
                        child: Some(child),
                        addr,
                        dir,
                    })
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| io(std::io::Error::other("no attempt made"))))
    }

    fn start_at(
        binary: &Path,
        dir: &Path,
        addr: SocketAddr,
        basic_auth: bool,
    ) -> Result<Child, RegistryError> {
        let io = |source| RegistryError::Io {
            binary: binary.to_path_buf(),
            source,
        };
        let storage = dir.join("storage");
        fs::create_dir_all(&storage).map_err(io)?;
        let config = dir.join("config.yml");
        // `delete` lets tests remove manifests; no blob-descriptor cache, so
        // a blob changed on disk is served as it is now (tamper tests); the
        // access log is what `requests` reads.
        let mut yaml = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  secret: seed-eth-test-registry\n",
            storage.display()
        );
        if basic_auth {
            let htpasswd = dir.join("htpasswd");
            fs::write(&htpasswd, format!("{TEST_USER}:{TEST_PASSWORD_BCRYPT}\n")).map_err(io)?;
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: seed-eth-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        fs::write(&config, yaml).map_err(io)?;
        let log_path = dir.join("registry.log");
        let log = fs::File::create(&log_path).map_err(io)?;
        let log_err = log.try_clone().map_err(io)?;
        let mut child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(io)?;
        let not_ready = |reason: String| RegistryError::NotReady {
            binary: binary.to_path_buf(),
            addr,
            reason,
            log: fs::read_to_string(&log_path).unwrap_or_default(),
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(not_ready(format!("it exited with {status}")));
            }
            if v2_answers(addr) {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(not_ready(format!(
                    "no answer on /v2/ within {READY_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `127.0.0.1:<port>`: the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The filesystem storage root (Distribution's `rootdirectory`).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where Distribution keeps the bytes of the blob `sha256:<hex>`, for
    /// tests that tamper with stored content.
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        let prefix = hex.get(..2).unwrap_or(hex);
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(prefix)
            .join(hex)
            .join("data")
    }

    /// The registry's own log so far, without the access log (useful in
    /// assertion messages; [`Self::requests`] has the access log).
    pub fn log(&self) -> String {
        self.raw_log()
            .lines()
            .filter(|line| ServedRequest::parse(line).is_none())
            .map(|line| format!("{line}\n"))
            .collect()
    }

    /// Every request the registry has answered so far, in order, from its
    /// access log: what a client really cost it, whatever the client
    /// believes it sent.
    pub fn requests(&self) -> Vec<ServedRequest> {
        self.raw_log()
            .lines()
            .filter_map(ServedRequest::parse)
            .collect()
    }

    fn raw_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Stops the registry now (for "registry down" tests): afterwards
    /// nothing listens on its address, so requests fail to connect.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One request a [`TestRegistry`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRequest {
    /// `GET`, `HEAD`, `PUT`, ...
    pub method: String,
    /// The path and query, as requested (`/v2/seed/manifests/latest`).
    pub path: String,
    /// The response status.
    pub status: u16,
}

impl ServedRequest {
    /// Parses one access-log line, in the combined log format Distribution
    /// writes: `host - - [time] "GET /v2/ HTTP/1.1" 200 2 "referer" "agent"`.
    /// Other log lines give `None`.
    fn parse(line: &str) -> Option<Self> {
        let (_, rest) = line.split_once("] \"")?;
        let (request, rest) = rest.split_once('"')?;
        let mut parts = request.split(' ');
        let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
        if !version.starts_with("HTTP/") || parts.next().is_some() {
            return None;
        }
        let status = rest.split_whitespace().next()?.parse().ok()?;
        Some(Self {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
        })
    }
}

/// A loopback address whose port was free a moment ago.
fn free_loopback_addr() -> std::io::Result<SocketAddr> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

/// Whether `GET /v2/` answers 200 (or 401 when auth is on), the API's
/// "I am a registry" probe.
fn v2_answers(addr: SocketAddr) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        write!(
            stream,
            "GET /v2/ HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.") && matches!(&head[9..12], b"200" | b"401"))
    };
    probe().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_stops() {
        let mut registry = TestRegistry::start().unwrap();
        let addr = registry.addr;
        assert!(v2_answers(addr), "log: {}", registry.log());
        assert!(registry.host().starts_with("127.0.0.1:"));
        let storage = registry.storage();
        assert!(storage.is_dir());
        registry.stop();
        assert!(!v2_answers(addr));
        drop(registry);
        assert!(!storage.exists(), "storage is removed on drop");
    }

    #[test]
    fn served_requests_are_read_from_the_access_log() {
        let registry = TestRegistry::start().unwrap();
        let before = registry.requests().len();
        let mut stream = TcpStream::connect(registry.addr).unwrap();
        write!(
            stream,
            "HEAD /v2/absent/manifests/latest HTTP/1.0\r\nHost: x\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).unwrap();
        drop(stream);
        // The log line is written as the response completes: wait for it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while registry.requests().len() == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let requests = registry.requests();
        assert_eq!(
            requests[before..],
            [ServedRequest {
                method: "HEAD".to_owned(),
                path: "/v2/absent/manifests/latest".to_owned(),
                status: 404,
            }],
            "{}",
            registry.log()
        );
        let line = r#"127.0.0.1 - - [01/Dec/2026:17:04:03 +0000] "PUT /v2/a/manifests/b HTTP/1.1" 201 0 "" "oci-client/0.18.0""#;
        assert_eq!(
            ServedRequest::parse(line).map(|r| (r.method, r.status)),
            Some(("PUT".to_owned(), 201))
        );
        let app_line = r#"time="2026-12-01T17:04:03Z" level=warning msg="something" "#;
        assert_eq!(ServedRequest::parse(app_line), None);
        assert!(
            !registry
                .log()
                .contains("\"HEAD /v2/absent/manifests/latest HTTP/1.0\""),
            "log() leaves the access log out"
        );
    }

    #[test]
    fn basic_auth_registry_demands_credentials() {
        let registry = TestRegistry::start_with_basic_auth().unwrap();
        let status = |auth: Option<&str>| {
            let mut stream = TcpStream::connect(registry.addr).unwrap();
            let header = auth.map_or(String::new(), |a| format!("Authorization: Basic {a}\r\n"));
            write!(stream, "GET /v2/ HTTP/1.0\r\nHost: x\r\n{header}\r\n").unwrap();
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).unwrap();
            String::from_utf8_lossy(&head[9..12]).into_owned()
        };
        assert_eq!(status(None), "401");
        // base64("seed:seed-eth-test")
        assert_eq!(
            status(Some("c2VlZDpzZWVkLWV0aC10ZXN0")),
            "200",
            "{}",
            registry.log()
        );
        assert_eq!(status(Some("c2VlZDp3cm9uZw==")), "401");
    }

    #[test]
    fn errors_say_how_to_fix_them() {
        let err = RegistryError::EnvPathMissing {
            path: PathBuf::from("/nonexistent/registry"),
        };
        assert!(err.to_string().contains("/nonexistent/registry"));
        let err = RegistryError::NotFound { tried: "x".into() };
        assert!(err.to_string().contains("apt-get install docker-registry"));
    }
}
