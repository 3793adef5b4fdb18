//! A stand-in for the Anthropic Messages API that the real Claude CLI talks to
//! (`ANTHROPIC_BASE_URL`). It plays one scripted conversation with known figures, so the tests
//! can compare what the collector stored with what was served: per call its usage (with the
//! 5m/1h cache-write split), its first-chunk delay, and the errors served before it (429 with
//! `retry-after`, 529 `overloaded_error`). Streaming answers are SSE (`message_start`,
//! `content_block_*`, `message_delta`, `message_stop`); non-streaming ones plain JSON.
//!
//! A plain HTTP/1.1 server over tokio, not axum: the test needs to control when each chunk
//! leaves (the first-chunk delay is what TTFT is checked against), and keep-alive connections
//! must carry several requests, which a raw loop makes explicit.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What one main-conversation call answers with.
#[derive(Clone, Debug)]
pub struct Call {
    pub request_id: &'static str,
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    /// Before `message_start` is sent.
    pub first_chunk_ms: u64,
    /// Errors served (in order) before this call succeeds: (status, error type).
    pub failures: Vec<(u16, &'static str)>,
}

impl Call {
    pub fn cache_write(&self) -> i64 {
        self.cache_write_5m + self.cache_write_1h
    }
}

/// The scripted conversation: call 1 asks for a Write of `hello.txt`, call 2 ends the turn.
pub fn script() -> Vec<Call> {
    vec![
        Call {
            request_id: "req_standin_1",
            input: 120,
            output: 40,
            cache_read: 2_000,
            cache_write_5m: 200,
            cache_write_1h: 300,
            first_chunk_ms: 400,
            failures: vec![(429, "rate_limit_error")],
        },
        Call {
            request_id: "req_standin_2",
            input: 130,
            output: 12,
            cache_read: 2_500,
            cache_write_5m: 150,
            cache_write_1h: 0,
            first_chunk_ms: 250,
            failures: vec![(529, "overloaded_error")],
        },
    ]
}

/// The answer to a call outside the conversation.
pub const SIDE_CALL: Call = Call {
    request_id: "req_standin_side",
    input: 7,
    output: 3,
    cache_read: 0,
    cache_write_5m: 0,
    cache_write_1h: 0,
    first_chunk_ms: 0,
    failures: vec![],
};

/// One response the stand-in gave, for the tests' expectations.
#[derive(Clone, Debug)]
pub struct Served {
    /// Index into [`script`], or None for a call outside the conversation.
    pub call: Option<usize>,
    pub status: u16,
    /// Since the stand-in started: request read, first byte of the answer, answer done.
    pub received: Duration,
    pub first_chunk: Duration,
    pub done: Duration,
    /// A Messages API call (not a token count).
    pub messages: bool,
}

pub struct Standin {
    pub url: String,
    pub served: Arc<Mutex<Vec<Served>>>,
    pub calls: Vec<Call>,
}

struct State {
    calls: Vec<Call>,
    workdir: PathBuf,
    /// When set, call 1 asks for a WebFetch of this URL instead of the Write.
    fetch_url: Option<String>,
    /// Errors already served per call.
    failed: Mutex<Vec<usize>>,
    served: Arc<Mutex<Vec<Served>>>,
    start: Instant,
}

impl Standin {
    /// Starts on a random port; `workdir` is the CLI's cwd (the Write goes there).
    pub async fn start(workdir: PathBuf) -> Self {
        Self::start_with(workdir, None).await
    }

    /// The same conversation, but call 1 asks for a WebFetch of `url`: the CLI then makes a
    /// side call (no tools, one message) to summarise the page, answered with [`SIDE_CALL`].
    pub async fn start_fetching(workdir: PathBuf, url: String) -> Self {
        Self::start_with(workdir, Some(url)).await
    }

    async fn start_with(workdir: PathBuf, fetch_url: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(Vec::new()));
        let calls = script();
        let state = Arc::new(State {
            failed: Mutex::new(vec![0; calls.len()]),
            calls: calls.clone(),
            workdir,
            fetch_url,
            served: served.clone(),
            start: Instant::now(),
        });
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = connection(socket, &state).await;
                });
            }
        });
        Self { url, served, calls }
    }

    pub fn served(&self) -> Vec<Served> {
        self.served.lock().unwrap().clone()
    }
}

async fn connection(socket: TcpStream, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(socket);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let received = state.start.elapsed();
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        answer(reader.get_mut(), state, &path, &request, received).await?;
    }
}

