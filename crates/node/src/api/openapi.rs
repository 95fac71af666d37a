//! `GET /openapi.json`: the OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{audit, breaker, handlers, policy, proposals, rpc, transfers};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "Threshold hot-wallet signing. Every request except /healthz, /metrics and \
            /openapi.json carries `Authorization: Bearer <JWT>`: an EdDSA-signed compact JWS with \
            claims sub, iat, exp (at most 60 s after iat), jti (single use), method, path and \
            body_sha256 (hex SHA-256 of the exact body). `POST /v1/wallets/{id}/rpc` is a \
            Web3Signer-compatible JSON-RPC 2.0 endpoint (eth_accounts, eth_sign, \
            eth_signTypedData_v4, eth_signTransaction) whose errors are JSON-RPC error objects \
            with the stable code in `data.code`, except authentication failures (401, 403)."
    ),
    paths(
        handlers::healthz,
        handlers::metrics,
        handlers::create_wallet,
        handlers::list_wallets,
        handlers::get_wallet,
        handlers::sign,
        rpc::rpc,
        handlers::get_request,
        policy::approve,
        policy::reject,
        policy::get_policy,
        proposals::propose,
        proposals::approve,
        proposals::apply,
        breaker::get_breaker,
        breaker::trip,
        breaker::reset,
        breaker::set_risk,
        transfers::add_asset,
        transfers::list_assets,
        transfers::create_transfer,
        transfers::get_transfer,
        audit::get_audit,
    ),
    components(schemas(
        handlers::WalletView,
        handlers::WalletList,
        handlers::SignResponse,
        handlers::RequestView,
        handlers::ErrorView,
        handlers::Health,
        rpc::RpcRequest,
        rpc::RpcAnswer,
        rpc::RpcErrorObject,
        rpc::RpcErrorData,
        super::error::ErrorBody,
        super::error::ErrorDetail,
        tessera_wire::CreateWallet,
        tessera_wire::SignRequest,
        transfers::AssetView,
        transfers::AssetList,
        transfers::TransferView,
        tessera_wire::AddAsset,
        tessera_wire::TransferRequest,
        tessera_wire::VerdictBody,
        policy::VerdictView,
        policy::PolicyView,
        policy::SignerPolicyView,
        tessera_wire::TripBody,
        tessera_wire::ResetBody,
        tessera_wire::RiskBody,
        tessera_wire::WireBreaker,
        tessera_wire::WireRisk,
        tessera_wire::ProposeBody,
        tessera_wire::WireProposal,
        proposals::ProposalView,
        proposals::SignerProposalView,
        breaker::BreakerView,
        breaker::SignerBreakerView,
        audit::AuditPageView,
    )),
    modifiers(&ClientJwt)
)]
#[derive(Debug)]
pub struct ApiDoc;

struct ClientJwt;

impl Modify for ClientJwt {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "client_jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Serves the document.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
