//! Keyway's log records, delivered to the app's logger (os_log, Logcat, Python logging).
//!
//! The first `set_log_sink` installs a `tracing` subscriber that forwards events at or
//! above the chosen level; later calls swap the sink or the level.

use crate::error::KeywayError;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    pub level: LogLevel,
    /// Where in Keyway the record comes from (a Rust module path such as `keyway_ffi::wallet`).
    pub target: String,
    pub message: String,
}

/// The app's logger.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, record: LogRecord);
}

static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
static MAX_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn level_of(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

/// Sends Keyway's logs at `max_level` and more severe to `sink` (`None` stops them).
#[uniffi::export]
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>, max_level: LogLevel) -> Result<(), KeywayError> {
    let installed = *INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(ForwardToSink);
        tracing::subscriber::set_global_default(subscriber).is_ok()
    });
    if !installed {
        return Err(KeywayError::Internal { reason: "another logger is already installed in this process".into() });
    }
    MAX_LEVEL.store(max_level as u8, Ordering::Relaxed);
    let mut slot = SINK.write().map_err(|_| KeywayError::Internal { reason: "log sink lock poisoned".into() })?;
    *slot = sink;
    Ok(())
}

struct ForwardToSink;

#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for ForwardToSink {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = level_of(event.metadata().level());
        if level as u8 > MAX_LEVEL.load(Ordering::Relaxed) {
            return;
        }
        let Some(sink) = SINK.read().ok().and_then(|s| s.clone()) else { return };
        let mut msg = Message::default();
        event.record(&mut msg);
        sink.log(LogRecord { level, target: event.metadata().target().to_string(), message: msg.text + &msg.fields });
    }
}
