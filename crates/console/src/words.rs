//! The console's words in French and English. Every page takes one [`Words`]: the signed-in
//! user's language, or on the sign-in page the browser's.

use app::access::Section;
use orders::{FulfilmentMode, OrderState, Transition};

/// Every word a page prints, in one language.
#[derive(Debug)]
pub struct Words {
    pub lang: &'static str,
    pub console: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub store: &'static str,
    pub show: &'static str,
    pub queue_title: &'static str,
    pub live: &'static str,
    pub to_prepare: &'static str,
    pub ready: &'static str,
    pub reservations: &'static str,
    pub counter: &'static str,
    pub parcels: &'static str,
    pub nothing: &'static str,
    pub order: &'static str,
    pub customer_col: &'static str,
    pub items: &'static str,
    pub total: &'static str,
    pub promised: &'static str,
    pub until: &'static str,
    pub late: &'static str,
    pub state: &'static str,
    pub actions: &'static str,
    pub pickup_code: &'static str,
    pub scan: &'static str,
    pub scan_hint: &'static str,
    pub hand_over: &'static str,
    pub conflicts: &'static str,
    pub done: &'static str,
    pub error_title: &'static str,
    pub back: &'static str,
    pub customers_title: &'static str,
    pub find_customer: &'static str,
    pub find_hint: &'static str,
    pub find: &'static str,
    pub not_found: &'static str,
    pub returns_title: &'static str,
    pub receipt: &'static str,
    pub receipt_hint: &'static str,
    pub open: &'static str,
    pub kpis_title: &'static str,
    pub anonymous: &'static str,
    pub language: &'static str,
}

pub static FR: Words = Words {
    lang: "fr",
    console: "Console Relais",
    sign_in: "Se connecter",
    sign_out: "Se déconnecter",
    email: "E-mail",
    password: "Mot de passe",
    store: "Magasin",
    show: "Afficher",
    queue_title: "File de travail",
    live: "En direct",
    to_prepare: "Retraits à préparer",
    ready: "Prêts, en attente du client",
    reservations: "Réservations",
    counter: "Comptoir (bornes)",
    parcels: "Colis expédiés du magasin",
    nothing: "Rien pour l'instant.",
    order: "Commande",
    customer_col: "Client",
    items: "Articles",
    total: "Total",
    promised: "Promis pour",
    until: "Jusqu'au",
    late: "En retard",
    state: "État",
    actions: "Actions",
    pickup_code: "Code de retrait",
    scan: "Scanner ou saisir",
    scan_hint: "Scannez le QR du client (relais:pickup:…) et validez",
    hand_over: "Remettre",
    conflicts: "conflits de caisse hors ligne à traiter",
    done: "C'est fait.",
    error_title: "Ce n'est pas possible",
    back: "Retour",
    customers_title: "Clients",
    find_customer: "Trouver un client",
    find_hint: "E-mail, téléphone ou numéro de carte",
    find: "Chercher",
    not_found: "Aucun client ne correspond.",
    returns_title: "Retours",
    receipt: "Ticket",
    receipt_hint: "Scannez ou saisissez le ticket électronique",
    open: "Ouvrir",
    kpis_title: "Indicateurs",
    anonymous: "Anonyme",
    language: "Langue",
};

pub static EN: Words = Words {
    lang: "en",
    console: "Relais console",
    sign_in: "Sign in",
    sign_out: "Sign out",
    email: "E-mail",
    password: "Password",
    store: "Store",
    show: "Show",
    queue_title: "Work queue",
    live: "Live",
    to_prepare: "Pickups to prepare",
    ready: "Ready, waiting for the customer",
    reservations: "Reservations",
    counter: "Counter (kiosks)",
    parcels: "Parcels shipped from the store",
    nothing: "Nothing for now.",
    order: "Order",
    customer_col: "Customer",
    items: "Items",
    total: "Total",
    promised: "Promised for",
    until: "Until",
    late: "Late",
    state: "State",
    actions: "Actions",
    pickup_code: "Pickup code",
    scan: "Scan or type",
    scan_hint: "Scan the customer's QR (relais:pickup:…) and confirm",
    hand_over: "Hand over",
    conflicts: "offline till conflicts to resolve",
    done: "Done.",
    error_title: "That cannot be done",
    back: "Back",
    customers_title: "Customers",
    find_customer: "Find a customer",
    find_hint: "E-mail, phone or card number",
    find: "Search",
    not_found: "No customer matches.",
    returns_title: "Returns",
    receipt: "Receipt",
    receipt_hint: "Scan or type the e-receipt",
    open: "Open",
    kpis_title: "KPIs",
    anonymous: "Anonymous",
    language: "Language",
};

