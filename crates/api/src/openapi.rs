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
        (name = "stock", description = "Stock ledger, availability to promise, holds"),
        (name = "access", description = "API keys and scopes"),
        (name = "customers", description = "Profiles, identities and merges, consent, GDPR rights, service history"),
        (name = "customer events", description = "Behavioural events from every channel, resolved to profiles"),
        (name = "outbox", description = "The outbox of CloudEvents"),
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
