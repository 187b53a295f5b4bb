//! Reading the environment variables the exporters are configured by: a value that is not
//! UTF-8 is an error naming its variable (as in `spanwise_core::Config::from_env`), not a
//! variable silently taken as unset.

use spanwise_core::Error;

/// Fails on the first of `keys` whose value is not valid UTF-8.
pub(crate) fn check_unicode(keys: &[&str]) -> Result<(), Error> {
    for key in keys {
        if let Err(std::env::VarError::NotUnicode(_)) = std::env::var(key) {
            // Not the value: these variables hold tokens and headers.
            return Err(Error::Config {
                key: (*key).into(),
                message: "the value is not valid UTF-8".into(),
            });
        }
    }
    Ok(())
}
