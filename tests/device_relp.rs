//! The device driver (`alooma-embedded-io`, the core's driver over a
//! blocking `embedded-io` stream, a 256-byte scratch) speaking RELP to a
//! real rsyslog over a loopback TCP stream: 100,000 events arrive equal,
//! complete and in order, through a ring far smaller than the traffic.

use alooma_core::{
    Config, Instant, NetError, Protocol, ReportError, Ring, ServerAddr, Stamp, NO_META,
};
use alooma_embedded_io::{Connector, Driver, ReadEof};
use alooma_tests::rsyslog::{Queue, Rsyslog};
use alooma_tests::{check_all_arrived, split_record, temp_dir, wait_until};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A non-blocking loopback socket as a device's stream: `write` waits
/// (briefly, like a device's blocking send), reads never block.
struct Tcp(TcpStream);

impl embedded_io::ErrorType for Tcp {
    type Error = std::io::Error;
}

impl embedded_io::Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if std::time::Instant::now() > end {
                        return Err(ErrorKind::TimedOut.into());
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                r => return r,
            }
        }
    }
    fn flush(&mut self) -> Result<(), std::io::Error> {
        Ok(())
    }
}

impl embedded_io::Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        self.0.read(buf)
    }
}

impl embedded_io::ReadReady for Tcp {
    fn read_ready(&mut self) -> Result<bool, std::io::Error> {
        match self.0.peek(&mut [0u8]) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

struct Dial;

impl Connector for Dial {
    type Stream = ReadEof<Tcp>;
    fn connect(&mut self, to: ServerAddr<'_>) -> Result<ReadEof<Tcp>, NetError> {
        let s = TcpStream::connect((to.host, to.port)).map_err(|_| NetError::Refused)?;
        s.set_nonblocking(true).map_err(|_| NetError::Other)?;
        s.set_nodelay(true).map_err(|_| NetError::Other)?;
        Ok(ReadEof(Tcp(s)))
    }
}

#[test]
fn device_delivers_100000_events_over_relp_to_rsyslog() {
    const N: u64 = 100_000;
    let dir = temp_dir("device-relp");
    let mut rsyslog = Rsyslog::start(&dir, None, Queue::Memory);
    let server = rsyslog.server();
    let servers = [server.as_str()];
    let mut cfg = Config::new("device-token", &servers);
    cfg.protocol = Protocol::Relp;
    cfg.relp_window = 128;
    cfg.validate(64 << 10).unwrap();
    let enc = cfg.encoder();
    let mut ring: Ring<[u8; 64 << 10]> = Ring::new();
    let mut driver = Driver::new(&cfg, Dial, 7);
    let start = std::time::Instant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let mut full = 0u64;
    for i in 0..N {
        let ev = format!(r#"{{"i":{i},"kind":"reading","value":{}}}"#, i as f64 / 4.0);
        loop {
            match ring.try_push_with(cfg.max_event(64 << 10), |out| {
                enc.encode_json(ev.as_bytes(), NO_META, &Stamp::default(), out)
            }) {
                Ok(_) => break,
                // The ring (64 KiB, far less than the ~10 MB reported) is
                // full: the main loop runs the driver until there is room.
                Err(ReportError::BufferFull { .. }) => {
                    full += 1;
                    driver.poll(now(), &mut ring);
                }
                Err(e) => panic!("{e}"),
            }
        }
        if i % 100 == 99 {
            driver.poll(now(), &mut ring);
        }
    }
    driver.close();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !driver.is_closed() && std::time::Instant::now() < deadline {
        driver.poll(now(), &mut ring);
    }
    let report = driver.close_report(ring.stats(), 0);
    assert!(report.clean, "{report:?}");
    assert_eq!((report.accepted, report.delivered), (N, N), "{report:?}");
    assert!(full > 0, "the ring never filled");
    assert!(wait_until(Duration::from_secs(30), || rsyslog.count()
        as u64
        >= N));
    rsyslog.stop();
    let lines = rsyslog.lines();
    assert_eq!(lines.len() as u64, N);
    assert_eq!(check_all_arrived(std::slice::from_ref(&lines), N), 0);
    for l in &lines {
        let (ev, meta) = split_record(l);
        let i = ev["i"].as_u64().unwrap();
        assert_eq!(ev["value"].as_f64().unwrap(), i as f64 / 4.0);
        assert_eq!(meta["token"], "device-token");
    }
}
