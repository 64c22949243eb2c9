//! The `AppKey` header: one of several static keys, or a JWT.
//!
//! Static keys are compared through their SHA-256 digests in constant time, against every
//! configured key, so neither a key's content nor its length shows in the timing. A JWT is
//! recognised by its shape (three dot-separated parts) when JWTs are configured; its algorithm
//! is pinned, `exp` is required, `exp`/`nbf` are checked, and `aud`/`iss` when configured.

use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use platform::Secret;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a request was refused. The contract's 403 body carries `error_type` and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Invalid(String),
    Expired,
}

impl AuthFailure {
    pub fn error_type(&self) -> &'static str {
        match self {
            // Existing apps treat a missing key as an expired session: the contract keeps it.
            AuthFailure::Missing | AuthFailure::Expired => "token_expired",
            AuthFailure::Invalid(_) => "invalid_token",
        }
    }

    pub fn description(&self) -> &str {
        match self {
            AuthFailure::Missing => "Please provide authorization token",
            AuthFailure::Invalid(reason) => reason,
            AuthFailure::Expired => "Authorization token has expired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
}

impl FromStr for JwtAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "HS256" => Ok(JwtAlgorithm::Hs256),
            "RS256" => Ok(JwtAlgorithm::Rs256),
            other => Err(format!("'{other}' is not HS256 or RS256")),
        }
    }
}

/// How JWT app keys are checked; the authenticator's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub algorithm: JwtAlgorithm,
    /// The HS256 secret, or the RS256 public key in PEM.
    pub key: Secret,
    pub audience: Option<String>,
    pub issuer: Option<String>,
}

struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

/// The accepted static keys (their digests), shared with whatever refreshes them: replacing
/// the set takes effect for the next request.
#[derive(Clone, Default)]
pub struct StaticKeys(Arc<RwLock<Vec<[u8; 32]>>>);

impl StaticKeys {
    pub fn new(keys: &[Secret]) -> StaticKeys {
        let shared = StaticKeys::default();
        shared.replace(keys);
        shared
    }

    /// Accepts exactly `keys` from now on.
    pub fn replace(&self, keys: &[Secret]) {
        let digests = keys.iter().map(|k| digest(k.expose().as_bytes())).collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = digests;
    }

    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Compares against every key, so the position of a match does not show in the timing.
    pub(crate) fn accepts(&self, presented: &[u8]) -> bool {
        let wanted = digest(presented);
        let digests = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let matched = digests
            .iter()
            .fold(subtle::Choice::from(0), |any, key| any | key.ct_eq(&wanted));
        bool::from(matched)
    }
}

/// Checks `AppKey` values. Built once per process.
pub struct Authenticator {
    static_keys: StaticKeys,
    jwt: Option<JwtVerifier>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("static_keys", &self.static_keys.len())
            .field("jwt", &self.jwt.is_some())
            .finish()
    }
}

impl Authenticator {
    pub fn new(static_keys: &[Secret], jwt: Option<&JwtSettings>) -> Result<Authenticator, String> {
        let jwt = match jwt {
            None => None,
            Some(config) => Some(JwtVerifier::new(config)?),
        };
        Ok(Authenticator {
            static_keys: StaticKeys::new(static_keys),
            jwt,
        })
    }

    /// A handle on the static keys, for replacing them while requests are served.
    pub fn static_keys(&self) -> StaticKeys {
        self.static_keys.clone()
    }

