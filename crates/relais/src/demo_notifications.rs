//! The demo's notifications: every automation rule on (the marketing ones too: a demo shows
//! what they do), the abandoned-cart reminder after two hours and the nearest-store offer
//! at most once a week, in the retailer's own French wording for the pickup message.

use std::collections::BTreeMap;

use app::Principal;
use notify::templates::Wording;
use notify::{Language, RuleConfig, RuleKind};
use store::Db;

use crate::demo_calls::{kept, side_by_side};

/// Élan Sport's pickup message, in its own voice.
fn pickup_wording() -> Wording {
    Wording {
        subject: "Élan Sport {{ store.name }} : votre commande est prête".into(),
        body: "Bonne nouvelle ! Votre commande {{ order.id }} vous attend à l'accueil de \
               {{ store.name }} ({{ store.address }}) :\n\
               {% for l in lines %}- {{ l.quantity }} × {{ l.name }}\n{% endfor %}\n\
               Donnez ce code en caisse : {{ order.pickup_code }}.\n\
               Nous la gardons jusqu'au {{ order.deadline }}.\n\n\
               À très vite, l'équipe Élan Sport"
            .into(),
        short: "Élan Sport {{ store.name }} : commande prête, code {{ order.pickup_code }}, \
                jusqu'au {{ order.deadline }}."
            .into(),
    }
}

/// Every rule enabled, as the retailer's admin.
pub(crate) async fn seed_rules(db: &Db, admin: &Principal) -> Result<(), kernel::Error> {
    let configs = RuleKind::ALL.into_iter().map(|kind| {
        let mut config: RuleConfig = kind.default_config();
        config.enabled = true;
        match kind {
            RuleKind::AbandonedCart => config.delay_minutes = 120,
            RuleKind::NearestStoreOffer => config.every_days = Some(7),
            RuleKind::PickupReady => {
                config.wording = BTreeMap::from([(Language::Fr, pickup_wording())]);
            }
            _ => {}
        }
        (kind, config)
    });
    side_by_side(configs.map(|rule| {
        kept::<(RuleKind, RuleConfig), _>(move |k| {
            app::notifications::set_rule(db, admin, rule, None, k)
        })
    }))
    .await?;
    Ok(())
}
