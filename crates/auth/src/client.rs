//! Who may call the API: client ids, roles, and the registry of their public keys.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{AuthError, AuthErrorKind};
use crate::key::ClientPublicKey;

/// Longest client id accepted, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// A client's name: 1 to 64 characters from `a-z`, `0-9`, `-`, `_`, `.`, starting with a
/// letter or digit. It is the `sub` claim of the client's tokens.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// Checks `s` and wraps it.
    pub fn new(s: &str) -> Result<Self, AuthError> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
        let first_ok = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if s.len() > MAX_CLIENT_ID_LEN || !first_ok || !s.chars().all(allowed) {
            return Err(AuthError::new(
                AuthErrorKind::InvalidClientId,
                format!(
                    "client id `{}` must be 1 to {MAX_CLIENT_ID_LEN} characters from a-z, 0-9, `-`, `_` and `.`, starting with a letter or digit",
                    s.escape_debug()
                ),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ClientId {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        Self::new(s)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({:?})", self.0)
    }
}

impl Serialize for ClientId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// What a client is allowed to do; the policy engine decides what each role may request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submits transfer requests.
    Trader,
    /// Approves requests that the policy holds for approval.
    Approver,
    /// Manages wallets, policies and clients.
    Admin,
}

impl Role {
    /// The role's name: `trader`, `approver` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trader => "trader",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        match s {
            "trader" => Ok(Self::Trader),
            "approver" => Ok(Self::Approver),
            "admin" => Ok(Self::Admin),
            _ => Err(AuthError::new(
                AuthErrorKind::InvalidRole,
                format!(
                    "role `{}` is not one of `trader`, `approver`, `admin`",
                    s.escape_debug()
                ),
            )),
        }
    }
}

/// A registered client: its id, its role and the public key its tokens must verify under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The client's id, the `sub` of its tokens.
    pub id: ClientId,
    /// What the client may do.
    pub role: Role,
    /// The client's Ed25519 public key.
    pub key: ClientPublicKey,
}

/// The registered clients, by id. Ids are unique, and so are keys: a key shared by two
/// clients would let one holder act in two roles (approve their own request, say).
#[derive(Debug, Clone, Default)]
pub struct ClientRegistry {
    clients: BTreeMap<ClientId, Client>,
}

impl ClientRegistry {
    /// Builds the registry, refusing a repeated id or a repeated public key.
    pub fn new(clients: Vec<Client>) -> Result<Self, AuthError> {
        let mut by_id: BTreeMap<ClientId, Client> = BTreeMap::new();
        for client in clients {
            if by_id.contains_key(&client.id) {
                return Err(AuthError::new(
                    AuthErrorKind::DuplicateClient,
                    format!("client `{}` is registered twice", client.id),
                ));
            }
            if let Some(other) = by_id.values().find(|c| c.key == client.key) {
                return Err(AuthError::new(
                    AuthErrorKind::DuplicateClient,
                    format!(
                        "clients `{}` and `{}` have the same public key",
                        other.id, client.id
                    ),
                ));
            }
            by_id.insert(client.id.clone(), client);
        }
        Ok(Self { clients: by_id })
    }

    /// The client with this id, if registered.
    pub fn get(&self, id: &ClientId) -> Option<&Client> {
        self.clients.get(id)
    }

    /// All clients, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }

    /// How many clients are registered.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ClientKey;

    fn client(id: &str, role: Role, key: &ClientKey) -> Client {
        Client {
            id: id.parse().unwrap(),
            role,
            key: key.public_key(),
        }
    }

    #[test]
    fn client_ids_accept_the_documented_charset_only() {
        assert!(ClientId::new("desk-1.ops_a").is_ok());
        assert!(ClientId::new("7x").is_ok());
        assert!(ClientId::new(&"a".repeat(64)).is_ok());
        for bad in [
            "",
            "Alice",
            "-x",
            ".x",
            "_x",
            "a b",
            "a/b",
            "é",
            &"a".repeat(65),
        ] {
            let err = ClientId::new(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_client_id", "{bad:?}");
        }
    }

    #[test]
    fn client_id_serde_goes_through_the_checked_constructor() {
        let id: ClientId = serde_json::from_str("\"alice\"").unwrap();
        assert_eq!(id.as_str(), "alice");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"alice\"");
        assert!(serde_json::from_str::<ClientId>("\"../etc\"").is_err());
    }

    #[test]
    fn roles_have_lowercase_names() {
        for role in [Role::Trader, Role::Approver, Role::Admin] {
            let text = role.to_string();
            assert_eq!(text.parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<Role>(&format!("\"{text}\"")).unwrap(),
                role
            );
        }
        assert_eq!("Admin".parse::<Role>().unwrap_err().code(), "invalid_role");
        assert!(serde_json::from_str::<Role>("\"root\"").is_err());
    }

    #[test]
    fn registry_rejects_duplicate_ids() {
        let (a, b) = (ClientKey::generate(), ClientKey::generate());
        let err = ClientRegistry::new(vec![
            client("alice", Role::Trader, &a),
            client("alice", Role::Admin, &b),
        ])
        .unwrap_err();
        assert_eq!(err.code(), "duplicate_client");
        assert_eq!(err.message(), "client `alice` is registered twice");
    }

    #[test]
    fn registry_rejects_a_key_shared_by_two_clients() {
        let key = ClientKey::generate();
        let err = ClientRegistry::new(vec![
            client("alice", Role::Trader, &key),
            client("bob", Role::Approver, &key),
        ])
        .unwrap_err();
        assert_eq!(err.code(), "duplicate_client");
    }

    #[test]
    fn registry_finds_clients_by_id() {
        let (a, b) = (ClientKey::generate(), ClientKey::generate());
        let registry = ClientRegistry::new(vec![
            client("bob", Role::Approver, &b),
            client("alice", Role::Trader, &a),
        ])
        .unwrap();
        assert_eq!(registry.len(), 2);
        let alice = registry.get(&"alice".parse().unwrap()).unwrap();
        assert_eq!((alice.role, &alice.key), (Role::Trader, &a.public_key()));
        assert!(registry.get(&"carol".parse().unwrap()).is_none());
        let ids: Vec<&str> = registry.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["alice", "bob"]);
    }

    #[test]
    fn client_serde_rejects_unknown_fields() {
        let key = ClientKey::generate().public_key();
        let json = format!(
            r#"{{"id":"alice","role":"trader","key":"{}"}}"#,
            key.to_hex()
        );
        let parsed: Client = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.key, key);
        let extra = json.replace("}", r#","admin":true}"#);
        assert!(serde_json::from_str::<Client>(&extra).is_err());
    }
}
