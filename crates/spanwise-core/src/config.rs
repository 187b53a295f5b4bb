//! [`Config`]: where traces go, how many are kept, sampling, span processors, value limits.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::capture::DEFAULT_MAX_VALUE_BYTES;
use crate::destination::{DEFAULT_QUEUE_BYTES, Destination};
use crate::error::Error;
use crate::model::Span;
use crate::processor::SpanProcessor;
use crate::store::{Capacity, DEFAULT_MEMORY_CAPACITY};

/// The default trace directory, relative to the current directory.
pub const DEFAULT_TRACE_DIR: &str = "spanwise-traces";

/// How spanwise is set up. Build it, or read it from the environment, and pass it to
/// [`init_with`](crate::init_with).
///
/// | setting | builder | environment | default |
/// |---|---|---|---|
/// | JSONL directory | [`trace_dir`](Config::trace_dir) | `SPANWISE_TRACE_DIR` | `./spanwise-traces` |
/// | no JSONL file | [`no_destination`](Config::no_destination) | `SPANWISE_DESTINATION=none` | written |
/// | traces kept in memory | [`memory_capacity`](Config::memory_capacity) | `SPANWISE_MEMORY_CAPACITY` | 1000 |
/// | their size in memory | [`memory_capacity_bytes`](Config::memory_capacity_bytes) | `SPANWISE_MEMORY_CAPACITY_BYTES` | 256 MiB |
/// | traces waiting for the JSONL writer | [`trace_queue_bytes`](Config::trace_queue_bytes) | `SPANWISE_TRACE_QUEUE_BYTES` | 64 MiB |
/// | sampling ratio | [`sampling_ratio`](Config::sampling_ratio) | `SPANWISE_SAMPLING_RATIO`, `MLFLOW_TRACE_SAMPLING_RATIO` | 1.0 |
/// | largest captured value | [`max_value_bytes`](Config::max_value_bytes) | `SPANWISE_MAX_VALUE_BYTES` | 1 MiB |
/// | experiment of the stored traces | [`experiment_id`](Config::experiment_id) | `MLFLOW_EXPERIMENT_ID` | `"0"` (MLflow's Default experiment) |
/// | `_1`, `_2` suffixes on repeated span names | [`span_name_suffixes`](Config::span_name_suffixes) | `SPANWISE_SPAN_NAME_SUFFIXES` (`on`/`off`) | on |
/// | `mlflow.source.name` | [`source_name`](Config::source_name) | `SPANWISE_SOURCE_NAME` | the executable's file name |
///
/// ```
/// use spanwise_core::Config;
/// let config = Config::new()
///     .trace_dir(std::env::temp_dir().join("my-traces"))
///     .memory_capacity(100)
///     .memory_capacity_bytes(64 << 20)
///     .sampling_ratio(0.5)
///     .span_processor(|span| {
///         span.attributes.remove("api_key");
///     });
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) trace_dir: Option<PathBuf>,
    /// The bound of the JSONL writer's queue, in estimated bytes.
    pub(crate) trace_queue_bytes: usize,
    pub(crate) destinations: Vec<Arc<dyn Destination>>,
    /// The in-memory store's bounds, in traces and in bytes.
    pub(crate) memory_capacity: Capacity,
    pub(crate) sampling_ratio: f64,
    pub(crate) processors: Vec<SpanProcessor>,
    pub(crate) max_value_bytes: usize,
    pub(crate) experiment_id: Option<String>,
    pub(crate) span_name_suffixes: bool,
    pub(crate) source_name: Option<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("trace_dir", &self.trace_dir)
            .field("trace_queue_bytes", &self.trace_queue_bytes)
            .field(
                "destinations",
                &self
                    .destinations
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>(),
            )
            .field("memory_capacity", &self.memory_capacity.traces)
            .field("memory_capacity_bytes", &self.memory_capacity.bytes)
            .field("sampling_ratio", &self.sampling_ratio)
            .field("processors", &self.processors.len())
            .field("max_value_bytes", &self.max_value_bytes)
            .field("experiment_id", &self.experiment_id)
            .field("span_name_suffixes", &self.span_name_suffixes)
            .field("source_name", &self.source_name)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: JSONL store in `./spanwise-traces`, 1000 traces and at most 256 MiB in
    /// memory, everything sampled, values up to 1 MiB. The environment is not read; see [`Config::from_env`].
    pub fn new() -> Config {
        Config {
            trace_dir: Some(PathBuf::from(DEFAULT_TRACE_DIR)),
            trace_queue_bytes: DEFAULT_QUEUE_BYTES,
            destinations: Vec::new(),
            memory_capacity: Capacity {
                traces: DEFAULT_MEMORY_CAPACITY,
                ..Capacity::default()
            },
            sampling_ratio: 1.0,
            processors: Vec::new(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            experiment_id: None,
            span_name_suffixes: true,
            source_name: None,
        }
    }

    /// The defaults, overridden by the environment variables of the table above. An unparsable
    /// value is an error naming the variable.
    ///
    /// ```
    /// // SAFETY (doc test): no other thread reads the environment here.
    /// unsafe { std::env::set_var("SPANWISE_SAMPLING_RATIO", "lots") };
    /// let err = spanwise_core::Config::from_env().unwrap_err();
    /// assert!(err.to_string().contains("SPANWISE_SAMPLING_RATIO"));
    /// unsafe { std::env::remove_var("SPANWISE_SAMPLING_RATIO") };
    /// ```
    pub fn from_env() -> Result<Config, Error> {
        let mut c = Config::new();
        // A directory is a path, which need not be UTF-8.
        if let Some(dir) = std::env::var_os("SPANWISE_TRACE_DIR")
            .filter(|d| !d.to_string_lossy().trim().is_empty())
        {
            c.trace_dir = Some(PathBuf::from(dir));
        }
        if let Some(d) = env("SPANWISE_DESTINATION")? {
            match d.to_ascii_lowercase().as_str() {
                "none" | "off" => c.trace_dir = None,
                "jsonl" | "file" => {}
                other => {
                    return Err(Error::Config {
                        key: "SPANWISE_DESTINATION".into(),
                        message: format!("{other:?} is not one of jsonl, none"),
                    });
                }
            }
        }
        for key in ["MLFLOW_TRACE_SAMPLING_RATIO", "SPANWISE_SAMPLING_RATIO"] {
            if let Some(v) = env(key)? {
                c.sampling_ratio = parse_ratio(key, &v)?;
            }
        }
        if let Some(v) = env("SPANWISE_MEMORY_CAPACITY")? {
            c.memory_capacity.traces = v.trim().parse().map_err(|_| Error::Config {
                key: "SPANWISE_MEMORY_CAPACITY".into(),
                message: format!("{v:?} is not a whole number of traces"),
            })?;
        }
        if let Some(v) = env("SPANWISE_MEMORY_CAPACITY_BYTES")? {
            c.memory_capacity.bytes = v.trim().parse().map_err(|_| Error::Config {
                key: "SPANWISE_MEMORY_CAPACITY_BYTES".into(),
                message: format!("{v:?} is not a whole number of bytes"),
            })?;
        }
        if let Some(v) = env("SPANWISE_TRACE_QUEUE_BYTES")? {
            c.trace_queue_bytes = v.trim().parse().map_err(|_| Error::Config {
                key: "SPANWISE_TRACE_QUEUE_BYTES".into(),
                message: format!("{v:?} is not a whole number of bytes"),
            })?;
        }
        if let Some(v) = env("SPANWISE_MAX_VALUE_BYTES")? {
            c.max_value_bytes = v.trim().parse().map_err(|_| Error::Config {
                key: "SPANWISE_MAX_VALUE_BYTES".into(),
                message: format!("{v:?} is not a whole number of bytes"),
            })?;
        }
        c.experiment_id = env("MLFLOW_EXPERIMENT_ID")?;
        c.source_name = env("SPANWISE_SOURCE_NAME")?;
        if let Some(v) = env("SPANWISE_SPAN_NAME_SUFFIXES")? {
            c.span_name_suffixes = match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                _ => {
                    return Err(Error::Config {
                        key: "SPANWISE_SPAN_NAME_SUFFIXES".into(),
                        message: format!("{v:?} is not one of on, off"),
                    });
                }
            };
        }
        Ok(c)
    }

    /// Writes the JSONL store to `<dir>/traces.jsonl`.
    pub fn trace_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.trace_dir = Some(dir.into());
        self
    }

    /// How many bytes of traces (by their [estimated
    /// size](crate::CompletedTrace::estimated_bytes)) may wait for the JSONL writer. When the
    /// queue is full, the thread whose root span ends waits for room: traces are not dropped.
    /// A single trace larger than the bound is still queued (alone).
    ///
    /// ```
    /// let config = spanwise_core::Config::new().trace_queue_bytes(16 << 20);
    /// # let _ = config;
    /// ```
    pub fn trace_queue_bytes(mut self, bytes: usize) -> Self {
        self.trace_queue_bytes = bytes;
        self
    }

    /// Writes no JSONL file (traces still go to the in-memory store and added destinations).
    pub fn no_destination(mut self) -> Self {
        self.trace_dir = None;
        self
    }

    /// Adds a destination (an exporter, a test sink) beside the JSONL store.
    pub fn add_destination(mut self, destination: Arc<dyn Destination>) -> Self {
        self.destinations.push(destination);
        self
    }

    /// How many completed traces the in-memory store keeps (0 keeps none).
    pub fn memory_capacity(mut self, n: usize) -> Self {
        self.memory_capacity.traces = n;
        self
    }

    /// How much memory the traces of the in-memory store may take, in bytes, by their
    /// [estimated size](crate::CompletedTrace::estimated_bytes) (about the size of their
    /// JSON); the oldest traces are dropped first. The newest trace is kept even when it alone
    /// is larger. 0 keeps none.
    ///
    /// ```
    /// let config = spanwise_core::Config::new().memory_capacity_bytes(32 << 20);
    /// # let _ = config;
    /// ```
    pub fn memory_capacity_bytes(mut self, bytes: usize) -> Self {
        self.memory_capacity.bytes = bytes;
        self
    }

    /// The share of traces recorded, from 0.0 to 1.0, decided per root: an unsampled root drops
    /// its whole subtree. Checked by `init_with`.
    pub fn sampling_ratio(mut self, ratio: f64) -> Self {
        self.sampling_ratio = ratio;
        self
    }

    /// Adds a function run on every span when its trace's MLflow model is built, e.g. to redact
    /// values. The model is built where it is needed (by each destination on its own thread, and
    /// by `get_trace`), so a processor may run more than once per span: make it give the same
    /// result when run again, as redaction does. A panic inside it is caught and counted in
    /// [`stats`](crate::stats); the span is kept, but what it carried (inputs, outputs, the
    /// other attributes, events) is withheld, since a redaction that stopped half-way may have
    /// left what it was meant to remove: ids, name, times, status and span type remain, with a
    /// `spanwise.user_code_panicked` event.
    pub fn span_processor(mut self, f: impl Fn(&mut Span) + Send + Sync + 'static) -> Self {
        self.processors.push(SpanProcessor(Arc::new(f)));
        self
    }

    /// The largest captured value in bytes of JSON; a larger one becomes a string holding its
    /// start and a `...[truncated N bytes]` marker.
    pub fn max_value_bytes(mut self, n: usize) -> Self {
        self.max_value_bytes = n;
        self
    }

    /// The MLflow experiment written into each trace's `trace_location` (a destination that
    /// sends to a server may place the trace in its own experiment). Without it, MLflow's
    /// Default experiment, `"0"`.
    ///
    /// ```
    /// let config = spanwise_core::Config::new().experiment_id("42");
    /// # let _ = config;
    /// ```
    pub fn experiment_id(mut self, id: impl Into<String>) -> Self {
        self.experiment_id = Some(id.into());
        self
    }

    /// Whether span names used more than once in a trace get `_1`, `_2`, … in start order (on by
    /// default, as MLflow's manual-tracing guide describes). Off keeps the names as given, as
    /// MLflow 3.17 does.
    ///
    /// ```
    /// let config = spanwise_core::Config::new().span_name_suffixes(false);
    /// # let _ = config;
    /// ```
    pub fn span_name_suffixes(mut self, on: bool) -> Self {
        self.span_name_suffixes = on;
        self
    }

    /// The program's name in each trace's `mlflow.source.name` metadata (MLflow's Source
    /// column). Default: the executable's file name.
    ///
    /// ```
    /// let config = spanwise_core::Config::new().source_name("support-agent");
    /// # let _ = config;
    /// ```
    pub fn source_name(mut self, name: impl Into<String>) -> Self {
        self.source_name = Some(name.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            return Err(Error::Config {
                key: "sampling_ratio".into(),
                message: format!("{} is not between 0.0 and 1.0", self.sampling_ratio),
            });
        }
        Ok(())
    }
}

/// The variable's value; `None` when unset or blank, an error naming it when not UTF-8.
fn env(key: &str) -> Result<Option<String>, Error> {
    match std::env::var(key) {
        Ok(v) => Ok(Some(v).filter(|v| !v.trim().is_empty())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(Error::Config {
            key: key.into(),
            message: format!("{v:?} is not valid UTF-8"),
        }),
    }
}

fn parse_ratio(key: &str, v: &str) -> Result<f64, Error> {
    match v.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(Error::Config {
            key: key.into(),
            message: format!("{v:?} is not a number between 0.0 and 1.0"),
        }),
    }
}
