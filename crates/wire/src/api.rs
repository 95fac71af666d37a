//! The public API's request bodies, and what a signed request asks for.

use serde::{Deserialize, Serialize};
use tessera_auth::RequestId;
use tessera_eth::{Address, RpcTx, TypedDataSummary};
use tessera_types::{KeyId, Scheme};

/// Largest payload a client may ask to have signed, in bytes.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// Longest wallet name, in bytes.
const MAX_NAME: usize = 64;

/// Longest idempotency key, in bytes.
const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Longest asset symbol, in bytes.
const MAX_SYMBOL: usize = 16;

/// Most decimals an asset may have (a 256-bit amount has at most 78 digits).
pub const MAX_DECIMALS: u8 = 36;

/// The chain a wallet's addresses belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// Ethereum and EVM chains: `ecdsa-secp256k1` keys, EIP-55 addresses.
    Ethereum,
}

impl Chain {
    /// The stable name used in the API and in storage.
    pub fn name(self) -> &'static str {
        match self {
            Chain::Ethereum => "ethereum",
        }
    }

    /// The scheme of every wallet on this chain.
    pub fn scheme(self) -> Scheme {
        match self {
            Chain::Ethereum => Scheme::EcdsaSecp256k1,
        }
    }
}

/// Body of `POST /v1/wallets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWallet {
    /// A name for people; not an identifier.
    pub name: String,
    /// The signature scheme of the wallet's key: `frost-ed25519`, `frost-secp256k1-tr` or
    /// `ecdsa-secp256k1`.
    #[schema(value_type = String)]
    pub scheme: Scheme,
    /// The chain the wallet is for: `ethereum` (with `ecdsa-secp256k1`, which it implies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
}

/// Body of `POST /v1/wallets/{id}/sign`: exactly one of `payload_hex`, `typed_data` and
/// `message_hex`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The bytes to sign, in hex (FROST wallets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hex: Option<String>,
    /// EIP-712 typed data, as `eth_signTypedData_v4` takes it (`ecdsa-secp256k1` wallets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub typed_data: Option<serde_json::Value>,
    /// A message to sign under EIP-191 (`personal_sign`), in hex (`ecdsa-secp256k1` wallets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_hex: Option<String>,
    /// The client's key for this request: the same key with the same body returns the same
    /// result and signs nothing new.
    pub idempotency_key: String,
}

/// Body of `POST /v1/assets` (admins): a token that transfers may name by its symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAsset {
    /// The symbol transfers name it by, e.g. `USDC`: 1 to 16 ASCII letters, digits, `.`, `-`, `_`.
    pub symbol: String,
    /// The chain: `ethereum`.
    pub chain: Chain,
    /// The ERC-20 contract, `0x` and 40 hex digits (EIP-55 checked when mixed case).
    pub contract: String,
    /// Decimals of the token's base unit, 0 to 36.
    pub decimals: u8,
}

/// Body of `POST /v1/transfers` (traders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The wallet the funds leave.
    pub wallet_id: String,
    /// The recipient, `0x` and 40 hex digits (EIP-55 checked when mixed case).
    pub to: String,
    /// `ETH` or a registered token's symbol.
    pub asset: String,
    /// An exact decimal amount in the asset's units, e.g. `"0.25"`; no more decimals than the
    /// asset has.
    pub amount: String,
    /// The client's key for this request: the same key with the same body returns the same
    /// transfer and moves nothing new.
    pub idempotency_key: String,
}

