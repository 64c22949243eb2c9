//! Configuration from the environment, read once per process. The Lambda function and the
//! standalone server read the same variables; the producer's defaults differ ([`Serving`]).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use logs::is_stream_name;
use platform::{ConfigError, Secret};

use crate::auth::JwtSettings;

/// Size limits on what one request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Body bytes, checked on the body as sent and again after decompression.
    pub max_body_bytes: usize,
    /// Entries in one array body.
    pub max_entries: usize,
    /// Bytes of any one field's value.
    pub max_field_bytes: usize,
    /// Bytes of any one field's name.
    pub max_field_name_bytes: usize,
    /// Fields in one entry, known and unknown together.
    pub max_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_entries: 500,
            max_field_bytes: 16 * 1024,
            max_field_name_bytes: 128,
            max_fields: 64,
        }
    }
}

/// Which topic each `{path}` of `/api/v1/logs/{path}` produces to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes(BTreeMap<String, String>);

impl Routes {
    /// Parses `path=topic` pairs separated by commas: `app=mobile-logs,events=mobile-events`.
    pub fn parse(spec: &str) -> Result<Routes, String> {
        let mut routes = BTreeMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((path, topic)) = pair.split_once('=') else {
                return Err(format!("'{pair}' is not path=topic"));
            };
            let (path, topic) = (path.trim(), topic.trim());
            if !is_stream_name(path) || topic.is_empty() {
                return Err(format!("'{pair}' is not path=topic"));
            }
            if routes.insert(path.to_owned(), topic.to_owned()).is_some() {
                return Err(format!("path '{path}' is mapped twice"));
            }
        }
        if routes.is_empty() {
            return Err("no path=topic pair".into());
        }
        Ok(Routes(routes))
    }

    pub fn topic(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// How the producer authenticates to the brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaAuth {
    Plaintext,
    /// SASL/SCRAM over TLS (`mechanism` is SCRAM-SHA-512 or SCRAM-SHA-256).
    Scram {
        mechanism: String,
        username: String,
        password: Secret,
    },
    /// MSK IAM: SASL_SSL with OAUTHBEARER tokens signed with the function's credentials.
    MskIam {
        region: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub auth: KafkaAuth,
    /// How long a produce may wait for the brokers' acknowledgement before the request fails.
    pub ack_timeout: Duration,
    /// How long the producer gathers records into one batch before sending it.
    pub linger: Duration,
    /// Produce requests one broker connection may have unanswered (1 to 5, the most an
    /// idempotent producer allows).
    pub max_in_flight: u64,
}

/// How the bridge is served; it decides the producer's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// A Lambda function: one request at a time per process. Nothing comes along to share a
    /// produce request with, so records are sent at once (no linger), and the several produce
    /// requests of one array body may all be in flight together (5).
    OneRequestAtATime,
    /// The standalone server: many requests at once. One produce request per broker connection
    /// in flight (1): the records that arrive meanwhile gather into the next one, so batches grow
    /// with the load instead of the broker answering many small ones; plus a short linger
    /// (0.2 ms) that lets a burst of requests finish arriving.
    Concurrent,
}

impl Serving {
    fn default_linger(self) -> Duration {
        match self {
            Serving::OneRequestAtATime => Duration::ZERO,
            Serving::Concurrent => Duration::from_micros(200),
        }
    }

    fn default_max_in_flight(self) -> u64 {
        match self {
            Serving::OneRequestAtATime => 5,
            Serving::Concurrent => 1,
        }
    }
}

