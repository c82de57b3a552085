//! The words: each rule has a subject, a body (the e-mail's text part, also its HTML part)
//! and a short text (SMS, push) per language, written as MiniJinja templates. A retailer may
//! replace them per rule and language ([`crate::RuleConfig::wording`]).
//!
//! Templates see one object, built by `app` from the occasion: `customer.given_name`,
//! `store.name`, `store.address`, `order.id`, `order.pickup_code`, `order.deadline` (a date
//! and time already written in the customer's language and zone), `lines` (`name`,
//! `quantity`), `product.name`, `offer.store`, `offer.distance_km`, `offer.available`,
//! `return.value`. A missing value renders as nothing.

use kernel::Error;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::reach::Language;
use crate::rules::RuleKind;

/// One rule's words in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wording {
    pub subject: String,
    pub body: String,
    pub short: String,
}

impl Wording {
    /// Lengths, and templates that compile.
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        let env = environment();
        for (name, text, max) in [
            ("subject", &self.subject, 200),
            ("body", &self.body, 5000),
            ("short", &self.short, 320),
        ] {
            let field = format!("{field}.{name}");
            let length = text.trim().chars().count();
            if !(1..=max).contains(&length) {
                return Err(Error::validation(
                    &field,
                    format!("must be 1 to {max} characters"),
                ));
            }
            if text.chars().any(|c| c.is_control() && c != '\n') {
                return Err(Error::validation(
                    &field,
                    "only line breaks may be control characters",
                ));
            }
            env.template_from_str(text)
                .map_err(|e| Error::validation(&field, format!("not a valid template: {e}")))?;
        }
        Ok(())
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub short: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // `customer.given_name` of a customer without a name renders as nothing.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|name| match name.ends_with(".html") {
        true => AutoEscape::Html,
        false => AutoEscape::None,
    });
    env
}

/// The HTML part: the body's paragraphs, escaped, in a plain readable layout.
const LAYOUT: &str = r#"<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a; max-width: 36em">
{% for p in paragraphs %}<p>{% for line in p %}{{ line }}{% if not loop.last %}<br>{% endif %}{% endfor %}</p>
{% endfor %}</body></html>
"#;

/// Renders `rule`'s message in `language` from `context`, with the retailer's wording if
/// given.
pub fn render(
    rule: RuleKind,
    language: Language,
    custom: Option<&Wording>,
    context: &serde_json::Value,
) -> Result<Rendered, Error> {
    let default = default_wording(rule, language);
    let wording = custom.unwrap_or(&default);
    let env = environment();
    let one = |src: &str| {
        env.render_str(src, context)
            .map(|s| s.trim().to_owned())
            .map_err(|e| Error::internal(format!("template of {}: {e}", rule.as_str())))
    };
    let subject = one(&wording.subject)?.replace(['\r', '\n'], " ");
    let text = one(&wording.body)?;
    let short = one(&wording.short)?;
    let paragraphs: Vec<Vec<&str>> = text
        .split("\n\n")
        .map(|p| p.lines().collect())
        .filter(|p: &Vec<&str>| !p.is_empty())
        .collect();
    let html = env
        .template_from_named_str("message.html", LAYOUT)
        .and_then(|t| {
            t.render(minijinja::context! {
                lang => language.as_str(), subject => &subject, paragraphs => paragraphs,
            })
        })
        .map_err(|e| Error::internal(format!("HTML layout: {e}")))?;
    Ok(Rendered {
        subject,
        text,
        html,
        short,
    })
}

const HELLO_FR: &str = "Bonjour{% if customer.given_name %} {{ customer.given_name }}{% endif %},";
const HELLO_EN: &str = "Hello{% if customer.given_name %} {{ customer.given_name }}{% endif %},";
const LINES: &str = "{% for l in lines %}- {{ l.quantity }} × {{ l.name }}\n{% endfor %}";

