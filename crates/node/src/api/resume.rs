//! Requests that waited for approvals are signed once the signers allow them.

use std::sync::Arc;

use tessera_types::Scheme;

use super::AppState;
use crate::gateway_store::RequestRow;

/// Signs an approved request in the background: a signing request through the same path as a
/// fresh one, a transfer through the transfer engine. The client follows it with
/// `GET /v1/requests/{id}` or `GET /v1/transfers/{id}` (or asks again with the same idempotency
/// key). JSON-RPC calls are answered once and are not resumed.
pub(super) fn resume(st: &Arc<AppState>, row: RequestRow) {
    let st = Arc::clone(st);
    tokio::spawn(async move {
        let id = row.request_id.clone();
        if let Err(message) = resume_now(&st, &row).await {
            tracing::warn!(request_id = %id, %message, "an approved request was not signed");
        }
    });
}

async fn resume_now(st: &Arc<AppState>, row: &RequestRow) -> Result<(), String> {
    if row.kind == "transfer" {
        let eth = st
            .ethereum
            .clone()
            .ok_or("this deployment has no Ethereum node configured")?;
        crate::transfers::drive(st, &eth, &row.request_id)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    if row.path.ends_with("/rpc") {
        return Err("JSON-RPC calls are not resumed; the client asks again".into());
    }
    let (_, intent) = super::policy::stored_intent(st, row)?;
    let Some(wallet) = intent.wallet() else {
        return Err("the request names no wallet".into());
    };
    let w = st
        .store
        .wallet(wallet.as_str())
        .map_err(|e| e.to_string())?
        .ok_or("the wallet is not known")?;
    let scheme: Scheme = w
        .scheme
        .parse()
        .map_err(|_| "a stored scheme does not parse")?;
    let message = intent.message_for(scheme).map_err(|e| e.message)?;
    super::handlers::sign_recorded(st, &row.request_id, &w, &message)
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}
