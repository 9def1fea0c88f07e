//! A man-in-the-middle between a wallet and Mission Control, for hostile-backend tests: it
//! forwards each request to the real backend and hands back the answer as it is, changed, cut
//! short, late, or replaced by an answer recorded earlier.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the next answers of `/v1/phone/sync`. Other paths pass through.
#[derive(Clone)]
pub enum Tamper {
    Pass,
    /// Rewrite the JSON body.
    Json(Arc<dyn Fn(&mut serde_json::Value) + Send + Sync>),
    /// Send only the first half of the body (with the full Content-Length).
    Truncate,
    /// Answer only after this long.
    Delay(Duration),
    /// Answer with this body instead (e.g. a sync answer recorded earlier).
    Replay(Vec<u8>),
}

pub struct Proxy {
    pub base: String,
    mode: Arc<Mutex<Tamper>>,
    last_sync: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(Tamper::Pass));
        let last_sync = Arc::new(Mutex::new(None));
        let (m, l, up) = (mode.clone(), last_sync.clone(), upstream.to_string());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (m, l, up, http) = (m.clone(), l.clone(), up.clone(), http.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &http, &up, &m, &l).await;
                });
            }
        });
        Proxy { base, mode, last_sync }
    }

    pub fn set(&self, t: Tamper) {
        *self.mode.lock().unwrap() = t;
    }

    /// The last genuine sync answer that passed through.
    pub fn last_sync(&self) -> Option<Vec<u8>> {
        self.last_sync.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    http: &reqwest::Client,
    upstream: &str,
    mode: &Mutex<Tamper>,
    last_sync: &Mutex<Option<Vec<u8>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head, body) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break (head, buf[end + 4..end + 4 + len].to_vec());
            }
        }
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("GET").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let auth = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("authorization").then(|| v.trim().to_string())
    });
    let mut req = http
        .request(method.parse().unwrap_or(reqwest::Method::GET), format!("{upstream}{path}"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.map_err(std::io::Error::other)?;
    let status = resp.status().as_u16();
    let mut answer = resp.bytes().await.map_err(std::io::Error::other)?.to_vec();
    let mut declared = answer.len();
    if path.starts_with("/v1/phone/sync") && status == 200 {
        let tamper = mode.lock().unwrap().clone();
        match tamper {
            Tamper::Pass => *last_sync.lock().unwrap() = Some(answer.clone()),
            Tamper::Json(f) => {
                let mut v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
                f(&mut v);
                answer = serde_json::to_vec(&v).unwrap();
                declared = answer.len();
            }
            Tamper::Truncate => answer.truncate(answer.len() / 2),
            Tamper::Delay(d) => tokio::time::sleep(d).await,
            Tamper::Replay(body) => {
                answer = body;
                declared = answer.len();
            }
        }
    }
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&answer).await?;
    stream.shutdown().await
}

/// Flips one bit in the bytes behind a base64 string (a signature's last byte, by default).
pub fn flip_b64(v: &mut serde_json::Value) {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let s = v.as_str().unwrap();
    let mut bytes = STANDARD.decode(s).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    *v = serde_json::Value::String(STANDARD.encode(bytes));
}