/// Relais's own words for every rule and language.
pub fn default_wording(rule: RuleKind, language: Language) -> Wording {
    let (subject, body, short) = match language {
        Language::Fr => french(rule),
        Language::En => english(rule),
    };
    let hello = match language {
        Language::Fr => HELLO_FR,
        Language::En => HELLO_EN,
    };
    Wording {
        subject: subject.to_owned(),
        body: format!("{hello}\n\n{body}"),
        short: short.to_owned(),
    }
}

fn french(rule: RuleKind) -> (&'static str, String, &'static str) {
    match rule {
        RuleKind::PickupReady => (
            "Votre commande {{ order.id }} vous attend à {{ store.name }}",
            format!("Votre commande est prête à {{{{ store.name }}}} ({{{{ store.address }}}}) :\n{LINES}\nVotre code de retrait : {{{{ order.pickup_code }}}}\nElle vous attend jusqu'au {{{{ order.deadline }}}}."),
            "{{ store.name }} : votre commande est prête. Code de retrait {{ order.pickup_code }}, jusqu'au {{ order.deadline }}.",
        ),
        RuleKind::PickupReminder => (
            "Rappel : votre commande vous attend à {{ store.name }}",
            "Votre commande {{ order.id }} vous attend toujours à {{ store.name }} ({{ store.address }}).\n\nCode de retrait : {{ order.pickup_code }}, jusqu'au {{ order.deadline }}.".into(),
            "Rappel {{ store.name }} : votre commande vous attend, code {{ order.pickup_code }}, jusqu'au {{ order.deadline }}.",
        ),
        RuleKind::PickupLastDay => (
            "Dernier jour pour retirer votre commande à {{ store.name }}",
            "Votre commande {{ order.id }} sera annulée et remboursée le {{ order.deadline }} si elle n'est pas retirée.\n\nCode de retrait : {{ order.pickup_code }}, à {{ store.name }} ({{ store.address }}).".into(),
            "Dernier jour : retirez votre commande à {{ store.name }} avant le {{ order.deadline }}, code {{ order.pickup_code }}.",
        ),
        RuleKind::ReservationExpiring => (
            "Votre réservation à {{ store.name }} se termine bientôt",
            format!("Les articles réservés pour vous à {{{{ store.name }}}} ({{{{ store.address }}}}) vous attendent jusqu'au {{{{ order.deadline }}}} :\n{LINES}\nPassez les essayer avant cette date."),
            "Votre réservation à {{ store.name }} se termine le {{ order.deadline }}.",
        ),
        RuleKind::Welcome => (
            "Bienvenue !",
            "Merci de votre inscription. Votre compte vous suit en magasin, sur le site et dans l'application : vos commandes, vos retours et vos avantages au même endroit.".into(),
            "Bienvenue ! Votre compte vous suit en magasin, sur le site et dans l'application.",
        ),
        RuleKind::AbandonedCart => (
            "Votre panier vous attend",
            format!("Vous avez laissé ces articles dans votre panier :\n{LINES}\nIls vous attendent sur tous nos canaux, et en magasin."),
            "Votre panier vous attend : retrouvez-le sur le site, l'application ou en magasin.",
        ),
        RuleKind::BackInStock => (
            "{{ product.name }} est de retour à {{ store.name }}",
            "Bonne nouvelle : {{ product.name }} est de nouveau disponible à {{ store.name }} ({{ store.address }}).".into(),
            "{{ product.name }} est de retour à {{ store.name }}.",
        ),
        RuleKind::AfterReturn => (
            "Votre retour à {{ store.name }}",
            "Nous avons bien reçu votre retour à {{ store.name }} ({{ return.value }}). Merci de votre confiance ; votre avis nous aide à mieux vous servir.".into(),
            "Votre retour à {{ store.name }} est enregistré. Merci !",
        ),
        RuleKind::NearestStoreOffer => (
            "{{ product.name }} vous attend à {{ store.name }}",
            "Vous avez regardé {{ product.name }} : il est en stock à {{ store.name }} ({{ store.address }}), votre magasin le plus proche à {{ offer.distance_km }} km ({{ offer.available }} disponible(s)).\n\nVous recevez ce message parce que vous avez accepté nos offres ; vous pouvez le refuser à tout moment.".into(),
            "{{ product.name }} est en stock à {{ store.name }}, à {{ offer.distance_km }} km de chez vous.",
        ),
    }
}

