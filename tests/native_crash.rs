//! A buffer file outlives its process: a producer reporting without pause
//! into a file smaller than its traffic is killed with SIGKILL at a random
//! moment, again and again (`CRASH_KILLS`, default 200 per protocol), each
//! next producer starting on the same file; at the end every event a
//! producer was told `Ok` for (it printed its `seq` after the `Ok`) is at
//! the loopback collector, and nothing arrived that was never reported.

use alooma_tests::rsyslog::{Queue, Rsyslog};
use alooma_tests::{
    closed_port, collector::Collector, is_marker, split_record, temp_dir, wait_until,
};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn kills() -> usize {
    std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs `kills` producers to their SIGKILL and a last one that drains;
/// returns, per run, the highest `seq` printed (`None`: none).
fn crash_loop(
    server: &str,
    protocol: &str,
    file: &std::path::Path,
    kills: usize,
) -> Vec<Option<u64>> {
    let exe = env!("CARGO_BIN_EXE_crash_producer");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash loop over {protocol}: {kills} kills, seed {seed}");
    let mut rng = Rng(seed);
    let mut printed = Vec::new();
    for run in 0..kills {
        let mut child = Command::new(exe)
            .args([server, protocol, file.to_str().unwrap(), &run.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the producer");
        let out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = None;
            let mut r = BufReader::new(out);
            let mut line = String::new();
            while matches!(r.read_line(&mut line), Ok(n) if n > 0) {
                // A line cut by the kill has no newline: not printed whole.
                if line.ends_with('\n') {
                    last = Some(line.trim_end().parse::<u64>().expect("a seq"));
                }
                line.clear();
            }
            last
        });
        // Anywhere from during start-up (the file's recovery) to well into
        // reporting.
        let wait = match rng.below(4) {
            0 => rng.below(5),
            _ => 5 + rng.below(60),
        };
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        // Killed, or (killed before it got going) refused to start.
        assert!(
            status.code().is_none(),
            "producer {run} exited by itself: {status}"
        );
        printed.push(reader.join().unwrap());
    }
    let out = Command::new(exe)
        .args([
            server,
            protocol,
            file.to_str().unwrap(),
            &kills.to_string(),
            "drain",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run the draining producer");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("last producer: {text}");
    assert!(out.status.success(), "the draining producer failed: {text}");
    assert!(
        text.contains("flushed=true") && text.contains("clean=true"),
        "{text}"
    );
    printed
}

/// Every printed event arrived; nothing arrived that was not reported
/// (a producer may have had `Ok` for one more than it printed).
fn check(lines: &[String], printed: &[Option<u64>]) {
    let mut got: HashMap<u64, HashSet<u64>> = HashMap::new();
    let mut markers = 0;
    for l in lines {
        if is_marker(l) {
            markers += 1;
            continue;
        }
        let (ev, _) = split_record(l);
        let (run, seq) = (ev["run"].as_u64().unwrap(), ev["seq"].as_u64().unwrap());
        let bound = printed
            .get(run as usize)
            .unwrap_or_else(|| panic!("an event of a run that never was: {l}"))
            .map_or(0, |p| p + 1);
        assert!(
            seq <= bound,
            "run {run} printed up to {bound}, yet {seq} arrived"
        );
        assert_eq!(ev["pad"].as_str().map(str::len), Some(120), "{l}");
        got.entry(run).or_default().insert(seq);
    }
    let mut missing = Vec::new();
    let mut total = 0;
    for (run, p) in printed.iter().enumerate() {
        if let Some(p) = p {
            total += p + 1;
            let have = got.get(&(run as u64));
            missing.extend(
                (0..=*p)
                    .filter(|s| !have.is_some_and(|h| h.contains(s)))
                    .map(|s| (run, s)),
            );
        }
    }
    eprintln!(
        "{} runs, {total} events printed, {} lines, {markers} loss markers",
        printed.len(),
        lines.len()
    );
    assert!(
        missing.is_empty(),
        "{} printed events missing, the first: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(total > 0, "no producer got as far as reporting");
}

fn all_arrived(lines: &[String], printed: &[Option<u64>]) -> bool {
    let mut have: HashSet<(u64, u64)> = HashSet::new();
    for l in lines.iter().filter(|l| !is_marker(l)) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(l) {
            if let (Some(r), Some(s)) = (v["run"].as_u64(), v["seq"].as_u64()) {
                have.insert((r, s));
            }
        }
    }
    printed
        .iter()
        .enumerate()
        .all(|(run, p)| p.is_none_or(|p| (0..=p).all(|s| have.contains(&(run as u64, s)))))
}

#[test]
fn producers_killed_at_random_lose_nothing_over_tcp() {
    let dir = temp_dir("crash-tcp");
    let collector = Collector::start();
    let printed = crash_loop(&collector.server(), "tcp", &dir.join("buffer"), kills());
    wait_until(Duration::from_secs(60), || {
        all_arrived(&collector.lines(), &printed)
    });
    check(&collector.lines(), &printed);
}

#[test]
fn producers_killed_at_random_lose_nothing_over_relp() {
    let dir = temp_dir("crash-relp");
    let rsyslog = Rsyslog::start(&dir, None, Queue::Direct);
    let printed = crash_loop(&rsyslog.server(), "relp", &dir.join("buffer"), kills());
    wait_until(Duration::from_secs(60), || {
        all_arrived(&rsyslog.lines(), &printed)
    });
    check(&rsyslog.lines(), &printed);
}

#[test]
fn a_second_sdk_on_the_same_file_is_refused() {
    let dir = temp_dir("crash-lock");
    let collector = Collector::start();
    let build = || {
        alooma::Sdk::builder()
            .token("t")
            .server(collector.server())
            .buffer_file(dir.join("buffer"))
            .buffer_bytes(256 << 10)
            .peer_buffer(64 << 10)
            .build()
    };
    let first = build().unwrap();
    match build() {
        Err(alooma::BuildError::BufferFile(alooma::FileError::Locked(p))) => {
            assert_eq!(p, dir.join("buffer"))
        }
        other => panic!("not refused: {:?}", other.map(|_| ())),
    }
    drop(first);
    // Released with the first: the file is usable again.
    build().unwrap();
}

/// Damaged buffer files: real files (a producer killed with its collector
/// unreachable, the file full of unsent events) truncated, extended,
/// zeroed or with bits flipped, 1,000 times (`DAMAGE_TRIALS`). Every start
/// succeeds, what was lost is counted, and the collector receives only
/// events that were reported, whole.
#[test]
fn damaged_buffer_files_start_count_the_damage_and_send_only_reported_events() {
    let trials: usize = std::env::var("DAMAGE_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = temp_dir("damage");
    let exe = env!("CARGO_BIN_EXE_crash_producer");
    let nowhere = format!("127.0.0.1:{}", closed_port());
    // Base files: full rings of unsent events, and what each printed.
    let mut bases = Vec::new();
    for run in 0..4u64 {
        let file = dir.join(format!("base{run}"));
        let mut child = Command::new(exe)
            .args([
                nowhere.as_str(),
                "tcp",
                file.to_str().unwrap(),
                &run.to_string(),
            ])
            .env("CRASH_BUFFER_BYTES", (32 << 10).to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.parse::<u64>().ok())
                .last()
        });
        // Until the ring is full and `report` waits for room.
        std::thread::sleep(Duration::from_millis(300));
        child.kill().unwrap();
        child.wait().unwrap();
        let printed = reader.join().unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let (ring, rec) = alooma_core::Ring::recover(bytes.clone()).unwrap();
        assert!(rec.records > 50, "a base file of {} records", rec.records);
        assert_eq!(ring.records() as u64, rec.records);
        bases.push((bytes, rec.records, printed));
    }
    let printed: Vec<Option<u64>> = bases.iter().map(|b| b.2).collect();
    let collector = Collector::start();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("damage seed {seed}");
    let mut rng = Rng(seed);
    let (mut lost_counted, mut headers_gone, mut told) = (0u64, 0usize, 0usize);
    for trial in 0..trials {
        let (base, records, _) = &bases[trial % bases.len()];
        let mut bytes = base.clone();
        let len = bytes.len();
        let kind = rng.below(4);
        match kind {
            0 => bytes.truncate(rng.below(len as u64) as usize),
            1 => bytes.extend((0..1 + rng.below(5000)).map(|_| rng.below(256) as u8)),
            2 => {
                let at = rng.below(len as u64) as usize;
                let n = 1 + rng.below(2000) as usize;
                bytes[at..(at + n).min(len)].fill(0);
            }
            _ => {
                for _ in 0..1 + rng.below(6) {
                    let at = rng.below(len as u64) as usize;
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
        }
        let head_intact = bytes.len() >= 256 && bytes[..256] == base[..256];
        let file = dir.join(format!("trial{trial}"));
        std::fs::write(&file, &bytes).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let s2 = seen.clone();
        let sdk = alooma::Sdk::builder()
            .token("t")
            .server(collector.server())
            .buffer_file(&file)
            .buffer_bytes(32 << 10)
            .peer_buffer(16 << 10)
            .on_notify(move |n| {
                if let alooma_core::Notification::Recovered {
                    records,
                    damaged,
                    damaged_bytes,
                } = n.event
                {
                    *s2.lock().unwrap() = Some((records, damaged, damaged_bytes));
                }
            })
            .build()
            .unwrap_or_else(|e| panic!("trial {trial} (damage {kind}): start failed: {e}"));
        sdk.flush(Duration::from_secs(30)).unwrap();
        let r = sdk.close(Duration::from_secs(10));
        assert!(r.clean, "trial {trial}: {r:?}");
        let (got, damaged, damaged_bytes) = seen.lock().unwrap().unwrap_or_default();
        assert_eq!(got, r.recovered, "trial {trial}");
        assert_eq!(r.delivered, r.recovered, "trial {trial}: {r:?}");
        assert_eq!(
            r.delivered + r.unconfirmed + r.unsent + r.dropped,
            r.accepted + r.recovered,
            "trial {trial}: {r:?}"
        );
        told += usize::from(got + damaged + damaged_bytes > 0);
        if got < *records {
            // Lost records are counted, unless the newest header slot
            // was hit (read as a write the process did not finish).
            assert!(
                damaged + damaged_bytes > 0 || !head_intact,
                "trial {trial} (damage {kind}): {} of {records} lost uncounted",
                records - got
            );
        }
        if head_intact {
            assert_eq!(got + damaged, *records, "trial {trial} (damage {kind})");
        }
        lost_counted += damaged;
        headers_gone += usize::from(damaged == 0 && damaged_bytes > 0);
        std::fs::remove_file(&file).unwrap();
    }
    eprintln!(
        "{trials} damaged files: {lost_counted} events counted damaged, {headers_gone} with no usable header"
    );
    // Everything the collector got was reported, whole; and each start
    // that recovered or lost anything told it in a loss marker.
    let lines = collector.lines();
    check_reported(&lines, &printed);
    let instances: HashSet<String> = alooma_tests::markers(&lines)
        .iter()
        .filter(|m| m.get("recovered").is_some())
        .map(|m| m["instance"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        instances.len(),
        told,
        "starts whose recovery no marker told"
    );
}

/// Every event received was reported (a producer may have had `Ok` for one
/// more than it printed), byte for byte as its fields show.
fn check_reported(lines: &[String], printed: &[Option<u64>]) {
    for l in lines.iter().filter(|l| !is_marker(l)) {
        let (ev, _) = split_record(l);
        let (run, seq) = (ev["run"].as_u64().unwrap(), ev["seq"].as_u64().unwrap());
        let bound = printed[run as usize].map_or(0, |p| p + 1);
        assert!(
            seq <= bound,
            "run {run} printed up to {bound}, yet {seq} arrived"
        );
        assert_eq!(ev["pad"], "p".repeat(120), "{l}");
        assert_eq!(ev.as_object().unwrap().len(), 3, "{l}");
    }
}
