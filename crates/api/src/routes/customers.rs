//! `/v1/customers`: profiles, identities and merges, consent, service history, timeline and
//! the GDPR rights; `/v1/merge-reviews`: pairs the guard rails kept apart.
//!
//! Who sees what is decided by `app` (`app::access::customer`): staff see every profile; a
//! store key its home-store customers and those who share their history with every store;
//! a channel key the customers known on it. An erased profile answers `status: erased`, its
//! sub-resources 410 `customer_erased`. The handlers parse, call `app`, render.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use customers::consent::{self, ConsentRecord};
use customers::{Identifier, PhoneRules};
use kernel::id::new_id;
use kernel::{Error, ErrorCode, Timestamp};
use serde::{Deserialize, Serialize};
use store::customers::{LinkCause, MergeRecord, MergeReview, NewProfile, Resolution};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{EmptyBody, IdempotencyHeader, PageParams, present, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer))
        .routes(routes!(identify))
        .routes(routes!(add_identities))
        .routes(routes!(lineage))
        .routes(routes!(timeline))
        .routes(routes!(list_consents, record_consent))
        .routes(routes!(check_consent))
        .routes(routes!(list_interactions, record_interaction))
        .routes(routes!(export))
        .routes(routes!(erase))
        .routes(routes!(list_reviews))
        .routes(routes!(decide_review))
}

wire_enum!(
    /// `email` (normalised to lower case), `phone` (E.164; national numbers take the
    /// retailer's country code), `loyalty_card`, `app_device`, `web_anonymous`,
    /// `pos_customer`, `external` (`system:id`).
    IdentityKindDto <=> customers::IdentityKind {
        Email, Phone, LoyaltyCard, AppDevice, WebAnonymous, PosCustomer, External
    }
);
wire_enum!(ProfileStatusDto <=> customers::ProfileStatus { Active, Merged, Erased });
wire_enum!(ReviewReasonDto <=> customers::ReviewReason {
    DifferentVerifiedEmails, DifferentLoyaltyCards, IdentityCap
});
wire_enum!(PurposeDto <=> customers::Purpose {
    EmailMarketing, SmsMarketing, Push, Personalisation, Analytics, Profiling, ServiceHistorySharing
});
wire_enum!(ConsentStatusDto <=> customers::ConsentStatus { Granted, Denied, Withdrawn });
wire_enum!(CollectionMethodDto <=> customers::CollectionMethod {
    WebForm, AppSettings, Pos, Kiosk, Phone, EmailLink, Paper, Import
});
wire_enum!(MediumDto <=> customers::InteractionMedium { Email, Phone, Chat, StoreVisit, Social });
wire_enum!(DirectionDto <=> customers::Direction { Inbound, Outbound });

/// An identifier as sent by a channel.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierIn {
    pub kind: IdentityKindDto,
    #[schema(example = "claire.martin@example.fr", min_length = 1, max_length = 254)]
    pub value: String,
    /// The channel proved it (a confirmed e-mail, a signed-in session). Default false.
    #[serde(default)]
    pub verified: bool,
}

