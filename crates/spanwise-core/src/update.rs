//! Trace-level updates: tags, metadata, previews, state (MLflow's `update_current_trace`).

use std::collections::BTreeMap;

use crate::model::TraceState;

/// What [`update_current_trace`](crate::update_current_trace) merges into the active trace.
///
/// Tags and metadata are merged key by key; the other fields replace what was set before.
/// Previews set here win over the computed ones and are not cut.
///
/// ```
/// use spanwise_core::{TraceState, TraceUpdate};
/// let update = TraceUpdate::new()
///     .tag("fruit", "apple")
///     .metadata("team", "search")
///     .request_preview("Doc: ...")
///     .session_id("s-1")
///     .user("ada")
///     .state(TraceState::Ok);
/// assert_eq!(update.tags["fruit"], "apple");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TraceUpdate {
    /// Tags to add.
    pub tags: BTreeMap<String, String>,
    /// Metadata to add.
    pub metadata: BTreeMap<String, String>,
    /// The client's own id for the request.
    pub client_request_id: Option<String>,
    /// The Request column of the MLflow UI.
    pub request_preview: Option<String>,
    /// The Response column of the MLflow UI.
    pub response_preview: Option<String>,
    /// The trace's state, overriding the root span's status.
    pub state: Option<TraceState>,
    /// Stored as metadata `mlflow.trace.session`.
    pub session_id: Option<String>,
    /// Stored as metadata `mlflow.trace.user`.
    pub user: Option<String>,
}

impl TraceUpdate {
    /// An empty update, as a constant.
    pub(crate) const EMPTY: TraceUpdate = TraceUpdate {
        tags: BTreeMap::new(),
        metadata: BTreeMap::new(),
        client_request_id: None,
        request_preview: None,
        response_preview: None,
        state: None,
        session_id: None,
        user: None,
    };

    /// An empty update.
    pub fn new() -> TraceUpdate {
        TraceUpdate::default()
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the client request id.
    pub fn client_request_id(mut self, id: impl Into<String>) -> Self {
        self.client_request_id = Some(id.into());
        self
    }

    /// Sets the request preview.
    pub fn request_preview(mut self, preview: impl Into<String>) -> Self {
        self.request_preview = Some(preview.into());
        self
    }

    /// Sets the response preview.
    pub fn response_preview(mut self, preview: impl Into<String>) -> Self {
        self.response_preview = Some(preview.into());
        self
    }

    /// Sets the trace state.
    pub fn state(mut self, state: TraceState) -> Self {
        self.state = Some(state);
        self
    }

    /// Sets the session id.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Sets the user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    pub(crate) fn merge(&mut self, other: TraceUpdate) {
        self.tags.extend(other.tags);
        self.metadata.extend(other.metadata);
        fn take<T>(slot: &mut Option<T>, new: Option<T>) {
            if new.is_some() {
                *slot = new;
            }
        }
        take(&mut self.client_request_id, other.client_request_id);
        take(&mut self.request_preview, other.request_preview);
        take(&mut self.response_preview, other.response_preview);
        take(&mut self.state, other.state);
        take(&mut self.session_id, other.session_id);
        take(&mut self.user, other.user);
    }
}
