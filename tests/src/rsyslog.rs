//! A real RELP collector: Debian's rsyslog with `imrelp`, unpacked (not
//! installed: it conflicts with syslog-ng-core) under `target/rsyslog` by
//! `scripts/test.sh`, started from a private configuration on a free
//! loopback port. It writes each record's bytes verbatim (`%rawmsg%`), one
//! per line.

use crate::syslog::Certs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to get rsyslog where the tests look for it.
pub const INSTALL: &str = "./scripts/test.sh (it runs: apt-get download rsyslog rsyslog-relp librelp0 libestr0 libfastjson4 liblognorm5, then dpkg -x each into target/rsyslog)";

/// Where rsyslog was unpacked: `$ALOOMA_RSYSLOG_ROOT`, or the workspace's
/// `target/rsyslog`.
pub fn root() -> PathBuf {
    match std::env::var_os("ALOOMA_RSYSLOG_ROOT") {
        Some(r) => PathBuf::from(r),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/rsyslog"),
    }
}

/// When rsyslog acknowledges a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// rsyslog's default: `200 OK` once the record is in the in-memory main
    /// queue, before any output (a kill -9 loses what was acknowledged and
    /// not yet written).
    Memory,
    /// The ruleset's queue is `Direct`: imrelp's submit runs the ruleset and
    /// its `omfile` action in the receiving thread, so the line has been
    /// written (`write(2)`: in the page cache, which outlives the process)
    /// before librelp sends `200 OK`. A kill -9 loses nothing acknowledged.
    Direct,
}

/// The complete JSON record a line of rsyslog's output holds: the line, or
/// the record written on after a cut-off one (`None`: nothing whole).
fn whole_record(line: &str) -> Option<&str> {
    let parses = |s: &str| serde_json::from_str::<serde_json::Value>(s).is_ok();
    if parses(line) {
        return Some(line);
    }
    line.match_indices("{\"")
        .map(|(i, _)| &line[i..])
        .find(|s| parses(s))
}

/// A running rsyslogd.
pub struct Rsyslog {
    /// The imrelp port.
    pub port: u16,
    /// The imtcp port (newline-delimited JSON, same ruleset) .
    pub tcp_port: u16,
    /// The output file.
    pub out: PathBuf,
    dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
}

impl Rsyslog {
    /// Starts rsyslogd in `dir`, plain or TLS (server certificate only).
    pub fn start(dir: &Path, tls: Option<&Certs>, queue: Queue) -> Rsyslog {
        let rsyslogd = root().join("usr/sbin/rsyslogd");
        assert!(
            rsyslogd.exists(),
            "rsyslog is missing at {}; install it with: {INSTALL}",
            rsyslogd.display()
        );
        std::fs::create_dir_all(dir).unwrap();
        let port = crate::closed_port();
        let tcp_port = crate::closed_port();
        let out = dir.join("events.jsonl");
        let (module, tls_params) = match tls {
            None => (r#"module(load="imrelp")"#.to_string(), String::new()),
            Some(c) => (
                r#"module(load="imrelp" tls.tlslib="openssl")"#.to_string(),
                format!(
                    r#" tls="on" tls.cacert="{}" tls.mycert="{}" tls.myprivkey="{}""#,
                    c.ca.display(),
                    c.cert.display(),
                    c.key.display()
                ),
            ),
        };
        let queue = match queue {
            Queue::Memory => "",
            Queue::Direct => r#" queue.type="Direct""#,
        };
        let conf = format!(
            r#"global(workDirectory="{dir}")
{module}
template(name="rawjson" type="string" string="%rawmsg%\n")
ruleset(name="events"{queue}) {{
  action(type="omfile" file="{out}" template="rawjson")
}}
input(type="imrelp" address="127.0.0.1" port="{port}" ruleset="events"{tls_params})
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}" ruleset="events")
action(type="omfile" file="{dir}/rsyslogd-internal.log")
"#,
            dir = dir.display(),
            out = out.display(),
        );
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut r = Rsyslog {
            port,
            tcp_port,
            out,
            dir: dir.to_path_buf(),
            conf: conf_path,
            child: None,
        };
        r.launch();
        r
    }