impl KafkaConfig {
    pub fn from_env(serving: Serving) -> Result<KafkaConfig, ConfigError> {
        let method = optional("KAFKA_AUTH").unwrap_or_else(|| "plaintext".into());
        let auth = match method.as_str() {
            "plaintext" => KafkaAuth::Plaintext,
            "scram-sha-512" | "scram-sha-256" => KafkaAuth::Scram {
                mechanism: method.to_ascii_uppercase(),
                username: platform::required_env("KAFKA_SASL_USERNAME")?,
                password: Secret::new(platform::required_env("KAFKA_SASL_PASSWORD")?),
            },
            "msk-iam" => KafkaAuth::MskIam {
                region: platform::required_env("AWS_REGION")?,
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: "KAFKA_AUTH",
                    reason: format!(
                        "'{other}' is not one of plaintext, scram-sha-512, scram-sha-256, msk-iam"
                    ),
                });
            }
        };
        Ok(KafkaConfig {
            bootstrap_servers: platform::required_env("KAFKA_BOOTSTRAP_SERVERS")?,
            auth,
            ack_timeout: Duration::from_millis(number("LOGS_ACK_TIMEOUT_MS", 3000)?),
            linger: milliseconds(
                "KAFKA_LINGER_MS",
                optional("KAFKA_LINGER_MS"),
                serving.default_linger(),
            )?,
            max_in_flight: whole_number(
                "KAFKA_MAX_IN_FLIGHT",
                optional("KAFKA_MAX_IN_FLIGHT"),
                serving.default_max_in_flight(),
                1..=5,
            )?,
        })
    }
}

/// Where the accepted app keys come from, and how JWTs are checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthConfig {
    /// Static keys from `LOGS_APP_KEYS` (comma-separated).
    pub static_keys: Vec<Secret>,
    /// An SSM parameter (a SecureString of comma-separated keys) read at start and then every
    /// `keys_refresh` (`LOGS_APP_KEYS_REFRESH_SECONDS`, default 300; 0 = at start only).
    pub keys_parameter: Option<String>,
    pub keys_refresh: Option<Duration>,
    pub jwt: Option<JwtSettings>,
    /// An SSM parameter (a SecureString) holding the JWT key, read at start
    /// (`LOGS_JWT_KEY_PARAMETER`, what the template sets); `LOGS_JWT_KEY` holds the key itself,
    /// for the local stack and tests.
    pub jwt_key_parameter: Option<String>,
}

impl AuthConfig {
    pub fn from_env() -> Result<AuthConfig, ConfigError> {
        let static_keys = optional("LOGS_APP_KEYS")
            .map(|keys| split_keys(&keys))
            .unwrap_or_default();
        let keys_parameter = optional("LOGS_APP_KEYS_PARAMETER");
        let keys_refresh = match number_or_zero("LOGS_APP_KEYS_REFRESH_SECONDS", 300)? {
            0 => None,
            seconds => Some(Duration::from_secs(seconds)),
        };
        let jwt_key_parameter = optional("LOGS_JWT_KEY_PARAMETER");
        let jwt = match optional("LOGS_JWT_ALGORITHM") {
            None if jwt_key_parameter.is_some() => {
                return Err(ConfigError::Invalid {
                    name: "LOGS_JWT_KEY_PARAMETER",
                    reason: "names a JWT key, but LOGS_JWT_ALGORITHM is not set".into(),
                });
            }
            None => None,
            Some(alg) => Some(JwtSettings {
                algorithm: alg.parse().map_err(|reason| ConfigError::Invalid {
                    name: "LOGS_JWT_ALGORITHM",
                    reason,
                })?,
                key: match (&jwt_key_parameter, optional("LOGS_JWT_KEY")) {
                    (Some(_), Some(_)) => {
                        return Err(ConfigError::Invalid {
                            name: "LOGS_JWT_KEY",
                            reason: "set it or LOGS_JWT_KEY_PARAMETER, not both".into(),
                        });
                    }
                    // Read from the parameter at start; an empty key is refused if it is not.
                    (Some(_), None) => Secret::new(String::new()),
                    (None, Some(key)) => Secret::new(key),
                    (None, None) => {
                        return Err(ConfigError::Missing(
                            "LOGS_JWT_KEY_PARAMETER or LOGS_JWT_KEY",
                        ));
                    }
                },
                audience: optional("LOGS_JWT_AUDIENCE"),
                issuer: optional("LOGS_JWT_ISSUER"),
            }),
        };
        if static_keys.is_empty() && keys_parameter.is_none() && jwt.is_none() {
            return Err(ConfigError::Missing(
                "LOGS_APP_KEYS, LOGS_APP_KEYS_PARAMETER or LOGS_JWT_ALGORITHM",
            ));
        }
        Ok(AuthConfig {
            static_keys,
            keys_parameter,
            keys_refresh,
            jwt_key_parameter,
            jwt,
        })
    }
}

