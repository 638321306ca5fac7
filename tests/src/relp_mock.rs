//! A RELP collector that misbehaves on demand (fault injection a real
//! rsyslog cannot produce when asked): it refuses a frame with `500`, stops
//! answering, sends garbage or `serverclose`, on the first connection only,
//! and behaves on every later one. It keeps what each connection delivered
//! (frames it answered `200 OK`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What goes wrong on the first connection, after `after` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer the next frame `500 out of space`.
    Refuse,
    /// Answer nothing more (the connection stays open).
    Silent,
    /// Send bytes that are not RELP.
    Garbage,
    /// Send `0 serverclose 0` and close.
    ServerClose,
    /// Answer nothing more, on every connection.
    SilentAlways,
    /// Accept sessions without offering the `syslog` command (every
    /// connection).
    NoSyslog,
}

/// The mock collector.
pub struct RelpMock {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<Vec<String>>>>,
}

/// One frame read.
struct Frame {
    txnr: u64,
    cmd: String,
    data: Vec<u8>,
}

fn read_frame(r: &mut BufReader<TcpStream>) -> Option<Frame> {
    let mut word = |stop: &[u8]| -> Option<(String, u8)> {
        let mut w = Vec::new();
        loop {
            let mut b = [0u8];
            r.read_exact(&mut b).ok()?;
            if stop.contains(&b[0]) {
                return Some((String::from_utf8(w).ok()?, b[0]));
            }
            w.push(b[0]);
        }
    };
    let (txnr, _) = word(b" ")?;
    let (cmd, _) = word(b" ")?;
    let (len, sep) = word(b" \n")?;
    let len: usize = len.parse().ok()?;
    let mut data = vec![0u8; len];
    if sep == b' ' {
        r.read_exact(&mut data).ok()?;
        let mut lf = Vec::new();
        r.read_until(b'\n', &mut lf).ok()?;
    }
    Some(Frame {
        txnr: txnr.parse().ok()?,
        cmd,
        data,
    })
}

impl RelpMock {
    /// Listens on a free loopback port; `fault` happens on the first
    /// connection after `after` records.
    pub fn start(fault: Fault, after: usize) -> RelpMock {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<Vec<String>>>> = Default::default();
        let c2 = conns.clone();
        std::thread::spawn(move || {
            for (n, s) in l.incoming().enumerate() {
                let Ok(s) = s else { continue };
                let conns = c2.clone();
                let idx = {
                    let mut c = conns.lock().unwrap();
                    c.push(Vec::new());
                    c.len() - 1
                };
                let every = matches!(fault, Fault::SilentAlways | Fault::NoSyslog);
                let fault = (n == 0 || every).then_some(fault);
                std::thread::spawn(move || serve(s, fault, after, &conns, idx));
            }
        });
        RelpMock { addr, conns }
    }

    /// `host:port` for the SDK.
    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    /// Records answered `200 OK`, per connection.
    pub fn connections(&self) -> Vec<Vec<String>> {
        self.conns.lock().unwrap().clone()
    }

    /// Records answered `200 OK` on all connections.
    pub fn count(&self) -> usize {
        self.conns.lock().unwrap().iter().map(Vec::len).sum()
    }
}

fn serve(
    s: TcpStream,
    fault: Option<Fault>,
    after: usize,
    conns: &Mutex<Vec<Vec<String>>>,
    idx: usize,
) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut records = 0;
    let mut silent = false;
    while let Some(f) = read_frame(&mut r) {
        let reply = match f.cmd.as_str() {
            "open" if fault == Some(Fault::NoSyslog) => {
                "200 OK\nrelp_version=0\nrelp_software=mock\ncommands=syslogx".to_string()
            }
            "open" => "200 OK\nrelp_version=0\nrelp_software=mock\ncommands=syslog".to_string(),
            "close" => {
                let _ = w.write_all(format!("{} rsp 0\n0 serverclose 0\n", f.txnr).as_bytes());
                return;
            }
            "syslog" => {
                if silent {
                    continue;
                }
                if records == after {
                    match fault {
                        Some(Fault::Refuse) => {
                            let _ = w.write_all(
                                format!("{} rsp 16 500 out of space\n", f.txnr).as_bytes(),
                            );
                            // librelp ends the session after an error reply.
                            std::thread::sleep(Duration::from_millis(50));
                            return;
                        }
                        Some(Fault::Silent | Fault::SilentAlways | Fault::NoSyslog) => {
                            silent = true;
                            continue;
                        }
                        Some(Fault::Garbage) => {
                            let _ = w.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
                            std::thread::sleep(Duration::from_millis(200));
                            return;
                        }
                        Some(Fault::ServerClose) => {
                            // As rsyslog on SIGTERM: the hint, then its end
                            // of stream (reading on, so no reset).
                            let _ = w.write_all(b"0 serverclose 0\n");
                            let _ = w.shutdown(std::net::Shutdown::Write);
                            let _ = std::io::copy(&mut r, &mut std::io::sink());
                            return;
                        }
                        None => {}
                    }
                }
                records += 1;
                conns.lock().unwrap()[idx].push(String::from_utf8_lossy(&f.data).into_owned());
                "200 OK".to_string()
            }
            _ => "500 unknown command".to_string(),
        };
        if w.write_all(format!("{} rsp {} {}\n", f.txnr, reply.len(), reply).as_bytes())
            .is_err()
        {
            return;
        }
    }
}
