//! Configuration in layers: the program's defaults, then a TOML file, then `RONG_*`
//! environment variables, then the program's own checks.
//!
//! Each program keeps its config structs (`#[serde(default, deny_unknown_fields)]`, so a
//! misspelt key is refused) and implements [`Layered`]: its variables, listed in one
//! place through [`Env`], and its checks. [`load`] does the rest, and every failure is a
//! [`ConfigError`] with the same shape in every program.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::DeserializeOwned;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this config (a syntax error, an unknown key, a value
    /// of the wrong type).
    #[error("{}: {message}", place(.path, *.position))]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line and column (from 1) where the fault starts, when TOML says.
        position: Option<(usize, usize)>,
        /// What was wrong.
        message: String,
    },
    /// An environment variable holds a bad value.
    #[error("{name}={value}: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
        /// Why it is bad.
        reason: String,
    },
    /// A value, wherever it came from, breaks one of the program's rules.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// `path:line:col`, or the path alone.
fn place(path: &Path, position: Option<(usize, usize)>) -> String {
    match position {
        Some((line, col)) => format!("{}:{line}:{col}", path.display()),
        None => path.display().to_string(),
    }
}

/// A program's configuration, loaded by [`load`].
pub trait Layered: DeserializeOwned + Default {
    /// Applies this program's `RONG_*` variables, all listed here.
    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError>;

    /// Checks rules that span values; runs last, after the variables.
    fn check(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Defaults, then `file` if given, then the variables from `env`, then the checks.
pub fn load<T: Layered>(file: Option<&Path>, env: &Env<'_>) -> Result<T, ConfigError> {
    let mut config = match file {
        Some(path) => read_toml(path)?,
        None => T::default(),
    };
    config.apply_env(env)?;
    config.check()?;
    Ok(config)
}

/// Reads a TOML file; keys it leaves out keep their defaults.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(path, &text)
}

/// Parses TOML read from `path`; an error names the file, line and column.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Parse {
        path: path.to_owned(),
        position: e.span().map(|span| line_col(text, span.start)),
        message: e.message().trim_end().to_owned(),
    })
}

/// The line and column (from 1, counting characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// A variable look-up: its value, if set.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Where `RONG_*` variables come from: the process environment, or anything else in tests.
pub struct Env<'a> {
    get: Lookup<'a>,
}

impl fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The values may hold secrets.
        f.write_str("Env(..)")
    }
}

impl Env<'static> {
    /// The process environment.
    pub fn process() -> Env<'static> {
        Env::from_fn(|name| std::env::var(name).ok())
    }
}

impl<'a> Env<'a> {
    /// Variables looked up through `get`.
    pub fn from_fn(get: impl Fn(&str) -> Option<String> + 'a) -> Env<'a> {
        Env { get: Box::new(get) }
    }

    /// The variable's value, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.get)(name)
    }

    /// When `name` is set, stores `convert` of its value in `slot`.
    pub fn set<T>(&self, name: &str, slot: &mut T, convert: impl FnOnce(String) -> T) {
        if let Some(v) = self.get(name) {
            *slot = convert(v);
        }
    }

    /// When `name` is set, stores its value parsed with [`FromStr`] in `slot`.
    pub fn parse<T>(&self, name: &str, slot: &mut T) -> Result<(), ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.try_set(name, slot, str::parse)
    }

    /// When `name` is set, stores `convert` of its value in `slot`, or says why it is bad.
    pub fn try_set<T, E: fmt::Display>(
        &self,
        name: &str,
        slot: &mut T,
        convert: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<(), ConfigError> {
        if let Some(value) = self.get(name) {
            *slot = convert(&value).map_err(|e| ConfigError::Env {
                name: name.to_owned(),
                reason: e.to_string(),
                value,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        name: String,
        port: u16,
        inner: Inner,
    }

    #[derive(Debug, Clone, PartialEq, Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        depth: u32,
    }

    impl Default for Demo {
        fn default() -> Self {
            Demo {
                name: "rong".into(),
                port: 1883,
                inner: Inner::default(),
            }
        }
    }

    impl Layered for Demo {
        fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
            env.set("RONG_NAME", &mut self.name, |v| v);
            env.parse("RONG_PORT", &mut self.port)
        }

        fn check(&self) -> Result<(), ConfigError> {
            if self.port == 0 {
                return Err(ConfigError::Invalid("port must not be 0".into()));
            }
            Ok(())
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Env<'static> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_fn(move |k| map.get(k).cloned())
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn defaults_then_file_then_env() {
        let none = vars(&[]);
        assert_eq!(load::<Demo>(None, &none).unwrap(), Demo::default());
        let (_dir, path) = file("name = \"kontum\"\n[inner]\ndepth = 3\n");
        let c: Demo = load(Some(&path), &none).unwrap();
        assert_eq!(
            (c.name.as_str(), c.port, c.inner.depth),
            ("kontum", 1883, 3)
        );
        let c: Demo = load(Some(&path), &vars(&[("RONG_PORT", "1884")])).unwrap();
        assert_eq!(
            (c.name.as_str(), c.port),
            ("kontum", 1884),
            "env beats file"
        );
    }

    #[test]
    fn toml_errors_name_file_line_and_column() {
        let (_dir, path) = file("name = \"x\"\n\n[inner]\n  depht = 3\n");
        let err = load::<Demo>(Some(&path), &vars(&[])).unwrap_err();
        let at = Some((4, 3));
        assert!(matches!(err, ConfigError::Parse { position, .. } if position == at));
        for (text, shown) in [
            (
                "name = \"x\"\n\n[inner]\n  depht = 3\n",
                "4:3: unknown field `depht`",
            ),
            ("port = \"many\"\n", "1:8: "),
            // Columns count characters, not bytes.
            ("name = \"Đắk Tô\" port = 1\n", "1:17: "),
        ] {
            let (_dir, path) = file(text);
            let err = load::<Demo>(Some(&path), &vars(&[])).unwrap_err();
            let want = format!("{}:{shown}", path.display());
            assert!(err.to_string().starts_with(&want), "{err}");
        }
    }

    #[test]
    fn env_errors_have_one_shape() {
        let err = load::<Demo>(None, &vars(&[("RONG_PORT", "lots")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "RONG_PORT=lots: invalid digit found in string"
        );
        let mut n = 1u8;
        let env = vars(&[("RONG_SMALL", "9")]);
        let err = env
            .try_set("RONG_SMALL", &mut n, |v| match v.parse::<u8>() {
                Ok(x) if x < 5 => Ok(x),
                _ => Err("must be below 5"),
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "RONG_SMALL=9: must be below 5");
        assert_eq!(n, 1, "a refused value changes nothing");
    }

    #[test]
    fn checks_run_last_and_a_missing_file_is_named() {
        let err = load::<Demo>(None, &vars(&[("RONG_PORT", "0")])).unwrap_err();
        assert_eq!(err.to_string(), "invalid config: port must not be 0");
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let err = load::<Demo>(Some(&missing), &vars(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("đ = 1", "đ = ".len()), (1, 5));
        assert_eq!(line_col("x", 99), (1, 2), "past the end: the end");
    }
}