/// Comma-separated keys, blanks dropped.
pub fn split_keys(keys: &str) -> Vec<Secret> {
    keys.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(Secret::from)
        .collect()
}

/// The ad-network callbacks, when `AD_EVENTS_TOPIC` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackConfig {
    /// The topic callbacks are produced to.
    pub topic: String,
    /// The Glue Schema Registry holding the ad event schemas (`AD_SCHEMA_REGISTRY`).
    pub registry: String,
    /// `network:key` pairs from `AD_NETWORK_KEYS` (the local stack and tests) …
    pub network_keys: Option<Secret>,
    /// … and from an SSM SecureString of the same form, read at start
    /// (`AD_NETWORK_KEYS_PARAMETER`, what the template sets).
    pub network_keys_parameter: Option<String>,
}

impl CallbackConfig {
    pub fn from_env() -> Result<Option<CallbackConfig>, ConfigError> {
        let Some(topic) = optional("AD_EVENTS_TOPIC") else {
            return Ok(None);
        };
        let network_keys = optional("AD_NETWORK_KEYS").map(Secret::new);
        let network_keys_parameter = optional("AD_NETWORK_KEYS_PARAMETER");
        if network_keys.is_none() && network_keys_parameter.is_none() {
            return Err(ConfigError::Invalid {
                name: "AD_NETWORK_KEYS_PARAMETER",
                reason: "callbacks need network keys: set it or AD_NETWORK_KEYS".into(),
            });
        }
        Ok(Some(CallbackConfig {
            topic,
            registry: platform::required_env("AD_SCHEMA_REGISTRY")?,
            network_keys,
            network_keys_parameter,
        }))
    }
}

/// Everything the bridge reads at start.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    pub routes: Routes,
    pub limits: Limits,
    pub mask_mobile_number: bool,
    pub auth: AuthConfig,
    pub kafka: KafkaConfig,
    pub callbacks: Option<CallbackConfig>,
}

impl BridgeConfig {
    pub fn from_env(serving: Serving) -> Result<BridgeConfig, ConfigError> {
        let routes = Routes::parse(&platform::required_env("LOGS_TOPICS")?).map_err(|reason| {
            ConfigError::Invalid {
                name: "LOGS_TOPICS",
                reason,
            }
        })?;
        let defaults = Limits::default();
        let limits = Limits {
            max_body_bytes: number("LOGS_MAX_BODY_BYTES", defaults.max_body_bytes as u64)? as usize,
            max_entries: number("LOGS_MAX_ENTRIES", defaults.max_entries as u64)? as usize,
            max_field_bytes: number("LOGS_MAX_FIELD_BYTES", defaults.max_field_bytes as u64)?
                as usize,
            max_field_name_bytes: number(
                "LOGS_MAX_FIELD_NAME_BYTES",
                defaults.max_field_name_bytes as u64,
            )? as usize,
            max_fields: number("LOGS_MAX_FIELDS", defaults.max_fields as u64)? as usize,
        };
        let mask_mobile_number = match optional("LOGS_MASK_MOBILE_NUMBER").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "LOGS_MASK_MOBILE_NUMBER",
                    reason: format!("'{other}' is neither true nor false"),
                });
            }
        };
        Ok(BridgeConfig {
            routes,
            limits,
            mask_mobile_number,
            auth: AuthConfig::from_env()?,
            kafka: KafkaConfig::from_env(serving)?,
            callbacks: CallbackConfig::from_env()?,
        })
    }
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A whole number of at least 1 from the environment, `default` when unset.
fn number(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    whole_number(name, optional(name), default, 1..=u64::MAX)
}

