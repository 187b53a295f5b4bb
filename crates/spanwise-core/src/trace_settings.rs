//! The settings that shape a finished trace's MLflow model: its experiment, its source
//! metadata, and whether repeated span names get `_1`, `_2` suffixes. Set from the
//! [`Config`](crate::Config) by `init_with` (or the environment), read once per trace when it is
//! finalized.

use std::sync::{Arc, RwLock};

use crate::model::TraceLocation;

/// MLflow's Default experiment, where a trace goes when none is configured.
pub(crate) const DEFAULT_EXPERIMENT: &str = "0";

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct TraceSettings {
    pub experiment_id: String,
    pub name_suffixes: bool,
    /// `mlflow.source.name`, `mlflow.source.type`, `mlflow.user`.
    pub source: Vec<(&'static str, String)>,
}

impl TraceSettings {
    pub(crate) fn new(
        experiment_id: Option<&str>,
        name_suffixes: bool,
        source_name: Option<&str>,
    ) -> Self {
        TraceSettings {
            experiment_id: experiment_id.unwrap_or(DEFAULT_EXPERIMENT).to_owned(),
            name_suffixes,
            source: crate::source::metadata(source_name),
        }
    }

    pub(crate) fn location(&self) -> TraceLocation {
        TraceLocation::experiment(self.experiment_id.clone())
    }
}

static CURRENT: RwLock<Option<Arc<TraceSettings>>> = RwLock::new(None);

/// Replaces the settings (from `init_with`).
pub(crate) fn set(settings: TraceSettings) {
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(settings));
}

/// The settings in force: the defaults until the runtime has set them.
pub(crate) fn current() -> Arc<TraceSettings> {
    if let Some(s) = &*CURRENT.read().unwrap_or_else(|p| p.into_inner()) {
        return s.clone();
    }
    Arc::new(TraceSettings::new(None, true, None))
}