/// Normalises identifiers; `field` prefixes the index in errors (`identifiers[2]`).
pub fn parse_identifiers(
    field: &str,
    raw: &[IdentifierIn],
    phones: &PhoneRules,
    max: usize,
) -> Result<Vec<(Identifier, bool)>, Error> {
    if raw.is_empty() || raw.len() > max {
        return Err(Error::validation(
            field,
            format!("give 1 to {max} identifiers"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, id)| {
            Identifier::parse(&format!("{field}[{i}]"), id.kind.into(), &id.value, phones)
                .map(|parsed| (parsed, id.verified))
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityDto {
    pub kind: IdentityKindDto,
    pub value: String,
    pub verified: bool,
    /// The channel that first reported it.
    pub channel: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<customers::Identity> for IdentityDto {
    fn from(i: customers::Identity) -> Self {
        IdentityDto {
            kind: i.identifier.kind.into(),
            value: i.identifier.value,
            verified: i.verified,
            channel: i.channel,
            created_at: i.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDto {
    #[schema(example = "cus_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub status: ProfileStatusDto,
    /// Where a merged profile's data went: read that profile instead.
    pub merged_into: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub home_store: Option<String>,
    pub identities: Vec<IdentityDto>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

super::page_of!(CustomerPage, CustomerDto);

fn customer_dto(p: customers::Profile, identities: Vec<customers::Identity>) -> CustomerDto {
    CustomerDto {
        id: p.id,
        status: p.status.into(),
        merged_into: p.merged_into,
        given_name: p.given_name,
        family_name: p.family_name,
        home_store: p.home_store,
        identities: identities.into_iter().map(IdentityDto::from).collect(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

async fn load_customer(conn: &mut store::Conn, id: &str) -> Result<CustomerDto, Error> {
    let profile = store::customers::find_profile(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    let identities = store::customers::identities(conn, &profile.id).await?;
    Ok(customer_dto(profile, identities))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    #[schema(min_items = 1, max_items = 10)]
    pub identifiers: Vec<IdentifierIn>,
    #[schema(min_length = 1, max_length = 100)]
    pub given_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: Option<String>,
    /// A store code.
    #[schema(pattern = r"^[A-Z0-9-]{2,32}$")]
    pub home_store: Option<String>,
    /// The channel where the customer signed up (recorded with the identities).
    pub channel: Option<String>,
}

fn optional_name(field: &str, name: Option<String>) -> Result<Option<String>, Error> {
    name.map(|n| customers::profile::validate_name(field, &n))
        .transpose()
}

/// Create a profile. An identifier that already belongs to a profile is refused with
/// `already_exists` and that profile's id; `POST /v1/customers/identify` resolves instead.
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CreateCustomer,
    params(IdempotencyHeader),
    responses((status = 201, body = CustomerDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_customer(
    State(s): State<AppState>,
    w: Write<CreateCustomer>,
) -> ApiResult<Response> {
    let b = w.body;
    let identifiers = parse_identifiers("identifiers", &b.identifiers, &s.phones, 10)?;
    let fields = NewProfile {
        given_name: optional_name("given_name", b.given_name)?,
        family_name: optional_name("family_name", b.family_name)?,
        home_store: b.home_store,
    };
    let response = app::customers::create(
        &s.db,
        &w.principal,
        fields,
        identifiers,
        b.channel,
        w.idempotency,
        |(p, identities)| stored(201, &customer_dto(p, identities)),
    )
    .await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Find the profile holding this identifier, written `kind:value`
    /// (`email:claire@example.fr`, `loyalty_card:ELS00421337`).
    pub identifier: Option<String>,
    /// Only the customers of this home store.
    pub home_store: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn parse_lookup(text: &str, phones: &PhoneRules) -> Result<Identifier, Error> {
    let (kind, value) = text.split_once(':').ok_or_else(|| {
        Error::new(ErrorCode::InvalidQuery, "identifier must be `kind:value`")
            .with("field", "identifier")
    })?;
    let kind = customers::IdentityKind::parse(kind).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidQuery,
            format!("`{kind}` is not an identifier kind"),
        )
        .with("field", "identifier")
    })?;
    Identifier::parse("identifier", kind, value, phones)
}

/// List or look up profiles. With `identifier`, service, store and admin keys look one
/// profile up (a POS scanning a loyalty card, an associate typing an e-mail); lists are for
/// `service` and `admin` keys, and for a store key over its own home-store customers.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(CustomerQuery),
    responses((status = 200, body = CustomerPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_customers(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<CustomerQuery>,
) -> ApiResult<Json<CustomerPage>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let mut conn = s.db.read().await?;
    if let Some(text) = &q.identifier {
        let id = parse_lookup(text, &s.phones)?;
        let mut data = Vec::new();
        if let Some(owner) = app::customers::look_up(&mut conn, &p, &id).await? {
            data.push(load_customer(&mut conn, &owner).await?);
        }
        return Ok(Json(CustomerPage {
            data,
            next_cursor: None,
        }));
    }
    let found = app::customers::list(&s.db, &p, q.home_store.as_deref(), &page).await?;
    Ok(Json(customer_page(&mut conn, found).await?))
}

/// A page of profiles with their identities (one query for all of them).
pub async fn customer_page(
    conn: &mut store::Conn,
    found: kernel::Page<customers::Profile>,
) -> Result<CustomerPage, Error> {
    let data = store::customers::with_identities(conn, found.data)
        .await?
        .into_iter()
        .map(|(p, identities)| customer_dto(p, identities))
        .collect();
    Ok(CustomerPage {
        data,
        next_cursor: found.next_cursor,
    })
}

/// Get a profile with its identities. A merged profile answers with `status: merged` and
/// `merged_into`.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = CustomerDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_customer(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerDto>> {
    let mut conn = s.db.read().await?;
    app::customers::reach_profile(&mut conn, &p, &id).await?;
    Ok(Json(load_customer(&mut conn, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub family_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^[A-Z0-9-]{2,32}$")]
    pub home_store: Option<Option<String>>,
}

fn optional_change(
    field: &str,
    v: Option<Option<String>>,
) -> Result<Option<Option<String>>, Error> {
    v.map(|inner| optional_name(field, inner)).transpose()
}

/// Change names or home store (a merged profile forwards to its survivor).
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers", request_body = UpdateCustomer,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = CustomerDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_customer(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<UpdateCustomer>,
) -> ApiResult<Response> {
    let given = optional_change("given_name", w.body.given_name)?;
    let family = optional_change("family_name", w.body.family_name)?;
    // Bad input is refused before anything is looked up (the customer may be gone).
    if let Some(Some(code)) = &w.body.home_store {
        catalog::location::validate_location_code("home_store", code)?;
    }
    let response = app::customers::update(
        &s.db,
        &w.principal,
        id,
        given,
        family,
        w.body.home_store,
        w.idempotency,
        |(p, identities)| stored(200, &customer_dto(p, identities)),
    )
    .await?;
    Ok(reply(response))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    /// What the channel knows now: after a sign-in, the account's e-mail (`verified: true`)
    /// and the anonymous ids of the session.
    #[schema(min_items = 1, max_items = 10)]
    pub identifiers: Vec<IdentifierIn>,
    /// The channel signing the customer in; a channel key's own channel by default.
    pub channel: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedDto {
    pub customer_id: String,
    pub reason: ReviewReasonDto,
}

/// What a link did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolutionDto {
    /// The profile the identifiers resolve to.
    pub customer_id: String,
    /// A new profile was created.
    pub created: bool,
    /// Profiles merged into it by this link.
    pub absorbed: Vec<String>,
    /// Profiles kept apart by a guard rail and flagged for review.
    pub flagged_for_review: Vec<FlaggedDto>,
    /// Identifiers newly attached.
    pub attached: usize,
    /// Identifiers left out by the identity cap.
    pub capped: usize,
}

impl From<Resolution> for ResolutionDto {
    fn from(r: Resolution) -> Self {
        ResolutionDto {
            customer_id: r.customer_id,
            created: r.created,
            absorbed: r.absorbed,
            flagged_for_review: r
                .reviews
                .into_iter()
                .map(|(customer_id, reason)| FlaggedDto {
                    customer_id,
                    reason: reason.into(),
                })
                .collect(),
            attached: r.attached,
            capped: r.capped,
        }
    }
}

/// Sign-in and linking: resolve identifiers to one profile — creating it, or merging the
/// profiles they point to by the survivor rule (oldest profile survives), or flagging pairs
/// the guard rails keep apart — and attach those not yet known. Carts and orders of merged
/// profiles follow their owner.
#[utoipa::path(post, path = "/v1/customers/identify", tag = "customers", request_body = IdentifyRequest,
    params(IdempotencyHeader),
    responses((status = 200, body = ResolutionDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn identify(State(s): State<AppState>, w: Write<IdentifyRequest>) -> ApiResult<Response> {
    let request = app::customers::LinkRequest {
        identifiers: parse_identifiers("identifiers", &w.body.identifiers, &s.phones, 10)?,
        anchor: None,
        channel: w.body.channel,
        cause: LinkCause::SignIn,
    };
    link(&s, &w.principal, request, w.idempotency).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddIdentities {
    #[schema(min_items = 1, max_items = 10)]
    pub identifiers: Vec<IdentifierIn>,
    pub channel: Option<String>,
}

/// Add identifiers to a profile. One that belongs to another profile links the two, which
/// merge under the same rules and guard rails as a sign-in.
#[utoipa::path(post, path = "/v1/customers/{id}/identities", tag = "customers", request_body = AddIdentities,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = ResolutionDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_identities(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<AddIdentities>,
) -> ApiResult<Response> {
    let request = app::customers::LinkRequest {
        identifiers: parse_identifiers("identifiers", &w.body.identifiers, &s.phones, 10)?,
        anchor: Some(id),
        channel: w.body.channel,
        cause: LinkCause::Manual,
    };
    link(&s, &w.principal, request, w.idempotency).await
}

async fn link(
    s: &AppState,
    p: &Principal,
    request: app::customers::LinkRequest,
    idempotency: Option<store::IdempotencyKey>,
) -> ApiResult<Response> {
    let response = app::customers::link(&s.db, p, s.resolution, request, idempotency, |r| {
        stored(200, &ResolutionDto::from(r))
    })
    .await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeDto {
    pub id: String,
    pub survivor_id: String,
    pub absorbed_id: String,
    /// `event`, `sign_in`, `manual` or `review`.
    pub cause: String,
    /// The request that linked them (an event batch, a sign-in, a review).
    pub reference: Option<String>,
    /// The identifiers that linked them (blank after an erasure).
    pub identifiers: Vec<LinkedIdentifierDto>,
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedIdentifierDto {
    pub kind: IdentityKindDto,
    pub value: String,
}

impl From<Identifier> for LinkedIdentifierDto {
    fn from(i: Identifier) -> Self {
        LinkedIdentifierDto {
            kind: i.kind.into(),
            value: i.value,
        }
    }
}

impl From<MergeRecord> for MergeDto {
    fn from(m: MergeRecord) -> Self {
        MergeDto {
            id: m.id,
            survivor_id: m.survivor_id,
            absorbed_id: m.absorbed_id,
            cause: m.cause,
            reference: m.reference,
            identifiers: m.identifiers.into_iter().map(Into::into).collect(),
            actor: m.actor,
            at: m.at,
        }
    }
}

/// How a profile came to be.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineageDto {
    pub customer: CustomerDto,
    /// Every merge into this profile or into a profile it later absorbed, oldest first.
    pub merges: Vec<MergeDto>,
    /// Reviews that name it, decided or not.
    pub reviews: Vec<ReviewDto>,
}

/// Explain a profile: its identities (with the channel that reported each and when), the
/// merges that built it and why, and the reviews that name it.
#[utoipa::path(get, path = "/v1/customers/{id}/lineage", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = LineageDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn lineage(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<LineageDto>> {
    let mut conn = s.db.read().await?;
    app::customers::reach(&mut conn, &p, &id).await?;
    let customer = load_customer(&mut conn, &id).await?;
    let merges = store::customers::merge_history(&s.db, &customer.id).await?;
    let reviews = store::customers::reviews_of(&s.db, &customer.id).await?;
    Ok(Json(LineageDto {
        customer,
        merges: merges.into_iter().map(MergeDto::from).collect(),
        reviews: reviews.into_iter().map(ReviewDto::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntryDto {
    /// `event`, `consent`, `interaction` or `merge`.
    pub kind: String,
    pub id: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The channel (for interactions, the medium).
    pub channel: Option<String>,
    /// The event type, the consent's purpose and status, the interaction's summary…
    pub title: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

super::page_of!(TimelinePage, TimelineEntryDto);

/// One chronological view across channels, newest first: behavioural events, consents,
/// service interactions, merges.
#[utoipa::path(get, path = "/v1/customers/{id}/timeline", tag = "customers",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = TimelinePage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn timeline(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<TimelinePage>> {
    // Bad input is refused before anything is looked up.
    let page = q.request()?;
    let active = app::customers::reach(&mut s.db.read().await?, &p, &id)
        .await?
        .id;
    let found = store::customer_events::timeline(&s.db, &active, &page).await?;
    Ok(Json(
        found
            .map(|e| TimelineEntryDto {
                kind: e.kind,
                id: e.id,
                at: e.at,
                channel: e.channel,
                title: e.title,
                data: e.data,
            })
            .into(),
    ))
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDto {
    /// The request that carried the answer (a form submission id).
    pub request_id: Option<String>,
    /// The associate or agent who took it.
    pub staff_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    pub purpose: PurposeDto,
    pub status: ConsentStatusDto,
    /// The channel it applies to; absent: every channel.
    pub channel: Option<String>,
    pub method: CollectionMethodDto,
    /// The store or touchpoint where it was collected.
    pub location_code: Option<String>,
    /// The version of the privacy notice shown.
    #[schema(example = "2026-09", min_length = 1, max_length = 40)]
    pub notice_version: String,
    #[serde(default)]
    pub evidence: EvidenceDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentDto {
    pub id: String,
    pub customer_id: String,
    pub purpose: PurposeDto,
    pub status: ConsentStatusDto,
    pub channel: Option<String>,
    pub method: CollectionMethodDto,
    pub location_code: Option<String>,
    pub notice_version: String,
    pub evidence: EvidenceDto,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Timestamp,
}

impl From<&ConsentRecord> for ConsentDto {
    fn from(r: &ConsentRecord) -> Self {
        ConsentDto {
            id: r.id.clone(),
            customer_id: r.customer_id.clone(),
            purpose: r.purpose.into(),
            status: r.status.into(),
            channel: r.channel.clone(),
            method: r.method.into(),
            location_code: r.location_code.clone(),
            notice_version: r.notice_version.clone(),
            evidence: EvidenceDto {
                request_id: r.evidence.request_id.clone(),
                staff_id: r.evidence.staff_id.clone(),
            },
            recorded_at: r.recorded_at,
        }
    }
}

fn short_text(field: &str, v: &str, max: usize) -> Result<(), Error> {
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(())
}

/// Append a consent record: granting and withdrawing are the same one call, and the next
/// check already sees it.
#[utoipa::path(post, path = "/v1/customers/{id}/consents", tag = "customers", request_body = RecordConsent,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = ConsentDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn record_consent(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<RecordConsent>,
) -> ApiResult<Response> {
    let b = w.body;
    short_text("notice_version", &b.notice_version, 40)?;
    for (field, v) in [
        ("evidence.request_id", &b.evidence.request_id),
        ("evidence.staff_id", &b.evidence.staff_id),
    ] {
        if let Some(v) = v {
            short_text(field, v, 128)?;
        }
    }
    let record = ConsentRecord {
        id: String::new(),
        customer_id: String::new(),
        purpose: b.purpose.into(),
        status: b.status.into(),
        channel: b.channel,
        method: b.method.into(),
        location_code: b.location_code,
        notice_version: b.notice_version,
        evidence: customers::Evidence {
            request_id: b.evidence.request_id,
            staff_id: b.evidence.staff_id,
        },
        recorded_at: Timestamp::now(),
    };
    let response =
        app::customers::record_consent(&s.db, &w.principal, id, record, w.idempotency, |r| {
            stored(201, &ConsentDto::from(&r))
        })
        .await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentsDto {
    /// The last record per purpose and channel scope.
    pub current: Vec<ConsentDto>,
    /// Every record, in the order they were made.
    pub history: Vec<ConsentDto>,
}

/// A profile's consent: the current state and the full log.
#[utoipa::path(get, path = "/v1/customers/{id}/consents", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = ConsentsDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_consents(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ConsentsDto>> {
    let mut conn = s.db.read().await?;
    let active = app::customers::reach(&mut conn, &p, &id).await?.id;
    let records = store::consents::records(&mut conn, &active).await?;
    Ok(Json(ConsentsDto {
        current: consent::current(&records)
            .into_iter()
            .map(ConsentDto::from)
            .collect(),
        history: records.iter().map(ConsentDto::from).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckQuery {
    pub purpose: PurposeDto,
    /// The channel that wants to use the data.
    pub channel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentDecisionDto {
    pub allowed: bool,
    pub purpose: PurposeDto,
    pub channel: String,
    /// The record that decided; absent when the customer never answered (no consent).
    pub record_id: Option<String>,
    pub status: Option<ConsentStatusDto>,
}

/// May purpose P be used on channel C for this customer? The last record for P that names C
/// or every channel decides; no record means no.
#[utoipa::path(get, path = "/v1/customers/{id}/consents/check", tag = "customers",
    params(("id" = String, Path), CheckQuery),
    responses((status = 200, body = ConsentDecisionDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn check_consent(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<CheckQuery>,
) -> ApiResult<Json<ConsentDecisionDto>> {
    let mut conn = s.db.read().await?;
    let active = app::customers::reach(&mut conn, &p, &id).await?.id;
    let records = store::consents::records(&mut conn, &active).await?;
    let d = consent::may_use(&records, q.purpose.into(), &q.channel);
    Ok(Json(ConsentDecisionDto {
        allowed: d.allowed,
        purpose: q.purpose,
        channel: q.channel,
        record_id: d.record_id,
        status: d.status.map(Into::into),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInteraction {
    pub medium: MediumDto,
    pub direction: DirectionDto,
    #[schema(min_length = 1, max_length = 2000)]
    pub summary: String,
    /// The agent or associate.
    pub agent: Option<String>,
    pub location_code: Option<String>,
    /// Order or return numbers it was about.
    #[serde(default)]
    pub references: Vec<String>,
    /// When it happened; now by default.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InteractionDto {
    pub id: String,
    pub customer_id: String,
    pub medium: MediumDto,
    pub direction: DirectionDto,
    pub summary: String,
    pub agent: Option<String>,
    pub location_code: Option<String>,
    pub references: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Timestamp,
}

super::page_of!(InteractionPage, InteractionDto);

impl From<customers::Interaction> for InteractionDto {
    fn from(i: customers::Interaction) -> Self {
        InteractionDto {
            id: i.id,
            customer_id: i.customer_id,
            medium: i.medium.into(),
            direction: i.direction.into(),
            summary: i.summary,
            agent: i.agent,
            location_code: i.location_code,
            references: i.references,
            occurred_at: i.occurred_at,
            recorded_at: i.recorded_at,
        }
    }
}

/// Record a service interaction (e-mail, call, chat, store visit, social message). Service and
/// admin keys anywhere; a store key at its own store, for any customer (noting a visit it
/// handled is not reading the history).
#[utoipa::path(post, path = "/v1/customers/{id}/interactions", tag = "customers", request_body = RecordInteraction,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = InteractionDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn record_interaction(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<RecordInteraction>,
) -> ApiResult<Response> {
    let b = w.body;
    let summary = customers::interaction::validate_summary(&b.summary)?;
    customers::interaction::validate_references(&b.references)?;
    if let Some(agent) = &b.agent {
        short_text("agent", agent, 128)?;
    }
    let now = Timestamp::now();
    let interaction = customers::Interaction {
        id: new_id("int"),
        customer_id: String::new(),
        medium: b.medium.into(),
        direction: b.direction.into(),
        summary,
        agent: b.agent,
        location_code: b.location_code,
        references: b.references,
        occurred_at: b.occurred_at.unwrap_or(now),
        recorded_at: now,
    };
    let response = app::customers::record_interaction(
        &s.db,
        &w.principal,
        &id,
        interaction,
        w.idempotency,
        |i| stored(201, &InteractionDto::from(i)),
    )
    .await?;
    Ok(reply(response))
}

/// The service history, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/interactions", tag = "customers",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = InteractionPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_interactions(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Q(q): Q<PageParams>,
) -> ApiResult<Json<InteractionPage>> {
    let page = q.request()?;
    let active = app::customers::reach(&mut s.db.read().await?, &p, &id)
        .await?
        .id;
    let found = store::interactions::list(&s.db, &active, &page).await?;
    Ok(Json(found.map(InteractionDto::from).into()))
}

/// Everything Relais holds about the person (GDPR Art. 15 and 20), as one JSON document:
/// profile, identities, saved addresses, consents, interactions, events, merges, reviews,
/// orders (with lines, payments and delivery) and their returns, the loyalty membership and
/// its points ledger.
#[utoipa::path(get, path = "/v1/customers/{id}/export", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn export(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    app::customers::reach(&mut s.db.read().await?, &p, &id).await?;
    let export = store::gdpr::export(&s.db, &id).await?;
    serde_json::to_value(export)
        .map(Json)
        .map_err(|e| ApiError(Error::internal(e.to_string())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureDto {
    pub customer_id: String,
    /// Profiles merged into it earlier, erased with it.
    pub merged_profiles: Vec<String>,
    pub identities_removed: u64,
    pub events_pseudonymised: u64,
    pub interactions_blanked: u64,
    #[schema(value_type = String, format = DateTime)]
    pub erased_at: Timestamp,
}

/// Erase the person (GDPR Art. 17): personal data removed or blanked everywhere; the
/// profile id stays, without personal data, so orders and ledgers stay consistent. Emits
/// `relais.customer.erased` for downstream systems.
#[utoipa::path(post, path = "/v1/customers/{id}/erasure", tag = "customers", request_body = EmptyBody,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = ErasureDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn erase(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<EmptyBody>,
) -> ApiResult<Response> {
    let response = app::customers::erase(&s.db, id, s.resolution, w.actor(), w.idempotency, |e| {
        stored(
            200,
            &ErasureDto {
                customer_id: e.customer_id,
                merged_profiles: e.merged_profiles,
                identities_removed: e.identities_removed,
                events_pseudonymised: e.events_pseudonymised,
                interactions_blanked: e.interactions_blanked,
                erased_at: e.erased_at,
            },
        )
    })
    .await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDto {
    pub id: String,
    pub customer_a: String,
    pub customer_b: String,
    pub reason: ReviewReasonDto,
    /// The identifiers of the link that brought them together.
    pub identifiers: Vec<LinkedIdentifierDto>,
    /// `open`, `merged` or `dismissed`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
}

super::page_of!(ReviewPage, ReviewDto);

impl From<MergeReview> for ReviewDto {
    fn from(r: MergeReview) -> Self {
        ReviewDto {
            id: r.id,
            customer_a: r.customer_a,
            customer_b: r.customer_b,
            reason: r.reason.into(),
            identifiers: r.identifiers.into_iter().map(Into::into).collect(),
            status: r.status,
            created_at: r.created_at,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// `open` (default), `merged` or `dismissed`.
    #[param(pattern = "^(open|merged|dismissed)$")]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Pairs of profiles the guard rails kept apart, waiting for a person.
#[utoipa::path(get, path = "/v1/merge-reviews", tag = "customers", params(ReviewQuery),
    responses((status = 200, body = ReviewPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_reviews(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<ReviewQuery>,
) -> ApiResult<Json<ReviewPage>> {
    let status = q.status.as_deref().unwrap_or("open");
    if !["open", "merged", "dismissed"].contains(&status) {
        return Err(ApiError(
            Error::new(
                ErrorCode::InvalidQuery,
                "status is open, merged or dismissed",
            )
            .with("field", "status"),
        ));
    }
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let found = app::reports::merge_reviews(&s.db, &p, status, &page).await?;
    Ok(Json(found.map(ReviewDto::from).into()))
}

/// `merge`: one person (the survivor rule picks who survives); `dismiss`: two people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecisionDto {
    Merge,
    Dismiss,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideReview {
    pub decision: ReviewDecisionDto,
}

/// Decide a review, once.
#[utoipa::path(post, path = "/v1/merge-reviews/{id}/decision", tag = "customers", request_body = DecideReview,
    params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = ReviewDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn decide_review(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<DecideReview>,
) -> ApiResult<Response> {
    let merge = w.body.decision == ReviewDecisionDto::Merge;
    let response =
        app::customers::decide_review(&s.db, &w.principal, id, merge, w.idempotency, |r| {
            stored(200, &ReviewDto::from(r))
        })
        .await?;
    Ok(reply(response))
}