/// Which scripted call a request is: the first, or the one after the Write's tool_result.
fn which_call(request: &Value) -> Option<usize> {
    if request["tools"].as_array().is_none_or(Vec::is_empty) {
        return None;
    }
    let last = request["messages"].as_array()?.last()?;
    let after_tool = last["content"]
        .as_array()
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
    Some(usize::from(after_tool))
}

async fn answer(
    socket: &mut TcpStream,
    state: &State,
    path: &str,
    request: &Value,
    received: Duration,
) -> std::io::Result<()> {
    let messages =
        path.starts_with("/v1/messages") && !path.starts_with("/v1/messages/count_tokens");
    let record = |call, status, first: Duration| {
        state.served.lock().unwrap().push(Served {
            call,
            status,
            received,
            first_chunk: first,
            done: state.start.elapsed(),
            messages,
        });
    };
    if !messages {
        let body = json!({"input_tokens": 10});
        write_json(socket, 200, &body, &[]).await?;
        record(None, 200, state.start.elapsed());
        return Ok(());
    }
    let call = which_call(request);
    if let Some(i) = call {
        let failure = {
            let mut failed = state.failed.lock().unwrap();
            let f = state.calls[i].failures.get(failed[i]).copied();
            failed[i] += usize::from(f.is_some());
            f
        };
        if let Some((status, kind)) = failure {
            let body = json!({"type": "error", "error": {"type": kind, "message": kind}});
            write_json(socket, status, &body, &[("retry-after", "1")]).await?;
            record(call, status, state.start.elapsed());
            return Ok(());
        }
    }
    // Calls outside the conversation (a WebFetch's summary; no others with
    // CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1) get a small known answer.
    let figures = call.map_or(SIDE_CALL, |i| state.calls[i].clone());
    let file = state.workdir.join("hello.txt");
    let content = match (call, &state.fetch_url) {
        (Some(0), Some(url)) => json!([
            {"type": "text", "text": "Fetching the page."},
            {"type": "tool_use", "id": "toolu_standin_fetch", "name": "WebFetch",
             "input": {"url": url, "prompt": "What is the answer?"}},
        ]),
        (Some(0), None) => json!([
            {"type": "text", "text": "Writing the file."},
            {"type": "tool_use", "id": "toolu_standin_1", "name": "Write",
             "input": {"file_path": file, "content": "hello\n"}},
        ]),
        _ => json!([{"type": "text", "text": "Done."}]),
    };
    let stop = if call == Some(0) {
        "tool_use"
    } else {
        "end_turn"
    };
    let usage = json!({
        "input_tokens": figures.input, "output_tokens": figures.output,
        "cache_read_input_tokens": figures.cache_read,
        "cache_creation_input_tokens": figures.cache_write(),
        "cache_creation": {"ephemeral_5m_input_tokens": figures.cache_write_5m,
                           "ephemeral_1h_input_tokens": figures.cache_write_1h},
    });
    let model = request["model"].clone();
    let id = format!("msg_{}", figures.request_id);
    tokio::time::sleep(Duration::from_millis(figures.first_chunk_ms)).await;
    let first = state.start.elapsed();
    let headers = [("request-id", figures.request_id)];
    if request["stream"] != true {
        let body = json!({"id": id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage});
        write_json(socket, 200, &body, &headers).await?;
        record(call, 200, first);
        return Ok(());
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nrequest-id: {}\r\n\
         transfer-encoding: chunked\r\n\r\n",
        figures.request_id
    );
    socket.write_all(head.as_bytes()).await?;
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    let mut events = vec![
        json!({"type": "message_start", "message": {"id": id, "type": "message",
        "role": "assistant", "model": model, "content": [], "stop_reason": null,
        "stop_sequence": null, "usage": start_usage}}),
    ];
    for (index, block) in content.as_array().unwrap().iter().enumerate() {
        let (start, delta) = if block["type"] == "text" {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        } else {
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        };
        events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
        events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(
        json!({"type": "message_delta", "delta": {"stop_reason": stop,
        "stop_sequence": null}, "usage": {"output_tokens": figures.output}}),
    );
    events.push(json!({"type": "message_stop"}));
    for event in events {
        let frame = format!(
            "event: {}\ndata: {event}\n\n",
            event["type"].as_str().unwrap()
        );
        let chunk = format!("{:x}\r\n{frame}\r\n", frame.len());
        socket.write_all(chunk.as_bytes()).await?;
        socket.flush().await?;
    }
    socket.write_all(b"0\r\n\r\n").await?;
    socket.flush().await?;
    record(call, 200, first);
    Ok(())
}

async fn write_json(
    socket: &mut TcpStream,
    status: u16,
    body: &Value,
    headers: &[(&str, &str)],
) -> std::io::Result<()> {
    let body = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.flush().await
}
