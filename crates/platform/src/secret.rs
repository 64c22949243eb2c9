//! A value that must never reach a log: keys, passwords, tokens.

use std::fmt;

/// Holds a secret; `Debug` and `Display` print `***`, so a config struct that derives `Debug`
/// cannot leak it. [`Secret::expose`] is the one way to the value, easy to find in a review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
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

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_as_stars_wherever_it_is_formatted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Settings {
            password: Secret,
        }
        let settings = Settings {
            password: Secret::new("hunter2"),
        };
        let shown = format!("{settings:?} {settings:#?} {}", settings.password);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
        assert_eq!(settings.password.expose(), "hunter2");
    }
}