/// The words of a language code (French unless it is English).
pub fn of(lang: &str) -> &'static Words {
    if lang == "en" { &EN } else { &FR }
}

/// The language an `Accept-Language` header prefers between ours.
pub fn from_accept_language(header: Option<&str>) -> &'static Words {
    let first = header
        .and_then(|h| h.split(',').next())
        .map(|l| l.trim().to_ascii_lowercase());
    match first {
        Some(l) if l.starts_with("en") => &EN,
        _ => &FR,
    }
}

impl Words {
    /// The French or the English of a pair.
    fn pick(&self, (fr, en): (&'static str, &'static str)) -> &'static str {
        if self.lang == "fr" { fr } else { en }
    }

    pub fn section(&self, s: Section) -> &'static str {
        match s {
            Section::WorkQueue => self.queue_title,
            Section::ReturnsDesk => self.returns_title,
            Section::Customers => self.customers_title,
            Section::Kpis => self.kpis_title,
            Section::Stock => "Stock",
            Section::Promotions => "Promotions",
            Section::MergeReviews => self.pick(("Fusions à revoir", "Merge reviews")),
            Section::Notifications => "Notifications",
            Section::Users => self.pick(("Utilisateurs", "Users")),
        }
    }

    pub fn transition(&self, t: Transition) -> &'static str {
        self.pick(match t {
            Transition::StartPreparing => ("Préparer", "Start preparing"),
            Transition::MarkReady => ("Prête", "Mark ready"),
            Transition::Collect | Transition::HandOver => ("Remettre", "Hand over"),
            Transition::Ship => ("Expédier", "Ship"),
            Transition::Deliver => ("Livrée", "Delivered"),
            Transition::Cancel => ("Annuler", "Cancel"),
            Transition::NoShow => ("Non retirée", "No-show"),
            Transition::Purchase => ("Acheter", "Purchase"),
            Transition::Expire => ("Expirer", "Expire"),
        })
    }

    pub fn state(&self, s: OrderState) -> &'static str {
        self.pick(match s {
            OrderState::Placed => ("Reçue", "Placed"),
            OrderState::Preparing => ("En préparation", "Preparing"),
            OrderState::ReadyForPickup => ("Prête", "Ready"),
            OrderState::ReadyToTry => ("À essayer", "Ready to try"),
            OrderState::ReadyAtCounter => ("Au comptoir", "At the counter"),
            OrderState::Shipped => ("Expédiée", "Shipped"),
            OrderState::Delivered => ("Livrée", "Delivered"),
            OrderState::Collected => ("Retirée", "Collected"),
            OrderState::NoShow => ("Non retirée", "No-show"),
            OrderState::Purchased => ("Achetée", "Purchased"),
            OrderState::Expired => ("Expirée", "Expired"),
            OrderState::HandedOver => ("Remise", "Handed over"),
            OrderState::Completed => ("Terminée", "Completed"),
            OrderState::Cancelled => ("Annulée", "Cancelled"),
        })
    }

    pub fn mode(&self, m: FulfilmentMode) -> &'static str {
        self.pick(match m {
            FulfilmentMode::Ship => ("Livraison", "Delivery"),
            FulfilmentMode::Pickup => ("Retrait", "Pickup"),
            FulfilmentMode::Reserve => ("Réservation", "Reservation"),
            FulfilmentMode::Counter => ("Comptoir", "Counter"),
            FulfilmentMode::CarryOut => ("Emporté", "Carry-out"),
        })
    }

    /// The French or the English, for what a template says once.
    pub fn say(&self, fr: &'static str, en: &'static str) -> &'static str {
        self.pick((fr, en))
    }
}
