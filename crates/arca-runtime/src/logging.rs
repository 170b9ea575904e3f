//! The runtime's log: text or runc-style JSON lines (`{"level","msg","time"}`), which is what
//! containerd's shim and conmon read back to report a failed create.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::cli::LogFormat;

struct LogLayer {
    out: Mutex<Box<dyn Write + Send>>,
    json: bool,
    max: Level,
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_owned();
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.max {
            return;
        }
        let mut msg = Message::default();
        event.record(&mut msg);
        write_line(&self.out, self.json, level, &msg.0);
    }
}

fn write_line(out: &Mutex<Box<dyn Write + Send>>, json: bool, level: Level, msg: &str) {
    let level = level.as_str().to_ascii_lowercase();
    let line = if json {
        serde_json::json!({"level": level, "msg": msg, "time": arca_container::state::now_rfc3339()})
            .to_string()
    } else {
        format!("{} {level}: {msg}", arca_container::state::now_rfc3339())
    };
    if let Ok(mut w) = out.lock() {
        let _ = writeln!(w, "{line}");
    }
}

/// Installs the logger; returns whether it writes to a file. Without `--log`, warnings go to
/// stderr (and main prints the final error there itself).
pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> bool {
    let (out, to_file): (Box<dyn Write + Send>, bool) =
        match log.map(|p| File::options().create(true).append(true).open(p)) {
            Some(Ok(f)) => (Box::new(f), true),
            _ => (Box::new(std::io::stderr()), false),
        };
    let layer = LogLayer {
        out: Mutex::new(out),
        json: format == LogFormat::Json,
        max: if debug { Level::DEBUG } else { Level::WARN },
    };
    let subscriber = tracing_subscriber::registry().with(layer);
    let _ = tracing::subscriber::set_global_default(subscriber);
    to_file
}
