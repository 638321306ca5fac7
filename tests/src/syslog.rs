//! A real, third-party collector: Debian's syslog-ng, started from a
//! private configuration on a free loopback port. It parses every line as
//! JSON (a line that is not JSON is not written out) and writes each
//! message verbatim, one per line.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const INSTALL: &str = "apt-get install -y syslog-ng-core";

/// TLS material made with `openssl` for a test.
pub struct Certs {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn run(dir: &Path, args: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("openssl {args}"))
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// A CA and a server certificate for 127.0.0.1 and localhost, signed by it.
    pub fn make(dir: &Path) -> Certs {
        crate::require_tool("openssl", "apt-get install -y openssl");
        std::fs::create_dir_all(dir).unwrap();
        run(dir, "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=alooma-test-ca");
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        run(
            dir,
            "req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
        );
        run(dir, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext");
        Certs {
            dir: dir.to_path_buf(),
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

/// A running syslog-ng.
pub struct SyslogNg {
    pub port: u16,
    pub out: PathBuf,
    dir: PathBuf,
    child: Child,
}

impl SyslogNg {
    /// Starts syslog-ng in `dir`, plain TCP or TLS.
    pub fn start(dir: &Path, tls: Option<&Certs>) -> SyslogNg {
        crate::require_tool("syslog-ng", INSTALL);
        std::fs::create_dir_all(dir).unwrap();
        let port = crate::closed_port();
        let out = dir.join("received.ndjson");
        let transport = match tls {
            None => "transport(\"tcp\")".to_string(),
            Some(c) => format!(
                "transport(\"tls\") tls(key-file(\"{}\") cert-file(\"{}\") peer-verify(optional-untrusted))",
                c.key.display(),
                c.cert.display()
            ),
        };
        let conf = format!(
            r#"@version: 3.38
options {{ stats-freq(0); log-msg-size(1048576); keep-hostname(yes); }};
source s_net {{
    network(ip("127.0.0.1") port({port}) {transport} flags(no-parse)
            log-msg-size(1048576) log-iw-size(200000) max-connections(16));
}};
parser p_json {{ json-parser(prefix(".json.")); }};
destination d_file {{ file("{out}" template("${{MSG}}\n") flush-lines(1000)); }};
log {{ source(s_net); parser(p_json); destination(d_file); }};
"#,
            out = out.display()
        );
        let conf_path = dir.join("syslog-ng.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("syslog-ng")
            .args(["-F", "--no-caps", "-f"])
            .arg(&conf_path)
            .arg(format!(
                "--persist-file={}",
                dir.join("syslog-ng.persist").display()
            ))
            .arg(format!("--pidfile={}", dir.join("syslog-ng.pid").display()))
            .arg(format!("--control={}", dir.join("syslog-ng.ctl").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start syslog-ng ({e}); install it with: {INSTALL}"));
        let mut s = SyslogNg {
            port,
            out,
            dir: dir.to_path_buf(),
            child,
        };
        let up = crate::wait_until(Duration::from_secs(20), || {
            s.child.try_wait().ok().flatten().is_some()
                || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }) && s.child.try_wait().ok().flatten().is_none();
        if !up {
            let _ = s.child.kill();
            let o = s.child.wait_with_output_ref();
            panic!("syslog-ng did not start listening on {port}: {o}");
        }
        s
    }

    /// `host:port` for the SDK.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Lines written so far.
    pub fn lines(&self) -> Vec<String> {
        crate::file_lines(&self.out)
    }

    /// Number of lines written so far (cheap enough to poll).
    pub fn count(&self) -> usize {
        crate::file_line_count(&self.out)
    }

    /// Stops it (SIGTERM: it flushes its output first).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = crate::wait_until(Duration::from_secs(10), || {
            self.child.try_wait().map(|s| s.is_some()).unwrap_or(true)
        });
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

trait OutputRef {
    fn wait_with_output_ref(&mut self) -> String;
}
impl OutputRef for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut s = String::new();
        if let Some(e) = self.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for SyslogNg {
    fn drop(&mut self) {
        self.stop();
    }
}