    pub fn check(&self, app_key: Option<&[u8]>) -> Result<(), AuthFailure> {
        let presented = match app_key.map(<[u8]>::trim_ascii) {
            None | Some([]) => return Err(AuthFailure::Missing),
            Some(value) => value,
        };
        if let Some(jwt) = &self.jwt
            && looks_like_jwt(presented)
        {
            return jwt.check(presented);
        }
        if self.static_keys.accepts(presented) {
            Ok(())
        } else {
            Err(AuthFailure::Invalid(
                "Authorization token is not valid".into(),
            ))
        }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn looks_like_jwt(value: &[u8]) -> bool {
    value.iter().filter(|&&b| b == b'.').count() == 2
}

impl JwtVerifier {
    fn new(config: &JwtSettings) -> Result<JwtVerifier, String> {
        if config.key.expose().trim().is_empty() {
            return Err("the JWT key is empty".into());
        }
        let (algorithm, key) = match config.algorithm {
            JwtAlgorithm::Hs256 => (
                Algorithm::HS256,
                DecodingKey::from_secret(config.key.expose().as_bytes()),
            ),
            JwtAlgorithm::Rs256 => (
                Algorithm::RS256,
                DecodingKey::from_rsa_pem(config.key.expose().as_bytes())
                    .map_err(|e| format!("the JWT key is not an RSA public key in PEM: {e}"))?,
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 30;
        validation.validate_aud = config.audience.is_some();
        if let Some(audience) = &config.audience {
            validation.set_audience(&[audience]);
        }
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
        }
        Ok(JwtVerifier { key, validation })
    }

    fn check(&self, token: &[u8]) -> Result<(), AuthFailure> {
        let Ok(token) = std::str::from_utf8(token) else {
            return Err(AuthFailure::Invalid(
                "Authorization token is malformed".into(),
            ));
        };
        match jsonwebtoken::decode::<Value>(token, &self.key, &self.validation) {
            Ok(_) => Ok(()),
            Err(err) => Err(match err.kind() {
                ErrorKind::ExpiredSignature => AuthFailure::Expired,
                ErrorKind::ImmatureSignature => {
                    AuthFailure::Invalid("Authorization token is not valid yet".into())
                }
                ErrorKind::InvalidAudience => {
                    AuthFailure::Invalid("Authorization token is for another audience".into())
                }
                ErrorKind::InvalidIssuer => {
                    AuthFailure::Invalid("Authorization token is from another issuer".into())
                }
                ErrorKind::InvalidAlgorithm => AuthFailure::Invalid(
                    "Authorization token is signed with an algorithm not accepted here".into(),
                ),
                ErrorKind::InvalidSignature => {
                    AuthFailure::Invalid("Authorization token signature is invalid".into())
                }
                ErrorKind::MissingRequiredClaim(_) => {
                    AuthFailure::Invalid("Authorization token has no expiry".into())
                }
                _ => AuthFailure::Invalid("Authorization token is malformed".into()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "a-shared-secret-of-reasonable-length";

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn sign(algorithm: Algorithm, claims: Value, secret: &[u8]) -> String {
        encode(
            &Header::new(algorithm),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn hs256(claims: Value) -> String {
        sign(Algorithm::HS256, claims, SECRET.as_bytes())
    }

    fn jwt_auth(audience: Option<&str>, issuer: Option<&str>) -> Authenticator {
        Authenticator::new(
            &["static-key".into()],
            Some(&JwtSettings {
                algorithm: JwtAlgorithm::Hs256,
                key: SECRET.into(),
                audience: audience.map(Into::into),
                issuer: issuer.map(Into::into),
            }),
        )
        .unwrap()
    }

    #[test]
    fn any_configured_static_key_is_accepted() {
        let auth = Authenticator::new(&["old-key".into(), "new-key".into()], None).unwrap();
        assert_eq!(auth.check(Some(b"old-key")), Ok(()));
        assert_eq!(auth.check(Some(b" new-key ")), Ok(()));
        assert!(matches!(
            auth.check(Some(b"new-ke")),
            Err(AuthFailure::Invalid(_))
        ));
        assert!(matches!(
            auth.check(Some(b"new-key2")),
            Err(AuthFailure::Invalid(_))
        ));
    }

    #[test]
    fn replaced_keys_take_effect_for_the_next_check() {
        let auth = Authenticator::new(&["old-key".into()], None).unwrap();
        auth.static_keys()
            .replace(&["new-key".into(), "newer-key".into()]);
        assert_eq!(auth.check(Some(b"new-key")), Ok(()));
        assert_eq!(auth.check(Some(b"newer-key")), Ok(()));
        assert!(matches!(
            auth.check(Some(b"old-key")),
            Err(AuthFailure::Invalid(_))
        ));
    }

    #[test]
    fn a_missing_or_blank_key_is_missing() {
        let auth = Authenticator::new(&["k".into()], None).unwrap();
        assert_eq!(auth.check(None), Err(AuthFailure::Missing));
        assert_eq!(auth.check(Some(b"  ")), Err(AuthFailure::Missing));
        assert_eq!(AuthFailure::Missing.error_type(), "token_expired");
    }

    #[test]
    fn a_valid_jwt_is_accepted_and_static_keys_still_work() {
        let auth = jwt_auth(None, None);
        let token = hs256(json!({"sub": "app", "exp": now() + 600}));
        assert_eq!(auth.check(Some(token.as_bytes())), Ok(()));
        assert_eq!(auth.check(Some(b"static-key")), Ok(()));
    }

    #[test]
    fn an_expired_jwt_is_token_expired() {
        let auth = jwt_auth(None, None);
        let token = hs256(json!({"exp": now() - 3600}));
        let failure = auth.check(Some(token.as_bytes())).unwrap_err();
        assert_eq!(failure, AuthFailure::Expired);
        assert_eq!(failure.error_type(), "token_expired");
    }

    #[test]
    fn a_jwt_without_expiry_or_not_yet_valid_is_invalid() {
        let auth = jwt_auth(None, None);
        for claims in [
            json!({"sub": "app"}),
            json!({"exp": now() + 7200, "nbf": now() + 3600}),
        ] {
            let failure = auth.check(Some(hs256(claims).as_bytes())).unwrap_err();
            assert_eq!(failure.error_type(), "invalid_token", "{failure:?}");
        }
    }

    #[test]
    fn a_forged_or_tampered_jwt_is_invalid() {
        let auth = jwt_auth(None, None);
        let forged = sign(
            Algorithm::HS256,
            json!({"exp": now() + 600}),
            b"another secret",
        );
        assert_eq!(
            auth.check(Some(forged.as_bytes())),
            Err(AuthFailure::Invalid(
                "Authorization token signature is invalid".into()
            ))
        );
        assert!(matches!(
            auth.check(Some(b"abc.def.ghi")),
            Err(AuthFailure::Invalid(_))
        ));
    }

    #[test]
    fn the_algorithm_is_pinned() {
        let auth = jwt_auth(None, None);
        let hs384 = sign(
            Algorithm::HS384,
            json!({"exp": now() + 600}),
            SECRET.as_bytes(),
        );
        assert!(matches!(
            auth.check(Some(hs384.as_bytes())),
            Err(AuthFailure::Invalid(_))
        ));
        // alg "none" with no signature.
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let body = base64_url(format!(r#"{{"exp":{}}}"#, now() + 600).as_bytes());
        let unsigned = format!("{header}.{body}.");
        assert!(matches!(
            auth.check(Some(unsigned.as_bytes())),
            Err(AuthFailure::Invalid(_))
        ));
    }

    #[test]
    fn audience_and_issuer_are_checked_when_configured() {
        let auth = jwt_auth(Some("sluice-logs"), Some("https://id.example"));
        let good =
            hs256(json!({"exp": now() + 600, "aud": "sluice-logs", "iss": "https://id.example"}));
        assert_eq!(auth.check(Some(good.as_bytes())), Ok(()));
        let wrong_aud =
            hs256(json!({"exp": now() + 600, "aud": "other", "iss": "https://id.example"}));
        let wrong_iss =
            hs256(json!({"exp": now() + 600, "aud": "sluice-logs", "iss": "https://evil"}));
        for token in [wrong_aud, wrong_iss] {
            assert!(matches!(
                auth.check(Some(token.as_bytes())),
                Err(AuthFailure::Invalid(_))
            ));
        }
    }

    // Key pairs made for these tests only (`openssl genpkey -algorithm RSA`).
    const RS256_PUBLIC: &str = include_str!("../fixtures/rs256-test-public.pem");
    const RS256_PRIVATE: &str = include_str!("../fixtures/rs256-test-private.pem");
    const OTHER_PRIVATE: &str = include_str!("../fixtures/rs256-other-private.pem");

    fn rs256(claims: Value, private_pem: &str) -> String {
        encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn rs256_tokens_are_checked_against_the_configured_public_key() {
        let auth = Authenticator::new(
            &[],
            Some(&JwtSettings {
                algorithm: JwtAlgorithm::Rs256,
                key: RS256_PUBLIC.into(),
                audience: Some("sluice-logs".into()),
                issuer: None,
            }),
        )
        .unwrap();
        let claims = json!({"exp": now() + 600, "aud": "sluice-logs"});
        let good = rs256(claims.clone(), RS256_PRIVATE);
        assert_eq!(auth.check(Some(good.as_bytes())), Ok(()));

        let expired = rs256(
            json!({"exp": now() - 3600, "aud": "sluice-logs"}),
            RS256_PRIVATE,
        );
        assert_eq!(
            auth.check(Some(expired.as_bytes())),
            Err(AuthFailure::Expired)
        );

        let other_key = rs256(claims.clone(), OTHER_PRIVATE);
        assert_eq!(
            auth.check(Some(other_key.as_bytes())),
            Err(AuthFailure::Invalid(
                "Authorization token signature is invalid".into()
            ))
        );
        // The public key used as an HMAC secret: the classic algorithm confusion.
        let confused = sign(Algorithm::HS256, claims, RS256_PUBLIC.as_bytes());
        assert_eq!(
            auth.check(Some(confused.as_bytes())),
            Err(AuthFailure::Invalid(
                "Authorization token is signed with an algorithm not accepted here".into()
            ))
        );
    }

    #[test]
    fn an_rs256_key_that_is_not_a_public_key_pem_is_a_configuration_error() {
        let config = JwtSettings {
            algorithm: JwtAlgorithm::Rs256,
            key: "not a pem".into(),
            audience: None,
            issuer: None,
        };
        let error = Authenticator::new(&[], Some(&config)).err().unwrap();
        assert!(error.contains("not an RSA public key"), "{error}");
    }

    #[test]
    fn an_empty_jwt_key_is_a_configuration_error_not_a_key_anyone_can_sign_with() {
        for algorithm in [JwtAlgorithm::Hs256, JwtAlgorithm::Rs256] {
            let config = JwtSettings {
                algorithm,
                key: " ".into(),
                audience: None,
                issuer: None,
            };
            let error = Authenticator::new(&[], Some(&config)).err().unwrap();
            assert!(error.contains("empty"), "{error}");
        }
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
