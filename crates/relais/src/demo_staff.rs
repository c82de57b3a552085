//! The demo's console users: one per role, with the passwords the banner prints.

use app::staff::NewUser;
use store::{Db, StoredResponse};

/// E-mail, name, role, stores and password of each console user.
pub const DEMO_USERS: &[(&str, &str, &str, &[&str], &str)] = &[
    (
        "admin@demo.example",
        "Alex Admin",
        "admin",
        &[],
        "relais-demo-admin",
    ),
    (
        "manager.lyon@demo.example",
        "Camille Roux",
        "store_manager",
        &["LYS-BELLECOUR"],
        "relais-demo-manager",
    ),
    (
        "associate.lyon@demo.example",
        "Hugo Martin",
        "associate",
        &["LYS-BELLECOUR"],
        "relais-demo-associate",
    ),
    (
        "service@demo.example",
        "Inès Haddad",
        "service_agent",
        &[],
        "relais-demo-service",
    ),
    (
        "marketing@demo.example",
        "Léa Dubois",
        "marketer",
        &[],
        "relais-demo-marketing",
    ),
];

/// Creates the console users through the use case, as `demo`.
pub async fn seed(db: &Db) -> Result<(), kernel::Error> {
    for &(email, name, role, stores, password) in DEMO_USERS {
        let new = NewUser {
            email: email.to_owned(),
            name: name.to_owned(),
            role: role.to_owned(),
            stores: stores.iter().map(|s| (*s).to_owned()).collect(),
            language: Some("fr".to_owned()),
            password: password.to_owned(),
        };
        app::staff::create_as(db, "demo", new, None, |_| StoredResponse {
            status: 201,
            body: String::new(),
            replayed: false,
        })
        .await?;
    }
    Ok(())
}
