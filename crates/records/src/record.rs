use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a caller submits: the three fields as given, before any rule is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordInput {
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub pincode: Option<String>,
}

impl RecordInput {
    /// The workflow's input document. Built from a JSON value, so it cannot fail: three optional
    /// strings always serialize.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "user_name": self.user_name,
            "email": self.email,
            "pincode": self.pincode,
        })
        .to_string()
    }
}

/// A stored record, exactly as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    pub user_name: String,
    pub email: String,
    pub pincode: String,
    pub created_at: String,
}

/// Identifies a record by its content: the same (user_name, email, pincode) always maps to the
/// same id, which is what makes a retried ingest land on the record it created the first time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(String);

impl RecordId {
    pub const LEN: usize = 32;

    pub fn for_fields(user_name: &str, email: &str, pincode: &str) -> Self {
        let mut hasher = Sha256::new();
        for (i, part) in [user_name, email, pincode].into_iter().enumerate() {
            if i > 0 {
                hasher.update([0x1f]);
            }
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut hex = String::with_capacity(Self::LEN);
        for byte in &digest[..Self::LEN / 2] {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        RecordId(hex)
    }

    /// Accepts only the shape this module produces (32 lowercase hex digits).
    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = value.len() == Self::LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| RecordId(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_input_reads_back_as_the_same_submission() {
        let input = RecordInput {
            user_name: Some("A \"quoted\" \u{1F600} name".into()),
            email: None,
            pincode: Some("1234".into()),
        };
        let back: RecordInput = serde_json::from_str(&input.to_json()).unwrap();
        assert_eq!(back, input);
    }

    #[test]
    fn same_fields_give_the_same_id() {
        let a = RecordId::for_fields("Asha", "asha@example.com", "56001");
        let b = RecordId::for_fields("Asha", "asha@example.com", "56001");
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), RecordId::LEN);
    }

    #[test]
    fn field_boundaries_are_part_of_the_id() {
        let a = RecordId::for_fields("ab", "c@d.com", "1234");
        let b = RecordId::for_fields("a", "bc@d.com", "1234");
        assert_ne!(a, b);
    }

    #[test]
    fn parse_accepts_only_ids_it_could_have_made() {
        let id = RecordId::for_fields("x", "y@z.com", "1234");
        assert_eq!(RecordId::parse(id.as_str()), Some(id));
        assert_eq!(RecordId::parse("ABCDEF0123456789abcdef0123456789"), None);
        assert_eq!(RecordId::parse("abc"), None);
    }
}