/// What a client's signed request asks for, decoded from its method, path and body. The API and
/// every signer decode the same bytes with this one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Generate a new wallet key.
    CreateWallet {
        /// The new wallet's id, derived from the request (see [`wallet_id_for`]).
        wallet: KeyId,
        /// Its name.
        name: String,
        /// Its scheme.
        scheme: Scheme,
        /// Its chain, when it has addresses on one.
        chain: Option<Chain>,
    },
    /// Sign `message` with `wallet`'s key.
    Sign {
        /// The wallet.
        wallet: KeyId,
        /// The exact bytes to sign.
        message: Vec<u8>,
        /// The client's idempotency key.
        idempotency_key: String,
    },
    /// Sign EIP-712 typed data with an `ecdsa-secp256k1` wallet.
    SignTypedData {
        /// The wallet.
        wallet: KeyId,
        /// The account the client named (JSON-RPC `eth_signTypedData_v4`): it must be the
        /// wallet's address, which each signer computes from its own key.
        address: Option<Address>,
        /// The typed data as the client sent it.
        typed_data: serde_json::Value,
        /// What it shows of itself: domain and primary type (for policy and logs).
        summary: TypedDataSummary,
        /// Its EIP-712 signing hash: what is signed.
        hash: [u8; 32],
        /// The client's idempotency key (none over JSON-RPC).
        idempotency_key: Option<String>,
    },
    /// Sign a message under EIP-191 (`personal_sign`) with an `ecdsa-secp256k1` wallet.
    SignMessage {
        /// The wallet.
        wallet: KeyId,
        /// The account the client named (JSON-RPC `eth_sign`): it must be the wallet's address.
        address: Option<Address>,
        /// The message.
        message: Vec<u8>,
        /// Its EIP-191 hash: what is signed.
        hash: [u8; 32],
        /// The client's idempotency key (none over JSON-RPC).
        idempotency_key: Option<String>,
    },
    /// Sign an EIP-1559 transaction that the client spelled out field by field (JSON-RPC
    /// `eth_signTransaction`), with an `ecdsa-secp256k1` wallet on the signer's own chain.
    SignTransaction {
        /// The wallet.
        wallet: KeyId,
        /// The sender the client named: it must be the wallet's address.
        from: Address,
        /// The transaction's fields; never a contract creation.
        tx: RpcTx,
    },
    /// Move `amount` of `asset` from `wallet` to `to`.
    Transfer {
        /// The wallet the funds leave.
        wallet: KeyId,
        /// The recipient.
        to: Address,
        /// The asset's symbol (`ETH` or a registered token); resolved by whoever checks it.
        asset: String,
        /// The amount as the client wrote it: digits with at most one `.`; its decimals are
        /// checked against the asset's by whoever resolves the asset.
        amount: String,
        /// The client's idempotency key.
        idempotency_key: String,
    },
    /// Register a token.
    AddAsset {
        /// Its symbol.
        symbol: String,
        /// Its chain.
        chain: Chain,
        /// Its contract.
        contract: Address,
        /// Its decimals.
        decimals: u8,
    },
}

/// Why a request does not decode into an [`Intent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IntentError {
    /// Stable code.
    pub code: &'static str,
    /// What is wrong, for the client.
    pub message: String,
}

impl IntentError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The id of the wallet that the create request `request` makes: every party derives the same
/// id from the client's request, so the coordinator cannot choose or reuse one.
pub fn wallet_id_for(request: &RequestId) -> Result<KeyId, IntentError> {
    KeyId::new(&format!("w-{request}"))
        .map_err(|e| IntentError::new("invalid_request_id", e.to_string()))
}