    fn launch(&mut self) {
        let root = root();
        let pidfile = self.dir.join("rsyslogd.pid");
        // After a kill -9 the pidfile stays, and rsyslogd refuses to start
        // while that PID exists.
        let _ = std::fs::remove_file(&pidfile);
        let libs = root.join("usr/lib/x86_64-linux-gnu");
        let child = Command::new(root.join("usr/sbin/rsyslogd"))
            .arg("-n")
            .arg("-M")
            .arg(libs.join("rsyslog"))
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(&pidfile)
            .env("LD_LIBRARY_PATH", &libs)
            .stdout(Stdio::null())
            // A file, not a pipe: rsyslog writes a line per broken session
            // there, and a pipe nobody reads fills (64 KiB, ~400 killed
            // clients) and blocks its RELP input thread for good.
            .stderr(stderr_file(&self.dir))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start rsyslogd ({e}); install it with: {INSTALL}"));
        self.child = Some(child);
        let port = self.port;
        let tcp_port = self.tcp_port;
        let up = crate::wait_until(Duration::from_secs(20), || {
            self.exited()
                || (std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && std::net::TcpStream::connect(("127.0.0.1", tcp_port)).is_ok())
        }) && !self.exited();
        if !up {
            let mut c = self.child.take().unwrap();
            let _ = c.kill();
            let _ = c.wait();
            panic!(
                "rsyslogd did not start listening on {port}: {}",
                std::fs::read_to_string(self.dir.join("rsyslogd-stderr.log")).unwrap_or_default()
            );
        }
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// `host:port` of the RELP input, for the SDK.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `host:port` of the plain TCP input (newline-delimited JSON).
    pub fn tcp_server(&self) -> String {
        format!("127.0.0.1:{}", self.tcp_port)
    }

    /// Records written so far, one per line as a reader of the file sees
    /// them. A kill -9 can cut the line rsyslog was writing (with a
    /// `Direct` queue one not yet answered; with the default queue, one
    /// of a buffered batch), and after the restart the next record is
    /// written on after it: such a line is read as the whole record that
    /// ends it, the cut-off part dropped (see [`torn`](Self::torn)).
    pub fn lines(&self) -> Vec<String> {
        crate::file_lines(&self.out)
            .into_iter()
            .filter_map(|l| whole_record(&l).map(str::to_string))
            .collect()
    }

    /// Lines that began with a record cut off by a kill.
    pub fn torn(&self) -> usize {
        crate::file_lines(&self.out)
            .iter()
            .filter(|l| whole_record(l) != Some(l.as_str()))
            .count()
    }

    /// Number of lines written so far (cheap enough to poll).
    pub fn count(&self) -> usize {
        crate::file_line_count(&self.out)
    }

    /// Kills it with SIGKILL (no flush, no `serverclose`).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process (SIGSTOP): it reads nothing, answers nothing; its
    /// kernel still takes bytes until the socket buffers are full.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused process go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let ok = Command::new("kill")
                .arg(sig)
                .arg(c.id().to_string())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "kill {sig} {}", c.id());
        }
    }

    /// Starts it again after [`kill`](Self::kill), same port, same output.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Stops it (SIGTERM: it writes out its queue first).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = crate::wait_until(Duration::from_secs(10), || {
                c.try_wait().map(|s| s.is_some()).unwrap_or(true)
            });
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// CPU seconds rsyslogd used so far (user + system; Linux).
    pub fn cpu_seconds(&self) -> f64 {
        self.child
            .as_ref()
            .map_or(0.0, |c| cpu_seconds(&c.id().to_string()))
    }

    /// rsyslog's own messages (errors, start and stop).
    pub fn internal_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("rsyslogd-internal.log")).unwrap_or_default()
    }
}

/// rsyslogd's standard error, appended to `rsyslogd-stderr.log` in `dir`.
fn stderr_file(dir: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("rsyslogd-stderr.log"))
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

/// CPU seconds (user + system) a process used so far: `pid`, or `"self"`
/// (Linux `/proc`; 0 elsewhere).
pub fn cpu_seconds(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let f: Vec<&str> = s
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}
