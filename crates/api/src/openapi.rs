//! The parts of the OpenAPI document that are not attached to a handler: title, security
//! scheme, tags, and the error-code table (generated from `kernel::ErrorCode`).

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Relais API", description = "Omnichannel commerce engine."),
    modifiers(&Conventions),
    components(schemas(crate::error::ErrorBody, kernel::ErrorCode)),
    tags(
        (name = "catalogue", description = "Products, variants, categories: one catalogue for every channel"),
        (name = "locations", description = "Stores, warehouses, pickup points"),
        (name = "channels", description = "Web, app, kiosks, POS, phone, e-mail, social, marketplaces"),
        (name = "prices", description = "One price everywhere, overrides only with a customer-facing reason"),
        (name = "promotions", description = "Promotions on every channel: conditions, discounts, stacking, budgets"),
        (name = "stock", description = "Stock ledger, availability to promise, holds"),
        (name = "access", description = "API keys and scopes"),
        (name = "customers", description = "Profiles, identities and merges, consent, GDPR rights, service history"),
        (name = "customer events", description = "Behavioural events from every channel, resolved to profiles"),
        (name = "outbox", description = "The outbox of CloudEvents"),
        (name = "notifications", description = "Automation rules, the send log, contact preferences, back-in-stock requests"),
        (name = "loyalty", description = "The loyalty programme, members' points on every channel, corrections"),
        (name = "stored value", description = "Gift cards and store credit: balances, ledgers, credit issued by service"),
        (name = "tills", description = "The offline till: batches applied once and in order, the store's queue of conflicts"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct Base;

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key token (`rls_…`)"))
                    .build(),
            ),
        );
        let mut table = String::from(
            "Errors always have the body `{\"error\": {\"code\", \"message\", \"details\"}}`.\n\n| code | status | meaning |\n|---|---|---|\n",
        );
        for code in kernel::ErrorCode::ALL {
            table.push_str(&format!(
                "| `{}` | {} | {} |\n",
                code.as_str(),
                code.http_status(),
                code.description()
            ));
        }
        let intro = "Omnichannel commerce engine: one catalogue, one price, one stock, one customer across \
            stores, web, app, kiosks and service.\n\nAuthenticate with `Authorization: Bearer <token>`. \
            Every write accepts an `Idempotency-Key` header: a retry with the same key and body returns \
            the first response (header `Idempotent-Replayed: true`) without a second effect; the same key \
            with another body is refused. Only successful responses are remembered (24 h), so a request \
            that was refused may be corrected and sent again with its key. Lists are paginated with \
            `limit` and `cursor`. Money is integer minor units (`amount_minor`) of an ISO 4217 currency.\n\n";
        doc.info.description = Some(format!("{intro}{table}"));
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    }
}

pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// Names, on every operation, the error codes it may answer, grouped by status, in place of
/// the handlers' generic `4XX` (the codes follow from the route's shape: path parameters may
/// be malformed or name nothing, a body may be refused, a write may conflict…).
pub fn name_errors(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            ("GET", item.get.as_mut()),
            ("POST", item.post.as_mut()),
            ("PUT", item.put.as_mut()),
            ("PATCH", item.patch.as_mut()),
            ("DELETE", item.delete.as_mut()),
        ];
        for (method, op) in operations {
            let Some(op) = op else { continue };
            let Some(utoipa::openapi::RefOr::T(generic)) = op.responses.responses.remove("4XX")
            else {
                continue;
            };
            for (status, codes) in by_status(&error_codes(path, method, op)) {
                let mut response = generic.clone();
                response.description = codes
                    .iter()
                    .map(|c| format!("`{}`: {}", c.as_str(), c.description()))
                    .collect::<Vec<_>>()
                    .join(" ");
                op.responses
                    .responses
                    .insert(status.to_string(), utoipa::openapi::RefOr::T(response));
            }
        }
    }
}

fn error_codes(
    path: &str,
    method: &str,
    op: &utoipa::openapi::path::Operation,
) -> Vec<kernel::ErrorCode> {
    if app::access::PUBLIC.contains(&path) {
        return vec![kernel::ErrorCode::Unavailable];
    }
    use kernel::ErrorCode as E;
    use utoipa::openapi::path::ParameterIn;
    let params = op.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
    // Forbidden also where every role may call the route: a key may name a channel or a
    // store that is not its own.
    let mut codes = vec![E::Unauthorized, E::Forbidden, E::Unavailable];
    if has(ParameterIn::Path) {
        codes.extend([E::InvalidPath, E::NotFound, E::ValidationFailed]);
    }
    if has(ParameterIn::Query) {
        codes.extend([
            E::InvalidQuery,
            E::ValidationFailed,
            E::UnknownReference,
            E::NotFound,
        ]);
        if params.iter().any(|p| p.name == "cursor") {
            codes.push(E::InvalidCursor);
        }
    }
    if path.starts_with("/v1/customers/{id}") || path == "/v1/customers" {
        codes.push(E::CustomerErased);
    }
    if method != "GET" {
        codes.extend([
            E::MalformedJson,
            E::InvalidBody,
            E::ValidationFailed,
            E::UnknownReference,
            E::UnsupportedMediaType,
            E::PayloadTooLarge,
            E::InvalidIdempotencyKey,
            E::IdempotencyKeyReused,
            E::Conflict,
            E::AlreadyExists,
            E::InsufficientStock,
            E::NotPromisable,
            E::NotFound,
        ]);
    }
    if path.ends_with("/checkout") || path == "/v1/returns" || path.starts_with("/v1/orders/") {
        codes.push(E::PaymentDeclined);
    }
    codes
}

/// Codes grouped by their HTTP status, each once, in table order.
fn by_status(
    codes: &[kernel::ErrorCode],
) -> std::collections::BTreeMap<u16, Vec<kernel::ErrorCode>> {
    let mut out: std::collections::BTreeMap<u16, Vec<kernel::ErrorCode>> = Default::default();
    for code in kernel::ErrorCode::ALL.iter().filter(|c| codes.contains(c)) {
        out.entry(code.http_status()).or_default().push(*code);
    }
    out
}