fn english(rule: RuleKind) -> (&'static str, String, &'static str) {
    match rule {
        RuleKind::PickupReady => (
            "Your order {{ order.id }} is ready at {{ store.name }}",
            format!("Your order is ready at {{{{ store.name }}}} ({{{{ store.address }}}}):\n{LINES}\nYour pickup code: {{{{ order.pickup_code }}}}\nIt waits for you until {{{{ order.deadline }}}}."),
            "{{ store.name }}: your order is ready. Pickup code {{ order.pickup_code }}, until {{ order.deadline }}.",
        ),
        RuleKind::PickupReminder => (
            "Reminder: your order is waiting at {{ store.name }}",
            "Your order {{ order.id }} is still waiting at {{ store.name }} ({{ store.address }}).\n\nPickup code: {{ order.pickup_code }}, until {{ order.deadline }}.".into(),
            "Reminder from {{ store.name }}: your order is waiting, code {{ order.pickup_code }}, until {{ order.deadline }}.",
        ),
        RuleKind::PickupLastDay => (
            "Last day to collect your order at {{ store.name }}",
            "Your order {{ order.id }} will be cancelled and refunded on {{ order.deadline }} unless it is collected.\n\nPickup code: {{ order.pickup_code }}, at {{ store.name }} ({{ store.address }}).".into(),
            "Last day: collect your order at {{ store.name }} before {{ order.deadline }}, code {{ order.pickup_code }}.",
        ),
        RuleKind::ReservationExpiring => (
            "Your reservation at {{ store.name }} ends soon",
            format!("The items reserved for you at {{{{ store.name }}}} ({{{{ store.address }}}}) wait until {{{{ order.deadline }}}}:\n{LINES}\nCome and try them before then."),
            "Your reservation at {{ store.name }} ends on {{ order.deadline }}.",
        ),
        RuleKind::Welcome => (
            "Welcome!",
            "Thank you for signing up. Your account follows you in our stores, on the web and in the app: your orders, returns and benefits in one place.".into(),
            "Welcome! Your account follows you in our stores, on the web and in the app.",
        ),
        RuleKind::AbandonedCart => (
            "Your cart is waiting",
            format!("You left these items in your cart:\n{LINES}\nThey wait for you on every channel, and in our stores."),
            "Your cart is waiting: find it on the web, in the app or in a store.",
        ),
        RuleKind::BackInStock => (
            "{{ product.name }} is back at {{ store.name }}",
            "Good news: {{ product.name }} is available again at {{ store.name }} ({{ store.address }}).".into(),
            "{{ product.name }} is back at {{ store.name }}.",
        ),
        RuleKind::AfterReturn => (
            "Your return at {{ store.name }}",
            "We have received your return at {{ store.name }} ({{ return.value }}). Thank you; your opinion helps us serve you better.".into(),
            "Your return at {{ store.name }} is recorded. Thank you!",
        ),
        RuleKind::NearestStoreOffer => (
            "{{ product.name }} is waiting for you at {{ store.name }}",
            "You looked at {{ product.name }}: it is in stock at {{ store.name }} ({{ store.address }}), your nearest store, {{ offer.distance_km }} km away ({{ offer.available }} available).\n\nYou receive this because you accepted our offers; you can refuse them at any time.".into(),
            "{{ product.name }} is in stock at {{ store.name }}, {{ offer.distance_km }} km from you.",
        ),
    }
}

