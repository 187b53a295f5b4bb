//! Credentials and other header values that must never be printed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// A header value that is sent but never shown: its `Debug` and `Display` print `***`.
///
/// ```
/// let s = spanwise_otlp::Secret::new("s3cr3t");
/// assert_eq!(format!("{s:?} {s}"), "*** ***");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How requests to an MLflow server authenticate.
///
/// ```
/// use spanwise_otlp::Auth;
/// let auth = Auth::bearer("dapi-123");
/// assert!(!format!("{auth:?}").contains("dapi"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic <base64(user:password)>`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

impl Auth {
    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Auth {
        Auth::Bearer(Secret::new(token))
    }

    /// A user name and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Auth {
        Auth::Basic {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// MLflow's variables: `MLFLOW_TRACKING_TOKEN` (bearer), else `MLFLOW_TRACKING_USERNAME`
    /// and `MLFLOW_TRACKING_PASSWORD` (basic), else none.
    pub fn from_env() -> Auth {
        Auth::from_lookup(|k| std::env::var(k).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Auth {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        if let Some(token) = get("MLFLOW_TRACKING_TOKEN") {
            return Auth::bearer(token);
        }
        match (
            get("MLFLOW_TRACKING_USERNAME"),
            get("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(u), Some(p)) => Auth::basic(u, p),
            _ => Auth::None,
        }
    }

    /// The `Authorization` header value, if any.
    pub(crate) fn header(&self) -> Option<Secret> {
        match self {
            Auth::None => None,
            Auth::Bearer(t) => Some(Secret(format!("Bearer {}", t.expose()))),
            Auth::Basic { username, password } => Some(Secret(format!(
                "Basic {}",
                B64.encode(format!("{username}:{}", password.expose()))
            ))),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn token_wins_over_basic() {
        let auth = Auth::from_lookup(env(&[
            ("MLFLOW_TRACKING_TOKEN", "tok"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "p"),
        ]));
        assert_eq!(auth.header().unwrap().expose(), "Bearer tok");
    }

    #[test]
    fn basic_needs_both_parts() {
        let auth = Auth::from_lookup(env(&[("MLFLOW_TRACKING_USERNAME", "u")]));
        assert_eq!(auth, Auth::None);
        let auth = Auth::from_lookup(env(&[
            ("MLFLOW_TRACKING_USERNAME", "ada"),
            ("MLFLOW_TRACKING_PASSWORD", "pw"),
        ]));
        // base64("ada:pw")
        assert_eq!(auth.header().unwrap().expose(), "Basic YWRhOnB3");
    }

    #[test]
    fn secrets_do_not_print() {
        let auth = Auth::basic("ada", "hunter2");
        let shown = format!("{auth:?} {:?}", auth.header());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("YWRh"), "{shown}");
    }
}
