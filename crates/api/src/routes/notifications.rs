//! `/v1/notification-rules` (admin): the automation rules — on or off, delay, media, limit
//! per person, the retailer's own wording; `/v1/notifications` (staff): the send log;
//! `/v1/customers/{id}/contact-preferences` and `/v1/customers/{id}/stock-alerts`: how a
//! customer likes to be written to, and the products they want to hear about at a store.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::{Error, Timestamp};
use notify::templates::Wording;
use notify::{Language, Medium, RuleConfig, RuleKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{IdempotencyHeader, reply, stored, wire_enum};
use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Q, Write};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules))
        .routes(routes!(set_rule))
        .routes(routes!(send_log))
        .routes(routes!(get_preferences, set_preferences))
        .routes(routes!(list_alerts, open_alert))
        .routes(routes!(cancel_alert))
}

wire_enum!(
    /// How a message travels.
    MessageMediumDto <=> Medium { Email, Sms, Push }
);
wire_enum!(
    /// The language messages are written in.
    MessageLanguageDto <=> Language { Fr, En }
);

/// One rule's words in one language (MiniJinja templates; see the rule list for the names
/// they may use).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WordingDto {
    #[schema(
        max_length = 200,
        example = "Votre commande {{ order.id }} vous attend"
    )]
    pub subject: String,
    /// The e-mail's text (its HTML part is made from it); paragraphs split by a blank line.
    #[schema(max_length = 5000)]
    pub body: String,
    /// SMS and push.
    #[schema(max_length = 320)]
    pub short: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleDto {
    #[schema(example = "pickup_ready")]
    pub rule: String,
    /// `service` (answers what the customer did; follows their preferred medium) or
    /// `marketing` (needs the medium's consent; waits out quiet hours).
    pub class: String,
    pub enabled: bool,
    pub delay_minutes: i64,
    /// What the delay counts from.
    pub delay_meaning: String,
    pub media: Vec<MessageMediumDto>,
    pub every_days: Option<i64>,
    /// The retailer's own wording by language (`fr`, `en`); Relais's otherwise.
    pub wording: BTreeMap<String, WordingDto>,
}

