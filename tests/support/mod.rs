//! Test support for the native suites: fixtures, a virtual-time executor, a
//! scripted transport and a recording sleeper.
#![allow(dead_code)]

use imagegen::http::{HttpRequest, HttpResponse, Transport, TransportError};
use imagegen::runtime::{Clock, Rng, Sleeper, SplitMix64};
use imagegen::sse::{split_events, StreamDecoder};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

// ---------------------------------------------------------------- chain entries

/// A chain entry for `provider` at `origin` (a fake origin the scripted
/// transport answers), with a test key and the provider's default model.
pub fn cfg(provider: imagegen::ProviderName, origin: &str) -> imagegen::ProviderConfig {
    imagegen::ProviderConfig {
        provider: Some(provider),
        api_key: Some(imagegen::Secret::new(format!(
            "sk-{provider}-test-key-000000000000"
        ))),
        model: None,
        base_url: Some(origin.to_string()),
        params: None,
    }
}

// ---------------------------------------------------------------- fixtures

/// One fixture file.
pub struct Fixture {
    pub name: String,
    pub json: Value,
}

impl Fixture {
    pub fn expect(&self) -> &Value {
        &self.json["expect"]
    }

    /// The fixture as a response.
    pub fn response(&self) -> HttpResponse {
        let status = self.json["status"].as_u64().unwrap() as u16;
        let headers = self.json["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let body = if let Some(b) = self.json.get("body") {
            serde_json::to_vec(b).unwrap()
        } else if let Some(t) = self.json.get("bodyText") {
            t.as_str().unwrap().as_bytes().to_vec()
        } else if let Some(b) = self.json.get("bodyBase64") {
            decode_base64(b.as_str().unwrap())
        } else {
            Vec::new()
        };
        HttpResponse::new(status, headers, body)
    }
}

pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// All fixtures of a provider, sorted by name.
pub fn fixtures(provider: &str) -> Vec<Fixture> {
    let dir = fixtures_dir().join(provider);
    let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| Fixture {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            json: serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

/// One fixture by `provider/name`.
pub fn fixture(path: &str) -> Fixture {
    let (provider, name) = path.split_once('/').unwrap();
    fixtures(provider)
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {path}"))
}

pub fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= val(*b) << (18 - 6 * i);
        }
        let take = chunk.len() * 6 / 8;
        for i in 0..take {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

// ---------------------------------------------------------------- virtual time

struct Timer {
    due: u64,
    fired: bool,
    waker: Option<Waker>,
}

#[derive(Default)]
struct TimeState {
    now: u64,
    next_id: u64,
    timers: BTreeMap<u64, Timer>,
    /// Sleeps of the engine that ran to completion, in order.
    slept: Vec<u64>,
}

/// Virtual time: a clock, a sleeper that records finished sleeps, and an
/// executor that jumps to the next timer when nothing else can run.
#[derive(Clone)]
pub struct VirtualTime {
    state: Rc<RefCell<TimeState>>,
}

pub const EPOCH_MS: u64 = 1_788_000_000_000;

impl VirtualTime {
    pub fn new() -> Self {
        let vt = VirtualTime {
            state: Rc::new(RefCell::new(TimeState::default())),
        };
        vt.state.borrow_mut().now = EPOCH_MS;
        vt
    }

    /// Virtual ms since the start.
    pub fn elapsed(&self) -> u64 {
        self.state.borrow().now - EPOCH_MS
    }

    /// Completed engine sleeps, in order.
    pub fn slept(&self) -> Vec<u64> {
        self.state.borrow().slept.clone()
    }

    /// A sleep that is not recorded (for the fake transport's latency).
    pub fn delay(&self, ms: u64) -> Sleep {
        Sleep {
            vt: self.clone(),
            ms,
            id: None,
            record: false,
        }
    }

    /// Runs a future to completion in virtual time.
    pub fn run<F: Future>(&self, fut: F) -> F::Output {
        struct Flag(AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            flag.0.store(false, Ordering::SeqCst);
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            if flag.0.load(Ordering::SeqCst) {
                continue;
            }
            // Nothing runnable: jump to the earliest pending timer.
            let next = {
                let st = self.state.borrow();
                st.timers
                    .iter()
                    .filter(|(_, t)| !t.fired)
                    .min_by_key(|(id, t)| (t.due, **id))
                    .map(|(id, t)| (*id, t.due))
            };
            let Some((id, due)) = next else {
                panic!("deadlock: the future is pending and no timer is set");
            };
            let waker = {
                let mut st = self.state.borrow_mut();
                st.now = st.now.max(due);
                let t = st.timers.get_mut(&id).unwrap();
                t.fired = true;
                t.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

pub struct Sleep {
    vt: VirtualTime,
    ms: u64,
    id: Option<u64>,
    record: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.vt.state.borrow_mut();
        match self.id {
            None => {
                let id = st.next_id;
                st.next_id += 1;
                let due = st.now + self.ms;
                st.timers.insert(
                    id,
                    Timer {
                        due,
                        fired: false,
                        waker: Some(cx.waker().clone()),
                    },
                );
                drop(st);
                self.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                let fired = st.timers.get(&id).map(|t| t.fired).unwrap_or(true);
                if fired {
                    st.timers.remove(&id);
                    if self.record {
                        let ms = self.ms;
                        st.slept.push(ms);
                    }
                    drop(st);
                    self.id = None;
                    self.ms = u64::MAX; // finished; never re-armed
                    Poll::Ready(())
                } else {
                    if let Some(t) = st.timers.get_mut(&id) {
                        t.waker = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            if let Ok(mut st) = self.vt.state.try_borrow_mut() {
                st.timers.remove(&id);
            }
        }
    }
}

impl Sleeper for VirtualTime {
    async fn sleep(&self, ms: u64) {
        Sleep {
            vt: self.clone(),
            ms,
            id: None,
            record: true,
        }
        .await
    }
}

impl Clock for VirtualTime {
    fn now_ms(&self) -> u64 {
        self.state.borrow().now
    }
}

// ---------------------------------------------------------------- transport

/// What the fake transport does for one request.
#[derive(Clone)]
pub enum Reply {
    /// Respond with a fixture after `delay` virtual ms.
    Fixture(&'static str, u64),
    /// Respond with this status and JSON body after `delay` ms.
    Json(u16, Vec<(&'static str, &'static str)>, Value, u64),
    /// Connection failure after `delay` ms.
    Network(u64),
    /// `200 text/event-stream` with this transcript, each event after
    /// `delay` more ms; a transcript without a final event ends in a
    /// dropped connection, as a cut stream does.
    Stream(String, u64),
    /// Never answer.
    Hang,
}

/// A transport that answers from per-origin scripts and records requests and
/// the peak number of requests in flight.
pub struct ScriptedTransport {
    vt: VirtualTime,
    scripts: RefCell<HashMap<String, VecDeque<Reply>>>,
    pub log: RefCell<Vec<HttpRequest>>,
    in_flight: Rc<Cell<usize>>,
    peak: Cell<usize>,
}

impl ScriptedTransport {
    pub fn new(vt: &VirtualTime) -> Self {
        ScriptedTransport {
            vt: vt.clone(),
            scripts: RefCell::new(HashMap::new()),
            log: RefCell::new(Vec::new()),
            in_flight: Rc::new(Cell::new(0)),
            peak: Cell::new(0),
        }
    }

    /// Queues replies for requests to `origin` (e.g. `http://openai.test`).
    pub fn script(&self, origin: &str, replies: Vec<Reply>) {
        self.scripts
            .borrow_mut()
            .entry(origin.to_string())
            .or_default()
            .extend(replies);
    }

    /// Drops the replies still queued for `origin`.
    pub fn scripts_clear(&self, origin: &str) {
        self.scripts.borrow_mut().remove(origin);
    }

    pub fn calls_to(&self, origin: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|r| r.url.starts_with(origin))
            .count()
    }

    pub fn peak_in_flight(&self) -> usize {
        self.peak.get()
    }

    fn next_reply(&self, url: &str) -> Reply {
        let mut scripts = self.scripts.borrow_mut();
        let origin = scripts
            .keys()
            .find(|o| url.starts_with(o.as_str()))
            .cloned()
            .unwrap_or_else(|| panic!("no script for {url}"));
        scripts
            .get_mut(&origin)
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("script for {origin} ran out"))
    }
}

struct InFlight(Rc<Cell<usize>>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl ScriptedTransport {
    fn start(&self, request: HttpRequest) -> (Reply, InFlight) {
        let reply = self.next_reply(&request.url);
        self.log.borrow_mut().push(request);
        self.in_flight.set(self.in_flight.get() + 1);
        self.peak.set(self.peak.get().max(self.in_flight.get()));
        (reply, InFlight(self.in_flight.clone()))
    }
}

/// The SSE transcript `events` (name, JSON data) as a stream sends it.
pub fn transcript(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

impl Transport for ScriptedTransport {
    async fn send_stream(
        &self,
        request: HttpRequest,
        decoder: &mut StreamDecoder<'_>,
    ) -> Result<HttpResponse, TransportError> {
        let (reply, guard) = self.start(request);
        let Reply::Stream(text, delay) = reply else {
            let resp = self.answer(reply).await;
            drop(guard);
            return imagegen::sse::decode_whole(resp?, decoder);
        };
        let _guard = guard;
        for event in split_events(&text) {
            self.vt.delay(delay).await;
            if event.data.trim() == "[DONE]" {
                break;
            }
            let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
                return Ok(decoder.malformed());
            };
            if let Some(resp) = decoder.event(event.event.as_deref(), data) {
                return Ok(resp);
            }
        }
        Err(decoder.ended())
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (reply, _guard) = self.start(request);
        self.answer(reply).await
    }
}

impl ScriptedTransport {
    async fn answer(&self, reply: Reply) -> Result<HttpResponse, TransportError> {
        match reply {
            Reply::Stream(text, delay) => {
                self.vt.delay(delay).await;
                let headers = vec![("content-type".to_string(), "text/event-stream".to_string())];
                Ok(HttpResponse::new(200, headers, text.into_bytes()))
            }
            Reply::Fixture(name, delay) => {
                self.vt.delay(delay).await;
                Ok(fixture(name).response())
            }
            Reply::Json(status, headers, body, delay) => {
                self.vt.delay(delay).await;
                Ok(HttpResponse::new(
                    status,
                    headers
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    serde_json::to_vec(&body).unwrap(),
                ))
            }
            Reply::Network(delay) => {
                self.vt.delay(delay).await;
                Err(TransportError::Network("connection reset by peer".into()))
            }
            Reply::Hang => {
                std::future::pending::<()>().await;
                unreachable!()
            }
        }
    }
}

/// A seeded RNG that can also be pinned to a constant roll.
pub struct TestRng {
    inner: SplitMix64,
    fixed: Option<f64>,
}

impl TestRng {
    pub fn seeded(seed: u64) -> Self {
        TestRng {
            inner: SplitMix64::new(seed),
            fixed: None,
        }
    }

    /// Every roll returns `v` (e.g. 0.999 → the longest backoff).
    pub fn fixed(v: f64) -> Self {
        TestRng {
            inner: SplitMix64::new(1),
            fixed: Some(v),
        }
    }
}

impl Rng for TestRng {
    fn next_f64(&self) -> f64 {
        self.fixed.unwrap_or_else(|| self.inner.next_f64())
    }
    fn next_u32(&self) -> u32 {
        self.inner.next_u32()
    }
}