impl Intent {
    /// Decodes a request. Only requests that lead to a signature or a key decode; anything else
    /// is `not_signable`.
    pub fn parse(
        method: &str,
        path: &str,
        body: &[u8],
        request: &RequestId,
    ) -> Result<Intent, IntentError> {
        let segments: Vec<&str> = path.split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["", "v1", "wallets"]) => {
                let b: CreateWallet = parse_body(body)?;
                check_name(&b.name)?;
                match (b.scheme, b.chain) {
                    (Scheme::EcdsaSecp256k1, None | Some(Chain::Ethereum)) => {}
                    (scheme, Some(chain)) if chain.scheme() != scheme => {
                        return Err(IntentError::new(
                            "unsupported_chain",
                            format!(
                                "`{}` wallets use `{}`, not `{scheme}`",
                                chain.name(),
                                chain.scheme()
                            ),
                        ));
                    }
                    _ => {}
                }
                let chain = match b.scheme {
                    Scheme::EcdsaSecp256k1 => Some(Chain::Ethereum),
                    _ => None,
                };
                Ok(Intent::CreateWallet {
                    wallet: wallet_id_for(request)?,
                    name: b.name,
                    scheme: b.scheme,
                    chain,
                })
            }
            ("POST", ["", "v1", "wallets", id, "sign"]) => {
                let wallet = KeyId::new(id).map_err(|e| {
                    IntentError::new("invalid_wallet_id", format!("wallet id: {e}"))
                })?;
                let b: SignRequest = parse_body(body)?;
                check_idempotency_key(&b.idempotency_key)?;
                let idempotency_key = b.idempotency_key;
                match (b.payload_hex, b.typed_data, b.message_hex) {
                    (Some(payload), None, None) => Ok(Intent::Sign {
                        wallet,
                        message: decode_payload("payload_hex", &payload)?,
                        idempotency_key,
                    }),
                    (None, Some(typed_data), None) => {
                        Intent::sign_typed_data(wallet, None, typed_data, Some(idempotency_key))
                    }
                    (None, None, Some(message)) => Ok(Intent::sign_message(
                        wallet,
                        None,
                        decode_payload("message_hex", &message)?,
                        Some(idempotency_key),
                    )),
                    _ => Err(IntentError::new(
                        "invalid_body",
                        "give exactly one of `payload_hex`, `typed_data` and `message_hex`",
                    )),
                }
            }
            ("POST", ["", "v1", "wallets", id, "rpc"]) => {
                let wallet = KeyId::new(id).map_err(|e| {
                    IntentError::new("invalid_wallet_id", format!("wallet id: {e}"))
                })?;
                crate::rpc::RpcCall::parse(body)?.intent(wallet)
            }
            ("POST", ["", "v1", "transfers"]) => {
                let b: TransferRequest = parse_body(body)?;
                check_idempotency_key(&b.idempotency_key)?;
                let wallet = KeyId::new(&b.wallet_id).map_err(|e| {
                    IntentError::new("invalid_wallet_id", format!("wallet id: {e}"))
                })?;
                let to = parse_address("to", &b.to)?;
                check_symbol(&b.asset)?;
                check_amount_syntax(&b.amount)?;
                Ok(Intent::Transfer {
                    wallet,
                    to,
                    asset: b.asset,
                    amount: b.amount,
                    idempotency_key: b.idempotency_key,
                })
            }
            ("POST", ["", "v1", "assets"]) => {
                let b: AddAsset = parse_body(body)?;
                check_symbol(&b.symbol)?;
                if b.symbol == NATIVE_SYMBOL {
                    return Err(IntentError::new(
                        "asset_exists",
                        format!("`{NATIVE_SYMBOL}` is the chain's own asset"),
                    ));
                }
                if b.decimals > MAX_DECIMALS {
                    return Err(IntentError::new(
                        "invalid_decimals",
                        format!("`decimals` must be 0 to {MAX_DECIMALS}"),
                    ));
                }
                let contract = parse_address("contract", &b.contract)?;
                if contract == Address::ZERO {
                    return Err(IntentError::new(
                        "invalid_address",
                        "`contract` is the zero address",
                    ));
                }
                Ok(Intent::AddAsset {
                    symbol: b.symbol,
                    chain: b.chain,
                    contract,
                    decimals: b.decimals,
                })
            }
            _ => Err(IntentError::new(
                "not_signable",
                format!("`{method} {path}` does not ask for a key or a signature"),
            )),
        }
    }

    /// EIP-712 typed data to sign, hashed here.
    pub(crate) fn sign_typed_data(
        wallet: KeyId,
        address: Option<Address>,
        typed_data: serde_json::Value,
        idempotency_key: Option<String>,
    ) -> Result<Intent, IntentError> {
        let hash = tessera_eth::typed_data_hash(&typed_data)
            .map_err(|e| IntentError::new("invalid_typed_data", e.message))?;
        let summary = tessera_eth::typed_data_summary(&typed_data)
            .map_err(|e| IntentError::new("invalid_typed_data", e.message))?;
        Ok(Intent::SignTypedData {
            wallet,
            address,
            typed_data,
            summary,
            hash: hash.0,
            idempotency_key,
        })
    }

    /// An EIP-191 message to sign, hashed here.
    pub(crate) fn sign_message(
        wallet: KeyId,
        address: Option<Address>,
        message: Vec<u8>,
        idempotency_key: Option<String>,
    ) -> Intent {
        let hash = tessera_eth::personal_message_hash(&message).0;
        Intent::SignMessage {
            wallet,
            address,
            message,
            hash,
            idempotency_key,
        }
    }

    /// The wallet the request is about; none for an asset registration.
    pub fn wallet(&self) -> Option<&KeyId> {
        match self {
            Intent::CreateWallet { wallet, .. }
            | Intent::Sign { wallet, .. }
            | Intent::SignTypedData { wallet, .. }
            | Intent::SignMessage { wallet, .. }
            | Intent::SignTransaction { wallet, .. }
            | Intent::Transfer { wallet, .. } => Some(wallet),
            Intent::AddAsset { .. } => None,
        }
    }

    /// A short name for the kind of request, as stored and logged.
    pub fn kind(&self) -> &'static str {
        match self {
            Intent::CreateWallet { .. } => "create_wallet",
            Intent::Sign { .. } => "sign",
            Intent::SignTypedData { .. } => "sign_typed_data",
            Intent::SignMessage { .. } => "sign_message",
            Intent::SignTransaction { .. } => "sign_transaction",
            Intent::Transfer { .. } => "transfer",
            Intent::AddAsset { .. } => "add_asset",
        }
    }

    /// The client's idempotency key, for the requests that carry one. JSON-RPC calls carry
    /// none: each is a new request, made once by its single-use token.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Intent::Sign {
                idempotency_key, ..
            }
            | Intent::Transfer {
                idempotency_key, ..
            } => Some(idempotency_key),
            Intent::SignTypedData {
                idempotency_key, ..
            }
            | Intent::SignMessage {
                idempotency_key, ..
            } => idempotency_key.as_deref(),
            Intent::CreateWallet { .. }
            | Intent::AddAsset { .. }
            | Intent::SignTransaction { .. } => None,
        }
    }

    /// The Ethereum account the client named, which must be the wallet's address: the
    /// JSON-RPC signing methods name one, the native API does not.
    pub fn account(&self) -> Option<&Address> {
        match self {
            Intent::SignTypedData { address, .. } | Intent::SignMessage { address, .. } => {
                address.as_ref()
            }
            Intent::SignTransaction { from, .. } => Some(from),
            Intent::CreateWallet { .. }
            | Intent::Sign { .. }
            | Intent::Transfer { .. }
            | Intent::AddAsset { .. } => None,
        }
    }

    /// For a signing request: the exact bytes a wallet of `scheme` signs, or why it cannot.
    /// FROST wallets sign the raw payload; `ecdsa-secp256k1` wallets sign only the hashes of
    /// typed data and EIP-191 messages, never a raw payload, which could be a transaction
    /// hash that no signer has decoded.
    pub fn message_for(&self, scheme: Scheme) -> Result<Vec<u8>, IntentError> {
        let ecdsa = scheme == Scheme::EcdsaSecp256k1;
        match self {
            Intent::Sign { message, .. } if !ecdsa => {
                Intent::check_message(scheme, message)?;
                Ok(message.clone())
            }
            Intent::Sign { .. } => Err(IntentError::new(
                "raw_signing_not_allowed",
                format!(
                    "a `{scheme}` wallet signs typed data (`typed_data`) or messages (`message_hex`), not raw payloads"
                ),
            )),
            Intent::SignTypedData { hash, .. } | Intent::SignMessage { hash, .. } if ecdsa => {
                Ok(hash.to_vec())
            }
            Intent::SignTypedData { .. } | Intent::SignMessage { .. } => Err(IntentError::new(
                "unsupported_scheme",
                format!("a `{scheme}` wallet does not sign Ethereum typed data or messages"),
            )),
            Intent::CreateWallet { .. }
            | Intent::Transfer { .. }
            | Intent::SignTransaction { .. }
            | Intent::AddAsset { .. } => Err(IntentError::new(
                "not_signable",
                format!("a `{}` request names no bytes to sign", self.kind()),
            )),
        }
    }

    /// Checks that `message` can be signed under `scheme`: BIP-340 signs a 32-byte message.
    pub fn check_message(scheme: Scheme, message: &[u8]) -> Result<(), IntentError> {
        match scheme {
            Scheme::FrostSecp256k1Tr if message.len() != 32 => Err(IntentError::new(
                "invalid_payload",
                format!(
                    "a `{scheme}` wallet signs a 32-byte message, got {} bytes",
                    message.len()
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The symbol of the chain's own asset (ether), which exists from the start.
pub const NATIVE_SYMBOL: &str = "ETH";

/// Decimals of ether.
pub const NATIVE_DECIMALS: u8 = 18;

fn check_idempotency_key(key: &str) -> Result<(), IntentError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(IntentError::new(
            "invalid_idempotency_key",
            format!(
                "`idempotency_key` must be 1 to {MAX_IDEMPOTENCY_KEY} printable ascii characters"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn decode_payload(field: &str, text: &str) -> Result<Vec<u8>, IntentError> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(text)
        .map_err(|_| IntentError::new("invalid_payload", format!("`{field}` is not valid hex")))?;
    if bytes.len() > MAX_PAYLOAD {
        return Err(IntentError::new(
            "invalid_payload",
            format!("`{field}` is longer than {MAX_PAYLOAD} bytes"),
        ));
    }
    Ok(bytes)
}

pub(crate) fn parse_address(field: &str, text: &str) -> Result<Address, IntentError> {
    tessera_eth::parse_address(text)
        .map_err(|e| IntentError::new("invalid_address", format!("`{field}`: {}", e.message)))
}

fn check_symbol(symbol: &str) -> Result<(), IntentError> {
    if symbol.is_empty()
        || symbol.len() > MAX_SYMBOL
        || !symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(IntentError::new(
            "invalid_asset",
            format!("an asset symbol is 1 to {MAX_SYMBOL} ASCII letters, digits, `.`, `-` or `_`"),
        ));
    }
    Ok(())
}

/// An amount is digits, optionally one `.` followed by digits; the asset's decimals are checked
/// where the asset is resolved ([`parse_amount`]).
fn check_amount_syntax(amount: &str) -> Result<(), IntentError> {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(fraction)
        || (amount.contains('.') && fraction.is_empty())
        || amount.len() > 100
    {
        return Err(IntentError::new(
            "invalid_amount",
            format!("`amount` must be a decimal number such as \"0.25\", got `{amount}`"),
        ));
    }
    Ok(())
}

/// `amount` in base units of an asset with `decimals`: exact, or `too_many_decimals` /
/// `invalid_amount`.
pub fn parse_amount(amount: &str, decimals: u8) -> Result<tessera_eth::U256, IntentError> {
    check_amount_syntax(amount)?;
    tessera_eth::parse_amount(amount, decimals).map_err(|e| IntentError::new(e.code, e.message))
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, IntentError> {
    serde_json::from_slice(body)
        .map_err(|e| IntentError::new("invalid_body", format!("request body: {e}")))
}

fn check_name(name: &str) -> Result<(), IntentError> {
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(IntentError::new(
            "invalid_name",
            format!("`name` must be 1 to {MAX_NAME} bytes without control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid() -> RequestId {
        RequestId::derive(&tessera_auth::ClientId::new("trader").unwrap(), "jti-1")
    }

    #[test]
    fn create_wallet_decodes_and_derives_the_id() {
        let i = Intent::parse(
            "POST",
            "/v1/wallets",
            br#"{"name":"hot-1","scheme":"frost-ed25519"}"#,
            &rid(),
        )
        .unwrap();
        assert_eq!(i.kind(), "create_wallet");
        assert_eq!(i.wallet().unwrap().as_str(), format!("w-{}", rid()));
    }

    #[test]
    fn sign_decodes_the_exact_bytes() {
        let i = Intent::parse(
            "POST",
            "/v1/wallets/w-1/sign",
            br#"{"payload_hex":"00ff","idempotency_key":"k"}"#,
            &rid(),
        )
        .unwrap();
        match i {
            Intent::Sign {
                wallet, message, ..
            } => {
                assert_eq!(wallet.as_str(), "w-1");
                assert_eq!(message, vec![0, 0xff]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_routes_and_bodies_are_refused() {
        let cases: [(&str, &str, &[u8], &str); 8] = [
            ("GET", "/v1/wallets", b"", "not_signable"),
            ("POST", "/v1/wallets?x=1", b"{}", "not_signable"),
            ("POST", "/v1/wallets/w-1/sign/", b"{}", "not_signable"),
            ("POST", "/v1/wallets/W/sign", b"{}", "invalid_wallet_id"),
            (
                "POST",
                "/v1/wallets",
                br#"{"name":"a","scheme":"frost-ed25519","extra":1}"#,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/wallets",
                br#"{"name":"a","name":"b","scheme":"frost-ed25519"}"#,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/wallets/w-1/sign",
                br#"{"payload_hex":"0g","idempotency_key":"k"}"#,
                "invalid_payload",
            ),
            (
                "POST",
                "/v1/wallets/w-1/sign",
                br#"{"payload_hex":"00","idempotency_key":""}"#,
                "invalid_idempotency_key",
            ),
        ];
        for (m, p, b, code) in cases {
            let e = Intent::parse(m, p, b, &rid()).unwrap_err();
            assert_eq!(e.code, code, "{m} {p}");
        }
    }

    #[test]
    fn bip340_needs_32_bytes() {
        assert!(Intent::check_message(Scheme::FrostSecp256k1Tr, &[0; 31]).is_err());
        assert!(Intent::check_message(Scheme::FrostSecp256k1Tr, &[0; 32]).is_ok());
        assert!(Intent::check_message(Scheme::FrostEd25519, &[]).is_ok());
    }
}