/// A whole number where 0 means "none" (no refresh).
fn number_or_zero(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    whole_number(name, optional(name), default, 0..=u64::MAX)
}

/// Milliseconds, fractions allowed (`0.2`), from 0 to 900 000; `default` when unset.
fn milliseconds(
    name: &'static str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<f64>() {
        Ok(ms) if (0.0..=900_000.0).contains(&ms) => {
            Ok(Duration::from_micros((ms * 1000.0).round() as u64))
        }
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!("'{value}' is not a number of milliseconds from 0 to 900000"),
        }),
    }
}

/// A whole number within `range`, `default` when unset.
fn whole_number(
    name: &'static str,
    value: Option<String>,
    default: u64,
    range: RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => {
            let bounds = match *range.end() {
                u64::MAX => format!("of at least {}", range.start()),
                end => format!("from {} to {end}", range.start()),
            };
            Err(ConfigError::Invalid {
                name,
                reason: format!("'{value}' is not a whole number {bounds}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_paths_to_topics() {
        let routes = Routes::parse(" app=mobile-logs , events=mobile-events,").unwrap();
        assert_eq!(routes.topic("app"), Some("mobile-logs"));
        assert_eq!(routes.topic("events"), Some("mobile-events"));
        assert_eq!(routes.topic("other"), None);
        assert_eq!(routes.paths().collect::<Vec<_>>(), ["app", "events"]);
    }

    #[test]
    fn routes_refuse_malformed_or_repeated_pairs() {
        assert!(Routes::parse("").is_err());
        assert!(Routes::parse("app").is_err());
        assert!(Routes::parse("app=").is_err());
        assert!(Routes::parse("a/b=topic").is_err());
        assert!(Routes::parse("app=a,app=b").is_err());
    }

    #[test]
    fn whole_numbers_have_a_floor_and_a_default() {
        let read = |value: Option<&str>, least| {
            whole_number("N", value.map(str::to_owned), 7, least..=u64::MAX)
        };
        assert_eq!(read(None, 1), Ok(7));
        assert_eq!(read(Some(" 12 "), 1), Ok(12));
        assert_eq!(read(Some("0"), 0), Ok(0), "0 where 0 means none");
        for refused in ["0", "-1", "1.5", "ten"] {
            assert!(read(Some(refused), 1).is_err(), "{refused}");
        }
    }

    #[test]
    fn milliseconds_take_fractions_and_refuse_what_is_not_a_duration() {
        let read = |value: &str| milliseconds("N", Some(value.to_owned()), Duration::ZERO);
        assert_eq!(
            milliseconds("N", None, Duration::from_millis(3)),
            Ok(Duration::from_millis(3))
        );
        assert_eq!(read(" 0.2 "), Ok(Duration::from_micros(200)));
        assert_eq!(read("0"), Ok(Duration::ZERO));
        assert_eq!(read("5"), Ok(Duration::from_millis(5)));
        for refused in ["-0.1", "NaN", "inf", "900001", "soon", ""] {
            assert!(read(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn in_flight_requests_stay_within_what_an_idempotent_producer_allows() {
        let read = |value: Option<&str>| whole_number("N", value.map(str::to_owned), 1, 1..=5);
        assert_eq!(read(None), Ok(1));
        assert_eq!(read(Some("5")), Ok(5));
        for refused in ["0", "6", "2.5", "all"] {
            assert!(read(Some(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn keys_split_on_commas_and_drop_blanks() {
        assert_eq!(
            split_keys(" k1,,k2 , "),
            [Secret::from("k1"), Secret::from("k2")]
        );
    }
}
