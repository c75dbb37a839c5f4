//! A real nginx (WebDAV module) serving a Bazel HTTP cache from a temporary
//! directory, for tests. Needs the `nginx` binary (`apt-get install nginx`);
//! a test that asks for it fails loudly when it is missing.

#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of a test nginx.
#[derive(Clone, Debug, Default)]
pub struct NginxOptions {
    /// Require basic auth (user, password) for everything but GET and HEAD.
    pub write_auth: Option<(String, String)>,
}

/// One request as seen in nginx's access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub uri: String,
    /// Response status.
    pub status: u16,
    /// The request's `Content-Length` header (`-` when absent).
    pub content_length: String,
    /// The request's `Transfer-Encoding` header (`-` when absent).
    pub transfer_encoding: String,
}

/// A running nginx; stopped (and waited for) on drop.
pub struct Nginx {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

/// Path of the nginx binary: `/usr/sbin/nginx`, else `nginx` in `PATH`.
/// Panics with install instructions if there is none.
pub fn nginx_binary() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.is_file() {
        return sbin;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("nginx");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "nginx is required for the remote cache tests but was not found \
         (/usr/sbin/nginx or PATH): run `apt-get install nginx`"
    );
}

fn world_writable(p: &Path) {
    fs::create_dir_all(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o777)).unwrap();
}

impl Nginx {
    /// Starts nginx with default options.
    pub fn start() -> Nginx {
        Nginx::start_with(NginxOptions::default())
    }

    /// Starts nginx on a free 127.0.0.1 port and waits until it accepts
    /// connections.
    pub fn start_with(opts: NginxOptions) -> Nginx {
        let bin = nginx_binary();
        let mut last_err = String::new();
        for _ in 0..5 {
            match Nginx::try_start(&bin, &opts) {
                Ok(n) => return n,
                Err(e) => last_err = e,
            }
        }
        panic!("nginx did not start: {last_err}");
    }

    fn try_start(bin: &Path, opts: &NginxOptions) -> Result<Nginx, String> {
        let dir = tempfile::Builder::new()
            .prefix("hbuild-nginx-")
            .tempdir()
            .unwrap();
        let root = dir.path();
        // Workers run as `nobody` when the master is root: they must be able
        // to reach and write the store and the body temp directory.
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        world_writable(&root.join("store"));
        world_writable(&root.join("tmp"));
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let auth = match &opts.write_auth {
            Some((user, pass)) => {
                let file = root.join("htpasswd");
                fs::write(&file, format!("{user}:{{PLAIN}}{pass}\n")).unwrap();
                fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
                format!(
                    "limit_except GET HEAD {{ auth_basic \"cache\"; auth_basic_user_file {}; }}",
                    file.display()
                )
            }
            None => String::new(),
        };
        let r = root.display();
        let conf = format!(
            r#"daemon off;
worker_processes 1;
pid {r}/nginx.pid;
error_log {r}/error.log info;
events {{ worker_connections 64; }}
http {{
    log_format hbuild '$request_method $uri $status $http_content_length $http_transfer_encoding';
    access_log {r}/access.log hbuild;
    client_body_temp_path {r}/tmp/body;
    proxy_temp_path {r}/tmp/proxy;
    fastcgi_temp_path {r}/tmp/fastcgi;
    uwsgi_temp_path {r}/tmp/uwsgi;
    scgi_temp_path {r}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            root {r}/store;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 1G;
            dav_access user:rw group:rw all:rw;
            {auth}
        }}
    }}
}}
"#
        );
        fs::write(root.join("nginx.conf"), conf).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(root.join("nginx.conf"))
            .arg("-e")
            .arg(root.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let mut nginx = Nginx {
            child: Some(child),
            dir,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = nginx.child.as_mut().unwrap().try_wait().unwrap() {
                let log =
                    fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
                nginx.child = None;
                return Err(format!("nginx exited with {status}: {log}"));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            if Instant::now() > deadline {
                return Err("nginx did not accept connections within 15 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port nginx listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Base URL of the cache (`http://127.0.0.1:<port>/cache/`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache/", self.port)
    }

    /// Directory that backs `url()`.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store").join("cache")
    }

    /// Every request logged so far, in order.
    pub fn access_log(&self) -> Vec<LogLine> {
        // nginx writes the line after the response: give it a moment.
        std::thread::sleep(Duration::from_millis(200));
        let text = fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                assert_eq!(f.len(), 5, "unexpected access log line {l:?}");
                LogLine {
                    method: f[0].to_string(),
                    uri: f[1].to_string(),
                    status: f[2].parse().unwrap(),
                    content_length: f[3].to_string(),
                    transfer_encoding: f[4].to_string(),
                }
            })
            .collect()
    }

    /// nginx's error log (for failure messages).
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
