//! `RpcDouble`: a JSON-RPC endpoint that forwards to a real node (anvil) and
//! behaves like the hosted endpoints and nodes that cannot run here. It is a
//! **test double**, named as one: everything it answers comes from the real
//! node, except what its [`Rules`] change, and each rule copies a behaviour
//! seen in the field:
//!
//! - `max_log_range`: `eth_getLogs` over more blocks than this is refused with
//!   a JSON-RPC error (QuickNode's and Alchemy's free tiers cap ranges at 5 and
//!   10 blocks; the message gives no range that would work);
//! - `max_log_results`: `eth_getLogs` returning more logs than this is refused
//!   as Infura does ("query returned more than N results. Try with this block
//!   range [0x…, 0x…]."), with a range that would work;
//! - `finalized_is_latest`: the `finalized` block tag answers the latest block,
//!   as Hardhat's node does.
//!
//! It speaks HTTP/1.1 with `Content-Length` bodies (what alloy's client
//! sends), one thread per connection, and counts the requests per method.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
};

use serde_json::{json, Value};

use crate::http::{read_request, write_response, Request};

/// What the double changes about the node's answers.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The widest `eth_getLogs` range answered, in blocks.
    pub max_log_range: Option<u64>,
    /// The most logs one `eth_getLogs` answer may hold.
    pub max_log_results: Option<usize>,
    /// Answer the `finalized` tag with the latest block.
    pub finalized_is_latest: bool,
}

/// A running double. Its listener serves for the rest of the test process.
#[derive(Debug)]
pub struct RpcDouble {
    addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl RpcDouble {
    /// Starts a double on a free loopback port, forwarding to `upstream`
    /// (`http://host:port`).
    pub fn start(upstream: &str, rules: Rules) -> std::io::Result<Self> {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let shared = Arc::new((rules, counts.clone()));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = serve(stream, upstream, &shared.0, &shared.1);
                });
            }
        });
        Ok(Self { addr, counts })
    }

    /// The URL to give a client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests of `method` it received.
    pub fn requests(&self, method: &str) -> usize {
        self.counts
            .lock()
            .map_or(0, |c| c.get(method).copied().unwrap_or(0))
    }

    /// How many requests it received, of every method.
    pub fn total_requests(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.values().sum())
    }

    /// The requests it received, by method.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Forgets the counts so far.
    pub fn reset_counts(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

type Counts = Mutex<HashMap<String, usize>>;

/// Serves the requests of one connection until the client closes it.
fn serve(
    stream: TcpStream,
    upstream: SocketAddr,
    rules: &Rules,
    counts: &Counts,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(Request { body, .. }) = read_request(&mut reader)? {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let answer = handle(&request, &body, upstream, rules, counts)?;
        write_response(&mut writer, 200, &[], &answer)?;
    }
    Ok(())
}

fn handle(
    request: &Value,
    body: &[u8],
    upstream: SocketAddr,
    rules: &Rules,
    counts: &Counts,
) -> std::io::Result<Vec<u8>> {
    let method = request["method"].as_str().unwrap_or("").to_owned();
    if let Ok(mut counts) = counts.lock() {
        *counts.entry(method.clone()).or_default() += 1;
    }
    let id = request["id"].clone();
    let refuse = |code: i64, message: String| {
        Ok(
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
                .to_string()
                .into_bytes(),
        )
    };
    match method.as_str() {
        "eth_getLogs" => {
            let filter = &request["params"][0];
            let block = |field: &str| {
                filter[field]
                    .as_str()
                    .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
            };
            if let (Some(max), Some(from), Some(to)) =
                (rules.max_log_range, block("fromBlock"), block("toBlock"))
            {
                if to.saturating_sub(from) + 1 > max {
                    return refuse(-32614, format!("eth_getLogs is limited to a {max} range"));
                }
            }
            let answer = forward(body, upstream)?;
            if let Some(max) = rules.max_log_results {
                let parsed: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                if let Some(logs) = parsed["result"].as_array().filter(|l| l.len() > max) {
                    let from = block("fromBlock").unwrap_or(0);
                    let first_excess = logs[max]["blockNumber"]
                        .as_str()
                        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
                        .unwrap_or(from);
                    let until = first_excess.saturating_sub(1).max(from);
                    return refuse(
                        -32005,
                        format!(
                            "query returned more than {max} results. Try with this block range [{from:#x}, {until:#x}]."
                        ),
                    );
                }
            }
            Ok(answer)
        }
        "eth_getBlockByNumber" if rules.finalized_is_latest => {
            let mut rewritten = request.clone();
            if rewritten["params"][0] == "finalized" {
                rewritten["params"][0] = json!("latest");
            }
            forward(rewritten.to_string().as_bytes(), upstream)
        }
        _ => forward(body, upstream),
    }
}

/// Sends `body` to the node and returns its answer's body.
fn forward(body: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream)?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut length = None;
    let mut chunked = false;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    let mut answer = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            answer.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        answer.resize(length, 0);
        reader.read_exact(&mut answer)?;
    } else {
        reader.read_to_end(&mut answer)?;
    }
    Ok(answer)
}
