//! Measuring a scenario: its drivers (concurrent clients), latencies and their statistics,
//! and the server's memory as the kernel reports it.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub(crate) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) struct Stats {
    pub(crate) count: usize,
    wall: Duration,
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) errors: usize,
}

impl Stats {
    pub(crate) fn from(mut lat: Vec<Duration>, wall: Duration, errors: usize) -> Stats {
        lat.sort();
        let at = |q: f64| {
            lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
                .copied()
                .map(micros)
                .unwrap_or(0.0)
        };
        Stats { count: lat.len(), wall, p50: at(0.50), p95: at(0.95), p99: at(0.99), errors }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Runs `n` requests made by `make(i)` with `concurrency` clients.
pub(crate) async fn drive<F>(client: &reqwest::Client, n: usize, concurrency: usize, make: F) -> Stats
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    drive_timed(client, n, concurrency, make).await.0
}

/// The server's own time for a response, from its `Server-Timing` header.
pub(crate) fn server_time(r: &reqwest::Response) -> Option<Duration> {
    let v = r.headers().get("server-timing")?.to_str().ok()?;
    let ms: f64 = v.split("dur=").nth(1)?.split([';', ',']).next()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(ms / 1000.0))
}

/// Latencies of one or more runs, kept whole so runs taken in turns can be pooled.
#[derive(Default)]
pub(crate) struct Samples {
    lat: Vec<Duration>,
    server: Vec<Duration>,
    wall: Duration,
    errors: usize,
}

impl Samples {
    pub(crate) fn add(&mut self, other: Samples) {
        self.lat.extend(other.lat);
        self.server.extend(other.server);
        self.wall += other.wall;
        self.errors += other.errors;
    }

    /// One request's latency, or an error.
    pub(crate) fn record(&mut self, took: Duration, ok: bool) {
        if ok {
            self.lat.push(took);
        } else {
            self.errors += 1;
        }
    }

    /// The same samples over a run of this length (for runs timed as a whole).
    pub(crate) fn with_wall(mut self, wall: Duration) -> Samples {
        self.wall = wall;
        self
    }

    /// Client-side latencies, then the server's own times.
    pub(crate) fn stats(self) -> (Stats, Stats) {
        (Stats::from(self.lat, self.wall, self.errors), Stats::from(self.server, self.wall, self.errors))
    }
}

/// As `drive`, also returning the server's own times (`Server-Timing`).
pub(crate) async fn drive_timed<F>(client: &reqwest::Client, n: usize, concurrency: usize, make: F) -> (Stats, Stats)
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    drive_samples(client, n, concurrency, make).await.stats()
}

/// Runs `n` requests as `drive` does and keeps every latency.
pub(crate) async fn drive_samples<F>(client: &reqwest::Client, n: usize, concurrency: usize, make: F) -> Samples
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let server = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, make, lat, next, server) =
            (client.clone(), make.clone(), lat.clone(), next.clone(), server.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let s = Instant::now();
                match make(&client, i).send().await {
                    Ok(r) if r.status().is_success() => {
                        let took = server_time(&r);
                        let _ = r.bytes().await;
                        lat.lock().await.push(s.elapsed());
                        if let Some(t) = took {
                            server.lock().await.push(t);
                        }
                    }
                    Ok(r) => {
                        if errors == 0 {
                            eprintln!("  request failed: {} {}", r.status(), r.text().await.unwrap_or_default());
                        }
                        errors += 1;
                    }
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("  request failed: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap_or(1);
    }
    let wall = t0.elapsed();
    let lat = std::mem::take(&mut *lat.lock().await);
    let server = std::mem::take(&mut *server.lock().await);
    Samples { lat, server, wall, errors }
}

pub(crate) fn peak_rss_mb(pid: u32) -> Option<f64> {
    status_mb(pid, "VmHWM:")
}

/// A memory figure of a process from `/proc/<pid>/status` (`VmHWM:`, `VmRSS:` …), in MB.
pub(crate) fn status_mb(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
