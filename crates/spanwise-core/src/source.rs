//! Where a trace comes from, as MLflow records it in the trace metadata: the program
//! (`mlflow.source.name`), its kind (`mlflow.source.type`, always `LOCAL` here) and the user
//! running it (`mlflow.user`).
//!
//! MLflow's Python SDK writes `sys.argv[0]` (the script as it was started) and
//! `getpass.getuser()`; spanwise writes the executable's file name and the same user lookup
//! (`LOGNAME`, `USER`, `LNAME`, `USERNAME`, else the name of the process's user id in
//! `/etc/passwd` on Linux, else `unknown`, as MLflow's fallback).

/// The metadata key of the program's name.
pub(crate) const SOURCE_NAME: &str = "mlflow.source.name";
/// The metadata key of the source's kind.
pub(crate) const SOURCE_TYPE: &str = "mlflow.source.type";
/// The metadata key of the user.
pub(crate) const USER: &str = "mlflow.user";

/// The three metadata entries, with `name` as the program's name when given.
pub(crate) fn metadata(name: Option<&str>) -> Vec<(&'static str, String)> {
    let name = name.map_or_else(program_name, str::to_owned);
    vec![
        (SOURCE_NAME, name),
        (SOURCE_TYPE, "LOCAL".to_owned()),
        (USER, user()),
    ]
}

/// The executable's file name (from the command line, else the running binary), or
/// `<console>` as MLflow writes when it has none.
fn program_name() -> String {
    let from = |p: std::path::PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
    };
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(from)
        .or_else(|| std::env::current_exe().ok().and_then(from))
        .unwrap_or_else(|| "<console>".to_owned())
}

/// The OS user as Python's `getpass.getuser()` finds it from the environment.
fn user() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(passwd_user)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The name of the process's user id in `/etc/passwd` (Python's `pwd.getpwuid(os.getuid())`).
#[cfg(target_os = "linux")]
fn passwd_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

#[cfg(not(target_os = "linux"))]
fn passwd_user() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_and_user() {
        let m = metadata(None);
        let exe = std::env::current_exe().unwrap();
        assert_eq!(
            m[0],
            (
                SOURCE_NAME,
                exe.file_name().unwrap().to_string_lossy().into_owned()
            )
        );
        assert_eq!(m[1], (SOURCE_TYPE, "LOCAL".to_owned()));
        assert!(!m[2].1.is_empty());
        #[cfg(target_os = "linux")]
        {
            // The user id of this process has a name (root in a container, a login elsewhere).
            assert!(passwd_user().is_some_and(|n| !n.is_empty()));
        }
        assert_eq!(metadata(Some("my-agent"))[0].1, "my-agent");
    }
}