fn rule_dto((kind, c): (RuleKind, RuleConfig)) -> RuleDto {
    RuleDto {
        rule: kind.as_str().to_owned(),
        class: match kind.class() {
            notify::rules::Class::Service => "service".into(),
            notify::rules::Class::Marketing => "marketing".into(),
        },
        enabled: c.enabled,
        delay_minutes: c.delay_minutes,
        delay_meaning: kind.delay_meaning().to_owned(),
        media: c.media.into_iter().map(Into::into).collect(),
        every_days: c.every_days,
        wording: c
            .wording
            .into_iter()
            .map(|(l, w)| {
                let dto = WordingDto {
                    subject: w.subject,
                    body: w.body,
                    short: w.short,
                };
                (l.as_str().to_owned(), dto)
            })
            .collect(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    pub data: Vec<RuleDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRule {
    pub enabled: bool,
    #[schema(minimum = 0, maximum = 43200)]
    pub delay_minutes: i64,
    /// Tried in this order (a service message tries the customer's preferred one first).
    pub media: Vec<MessageMediumDto>,
    /// The nearest-store offer only: at most once per this many days per person.
    #[schema(minimum = 1, maximum = 365)]
    pub every_days: Option<i64>,
    /// By language: `fr`, `en`.
    #[serde(default)]
    pub wording: BTreeMap<String, WordingDto>,
}

/// Every automation rule with its settings (admin).
#[utoipa::path(get, path = "/v1/notification-rules", tag = "notifications",
    responses((status = 200, body = RuleList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_rules(State(s): State<AppState>, p: Principal) -> ApiResult<Json<RuleList>> {
    let data = app::notifications::rules(&s.db, &p).await?;
    Ok(Json(RuleList {
        data: data.into_iter().map(rule_dto).collect(),
    }))
}

/// Set an automation rule (admin): the whole of it. Firings already scheduled keep their
/// time; one turned off is cancelled when it falls due.
#[utoipa::path(put, path = "/v1/notification-rules/{rule}", tag = "notifications", request_body = SetRule,
    params(("rule" = String, Path, example = "abandoned_cart"), IdempotencyHeader),
    responses((status = 200, body = RuleDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_rule(
    State(s): State<AppState>,
    Path(rule): Path<String>,
    w: Write<SetRule>,
) -> ApiResult<Response> {
    let kind =
        RuleKind::parse(&rule).ok_or_else(|| Error::not_found("notification rule", &rule))?;
    let b = w.body;
    let mut wording = BTreeMap::new();
    for (tag, w) in b.wording {
        let language = Language::ALL.into_iter().find(|l| l.as_str() == tag);
        let language =
            language.ok_or_else(|| Error::validation("wording", "languages are fr and en"))?;
        wording.insert(
            language,
            Wording {
                subject: w.subject,
                body: w.body,
                short: w.short,
            },
        );
    }
    let config = RuleConfig {
        enabled: b.enabled,
        delay_minutes: b.delay_minutes,
        media: b.media.into_iter().map(Into::into).collect(),
        every_days: b.every_days,
        wording,
    };
    let render = |r| stored(200, &rule_dto(r));
    let response =
        app::notifications::set_rule(&s.db, &w.principal, (kind, config), w.idempotency, render)
            .await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationDto {
    #[schema(example = "ntf_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub rule: String,
    pub customer_id: String,
    /// The order, cart, return, request or product it is about.
    pub subject: String,
    /// The sales channel it came from.
    pub channel: Option<String>,
    /// `scheduled`, `sent`, `skipped`, `cancelled` or `failed`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: Timestamp,
    pub attempts: i64,
    pub medium: Option<String>,
    /// The address it went to (`[erased]` after erasure).
    pub recipient: Option<String>,
    pub language: Option<String>,
    /// The subject line as sent.
    pub title: Option<String>,
    /// Why it fired, when that needs saying (the nearest-store offer).
    pub reason: Option<String>,
    /// Why it was skipped or cancelled, or what the provider answered.
    pub outcome: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub data: Vec<NotificationDto>,
    /// Pass as `before` for older entries; absent on the last page.
    pub next_before: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    pub customer_id: Option<String>,
    /// A rule, e.g. `pickup_ready`.
    pub rule: Option<String>,
    /// `scheduled`, `sent`, `skipped`, `cancelled` or `failed`.
    pub status: Option<String>,
    /// Only entries older than this one (paging).
    pub before: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

const STATUSES: [&str; 5] = ["scheduled", "sent", "skipped", "cancelled", "failed"];

/// The send log, newest first (staff): every firing of every rule, with where it went or
/// why it did not.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", params(LogQuery),
    responses((status = 200, body = NotificationList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn send_log(
    State(s): State<AppState>,
    p: Principal,
    Q(q): Q<LogQuery>,
) -> ApiResult<Json<NotificationList>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::validation("limit", "1 to 500").into());
    }
    if q.status
        .as_deref()
        .is_some_and(|st| !STATUSES.contains(&st))
    {
        return Err(Error::validation("status", STATUSES.join(", ")).into());
    }
    let rule = q.rule.as_deref().map(|r| {
        RuleKind::parse(r)
            .ok_or_else(|| Error::validation("rule", "not a rule; see GET /v1/notification-rules"))
    });
    let filter = store::notifications::LogFilter {
        customer_id: q.customer_id,
        rule: rule.transpose()?,
        status: q.status,
        before: q.before,
    };
    let found = app::notifications::log(&s.db, &p, filter, limit).await?;
    let next_before = (found.len() as i64 == limit)
        .then(|| found.last().map(|n| n.id.clone()))
        .flatten();
    let data = found.into_iter().map(notification_dto).collect();
    Ok(Json(NotificationList { data, next_before }))
}

fn notification_dto(n: store::notifications::Notification) -> NotificationDto {
    NotificationDto {
        id: n.id,
        rule: n.rule.as_str().to_owned(),
        customer_id: n.customer_id,
        subject: n.subject,
        channel: n.channel,
        status: n.status,
        due_at: n.due_at,
        attempts: n.attempts,
        medium: n.medium,
        recipient: n.recipient,
        language: n.language,
        title: n.title,
        reason: n.reason,
        outcome: n.outcome,
        created_at: n.created_at,
        sent_at: n.sent_at,
    }
}

/// How a customer likes to be written to; absent fields: French, the rule's first medium,
/// their home store's time zone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPreferences {
    pub language: Option<MessageLanguageDto>,
    /// Service messages go here first when the rule may use it.
    pub medium: Option<MessageMediumDto>,
    #[schema(example = "Europe/Paris")]
    pub time_zone: Option<String>,
}

fn preferences_dto(p: store::notifications::Preferences) -> ContactPreferences {
    ContactPreferences {
        language: p.language.map(Into::into),
        medium: p.medium.map(Into::into),
        time_zone: p.time_zone,
    }
}

/// A customer's contact preferences.
#[utoipa::path(get, path = "/v1/customers/{id}/contact-preferences", tag = "notifications",
    params(("id" = String, Path)),
    responses((status = 200, body = ContactPreferences), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_preferences(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactPreferences>> {
    let found = app::notifications::preferences(&s.db, &p, &id).await?;
    Ok(Json(preferences_dto(found)))
}

/// Set a customer's contact preferences (the whole of them).
#[utoipa::path(put, path = "/v1/customers/{id}/contact-preferences", tag = "notifications",
    request_body = ContactPreferences, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = ContactPreferences), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_preferences(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<ContactPreferences>,
) -> ApiResult<Response> {
    let b = w.body;
    let wanted = (
        b.language.map(Into::into),
        b.medium.map(Into::into),
        b.time_zone,
    );
    let render = |p| stored(200, &preferences_dto(p));
    let response = app::notifications::set_preferences(
        &s.db,
        &w.principal,
        &id,
        wanted,
        w.idempotency,
        render,
    )
    .await?;
    Ok(reply(response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockAlertDto {
    #[schema(example = "sta_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4")]
    pub id: String,
    pub customer_id: String,
    pub sku: String,
    /// The store.
    pub location: String,
    /// The channel it was asked on.
    pub channel: Option<String>,
    /// `open`, `notified` or `cancelled`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub notified_at: Option<Timestamp>,
}

fn alert_dto(a: store::stock_alerts::StockAlert) -> StockAlertDto {
    StockAlertDto {
        id: a.id,
        customer_id: a.customer_id,
        sku: a.sku,
        location: a.location,
        channel: a.channel,
        status: a.status,
        created_at: a.created_at,
        notified_at: a.notified_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockAlertList {
    pub data: Vec<StockAlertDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenStockAlert {
    #[schema(example = "VESTE-ALP-M")]
    pub sku: String,
    /// The store to hear about.
    #[schema(example = "LYON-PD")]
    pub location: String,
}

/// A customer's back-in-stock requests, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}/stock-alerts", tag = "notifications",
    params(("id" = String, Path)),
    responses((status = 200, body = StockAlertList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_alerts(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<StockAlertList>> {
    let found = app::notifications::alerts(&s.db, &p, &id).await?;
    Ok(Json(StockAlertList {
        data: found.into_iter().map(alert_dto).collect(),
    }))
}

/// Ask to be told when a product is available again at a store (from any channel). The
/// `back_in_stock` rule writes once when it is; a request already open is the answer.
#[utoipa::path(post, path = "/v1/customers/{id}/stock-alerts", tag = "notifications",
    request_body = OpenStockAlert, params(("id" = String, Path), IdempotencyHeader),
    responses((status = 201, body = StockAlertDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn open_alert(
    State(s): State<AppState>,
    Path(id): Path<String>,
    w: Write<OpenStockAlert>,
) -> ApiResult<Response> {
    let b = w.body;
    let render = |a| stored(201, &alert_dto(a));
    let response = app::notifications::open_alert(
        &s.db,
        &w.principal,
        &id,
        (b.sku, b.location),
        w.idempotency,
        render,
    )
    .await?;
    Ok(reply(response))
}

/// Withdraw an open back-in-stock request.
#[utoipa::path(delete, path = "/v1/customers/{id}/stock-alerts/{alert_id}", tag = "notifications",
    params(("id" = String, Path), ("alert_id" = String, Path), IdempotencyHeader),
    responses((status = 200, body = StockAlertDto), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
async fn cancel_alert(
    State(s): State<AppState>,
    Path((id, alert_id)): Path<(String, String)>,
    w: Write<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    if !w.body.is_empty() {
        return Err(Error::new(kernel::ErrorCode::InvalidBody, "DELETE takes no body").into());
    }
    let render = |a| stored(200, &alert_dto(a));
    let response =
        app::notifications::cancel_alert(&s.db, &w.principal, &id, alert_id, w.idempotency, render)
            .await?;
    Ok(reply(response))
}