/// A date and time for a message, in the customer's language and zone: `lundi 7 décembre
/// 2026 à 18:30` / `Monday 7 December 2026 at 18:30`.
pub fn local_date_time(at: kernel::Timestamp, time_zone: &str, language: Language) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let Ok(z) = jiff::Timestamp::from_millisecond(at.unix_ms()).map(|t| t.to_zoned(tz)) else {
        return at.to_text();
    };
    let weekday = z.weekday().to_monday_zero_offset() as usize;
    let month = z.month() as usize - 1;
    match language {
        Language::Fr => format!(
            "{} {} {} {} à {:02}:{:02}",
            [
                "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"
            ][weekday],
            z.day(),
            [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre"
            ][month],
            z.year(),
            z.hour(),
            z.minute()
        ),
        Language::En => format!(
            "{} {} {} {} at {:02}:{:02}",
            [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday"
            ][weekday],
            z.day(),
            [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December"
            ][month],
            z.year(),
            z.hour(),
            z.minute()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pickup() -> serde_json::Value {
        json!({
            "customer": {"given_name": "Léa"},
            "store": {"name": "Lyon Part-Dieu", "address": "17 rue du Docteur Bouchut, 69003 Lyon"},
            "order": {"id": "ord_1", "pickup_code": "042917", "deadline": "lundi 14 décembre 2026 à 19:00"},
            "lines": [{"name": "Veste <Alpine>", "quantity": 1}],
        })
    }

    #[test]
    fn every_rule_renders_in_both_languages_from_an_empty_context() {
        for rule in RuleKind::ALL {
            for lang in Language::ALL {
                default_wording(rule, lang).validate("wording").unwrap();
                let r = render(rule, lang, None, &json!({})).unwrap();
                assert!(!r.subject.is_empty() && !r.text.is_empty() && !r.short.is_empty());
            }
        }
    }

    #[test]
    fn pickup_ready_says_where_what_and_the_code_and_escapes_html() {
        let r = render(RuleKind::PickupReady, Language::Fr, None, &pickup()).unwrap();
        assert_eq!(
            r.subject,
            "Votre commande ord_1 vous attend à Lyon Part-Dieu"
        );
        assert!(r.text.starts_with("Bonjour Léa,"), "{}", r.text);
        assert!(r.text.contains("- 1 × Veste <Alpine>"));
        assert!(r.text.contains("Votre code de retrait : 042917"));
        assert!(r.html.contains("Veste &lt;Alpine&gt;"), "{}", r.html);
        assert!(r.html.contains("<html lang=\"fr\">"));
        let en = render(RuleKind::PickupReady, Language::En, None, &pickup()).unwrap();
        assert!(en.text.contains("Your pickup code: 042917"));
    }

    #[test]
    fn a_retailers_wording_replaces_relaiss_and_bad_templates_are_refused() {
        let mine = Wording {
            subject: "Prête, {{ customer.given_name }} !".into(),
            body: "Code {{ order.pickup_code }}".into(),
            short: "Code {{ order.pickup_code }}".into(),
        };
        let r = render(RuleKind::PickupReady, Language::Fr, Some(&mine), &pickup()).unwrap();
        assert_eq!(
            (r.subject.as_str(), r.text.as_str()),
            ("Prête, Léa !", "Code 042917")
        );
        let broken = Wording {
            body: "{% if %}".into(),
            ..mine
        };
        let e = broken.validate("wording.fr").unwrap_err();
        assert_eq!(e.details["field"], "wording.fr.body");
    }

    #[test]
    fn dates_are_written_in_the_language_and_zone() {
        let at = kernel::Timestamp::from_unix_ms(1_796_580_000_000); // 2026-12-06T18:00:00Z
        assert_eq!(
            local_date_time(at, "Europe/Paris", Language::Fr),
            "dimanche 6 décembre 2026 à 19:00"
        );
        assert_eq!(
            local_date_time(at, "Europe/London", Language::En),
            "Sunday 6 December 2026 at 18:00"
        );
    }
}
