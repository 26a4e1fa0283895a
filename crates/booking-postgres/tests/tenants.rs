//! Tenants in their tables, and their Twilio secrets: ciphertext only, rotatable.

mod common;

use booking_core::TenantId;
use booking_core::ports::{SmsAccountChange, StoreError, TenantStore};
use booking_core::tenant::{SmsHealth, SmsSender};
use booking_postgres::testing::TestDb;
use booking_postgres::{MasterKey, PgStore, RotationReport, rotate_key};
use common::*;

#[tokio::test]
async fn a_full_configuration_survives_the_round_trip() {
    let db = TestDb::new().await;
    let store = db.store();
    let id = TenantId::from_uuid(uuid());
    let cfg = config("Smile Dental");
    let account = sms_account("tok-round-trip");
    let created = store.create_tenant(id, &cfg, Some(&account)).await.unwrap();
    assert_eq!(created.config, cfg);
    assert_eq!(created.sms_health, SmsHealth::Ok);
    assert_eq!(store.tenant(id).await.unwrap().unwrap(), created);
    assert_eq!(store.sms_account(id).await.unwrap().unwrap(), account);

    // Every way in finds it.
    let called = &cfg.called_numbers[0];
    assert_eq!(
        store
            .tenant_by_called_number(&called.number)
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
    assert_eq!(
        store
            .tenant_by_called_number(&cfg.called_numbers[1].number)
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
    let vapi = called.vapi_phone_number_id.as_ref().unwrap();
    assert_eq!(
        store
            .tenant_by_voice_line_id(vapi)
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
    let SmsSender::From(sender) = &account.sender else {
        unreachable!()
    };
    assert_eq!(
        store
            .tenant_by_sms_number(sender)
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
    assert_eq!(
        store
            .tenants_by_account_sid(&account.account_sid)
            .await
            .unwrap(),
        vec![id]
    );
    assert!(
        store
            .tenant_by_called_number(&phone())
            .await
            .unwrap()
            .is_none()
    );

    // An update replaces everything; credentials are kept unless changed.
    let mut changed = config("Smile Dental & Spa");
    changed.services.truncate(1);
    changed.date_overrides.clear();
    let updated = store
        .update_tenant(id, &changed, SmsAccountChange::Keep)
        .await
        .unwrap();
    assert_eq!(updated.config, changed);
    assert_eq!(store.sms_account(id).await.unwrap().unwrap(), account);
    assert!(
        store
            .tenant_by_called_number(&called.number)
            .await
            .unwrap()
            .is_none(),
        "old numbers are gone"
    );

    let cleared = store
        .update_tenant(id, &changed, SmsAccountChange::Clear)
        .await
        .unwrap();
    assert_eq!(cleared.sms_health, SmsHealth::NotConfigured);
    assert!(store.sms_account(id).await.unwrap().is_none());
    assert!(
        store
            .tenants_by_account_sid(&account.account_sid)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store
            .update_tenant(
                TenantId::from_uuid(uuid()),
                &changed,
                SmsAccountChange::Keep
            )
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

#[tokio::test]
async fn a_called_number_belongs_to_one_clinic() {
    let db = TestDb::new().await;
    let store = db.store();
    let a = tenant(&store, "First Dental").await;
    let mut cfg = config("Second Dental");
    cfg.called_numbers[1].number = a.config.called_numbers[0].number.clone();
    let b = TenantId::from_uuid(uuid());
    let err = store.create_tenant(b, &cfg, None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref what) if what == "called number"),
        "{err:?}"
    );
    assert!(
        store.tenant(b).await.unwrap().is_none(),
        "nothing of the refused tenant was stored"
    );

    let mut cfg = config("Second Dental");
    cfg.called_numbers[0].vapi_phone_number_id =
        a.config.called_numbers[0].vapi_phone_number_id.clone();
    let err = store.create_tenant(b, &cfg, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    let err = store
        .create_tenant(a.id, &config("Again"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref what) if what == "tenant id"),
        "{err:?}"
    );
}

/// Every row of the credentials table as text, the way someone reading a dump would see it.
async fn credentials_table_text(db: &TestDb) -> String {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT c::text AS t FROM tenant_sms_credentials c")
        .load(&mut conn)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.t).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn the_credentials_table_holds_no_plaintext_secret() {
    let db = TestDb::new().await;
    let store = db.store();
    let token = format!("authtoken{}", uuid().simple());
    let account = sms_account(&token);
    let id = TenantId::from_uuid(uuid());
    store
        .create_tenant(id, &config("Secret Dental"), Some(&account))
        .await
        .unwrap();

    let table = credentials_table_text(&db).await;
    assert!(
        table.contains(&account.account_sid),
        "the dump is of the right row: {table}"
    );
    let api_secret = account.api_key.as_ref().unwrap().1.expose().to_owned();
    for secret in [token.as_str(), api_secret.as_str()] {
        assert!(!table.contains(secret), "plaintext secret in the table");
        // Nor hex-encoded (bytea's text form).
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!table.contains(&hex), "hex of a secret in the table");
    }
    assert!(table.contains(db.master_key().id()), "rows name their key");
    // And the store still gives them back.
    assert_eq!(
        store
            .sms_account(id)
            .await
            .unwrap()
            .unwrap()
            .auth_token
            .expose(),
        token
    );
}

#[tokio::test]
async fn rotating_the_master_key_re_encrypts_every_row() {
    let db = TestDb::new().await;
    let old_key = db.master_key().clone();
    let store = db.store();
    let mut accounts = Vec::new();
    for i in 0..3 {
        let id = TenantId::from_uuid(uuid());
        let account = sms_account(&format!("token-{i}"));
        store
            .create_tenant(id, &config(&format!("Clinic {i}")), Some(&account))
            .await
            .unwrap();
        accounts.push((id, account));
    }
    let new_key = MasterKey::generate();
    let store_with = |key: &MasterKey, previous: Vec<MasterKey>| {
        let mut config = db.config();
        config.master_key = key.clone();
        config.previous_keys = previous;
        PgStore::new(config).unwrap()
    };

    // During a rotation, a server that has the new key and knows the old one reads both.
    let transitional = store_with(&new_key, vec![old_key.clone()]);
    assert_eq!(
        transitional
            .sms_account(accounts[0].0)
            .await
            .unwrap()
            .unwrap(),
        accounts[0].1
    );

    let report = rotate_key(db.url(), &old_key, &new_key).await.unwrap();
    assert_eq!(
        report,
        RotationReport {
            rotated: 3,
            already_current: 0
        }
    );
    let table = credentials_table_text(&db).await;
    assert!(!table.contains(old_key.id()) && table.contains(new_key.id()));

    let rotated = store_with(&new_key, vec![]);
    for (id, account) in &accounts {
        assert_eq!(&rotated.sms_account(*id).await.unwrap().unwrap(), account);
    }
    let stale = store_with(&old_key, vec![]);
    let err = stale.sms_account(accounts[0].0).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Internal(ref m) if m.contains(new_key.id())),
        "{err:?}"
    );

    // Again: nothing to do.
    let again = rotate_key(db.url(), &old_key, &new_key).await.unwrap();
    assert_eq!(again.already_current, 3);
    // A key that is neither: refused, nothing changed.
    let unrelated = MasterKey::generate();
    let err = rotate_key(db.url(), &unrelated, &MasterKey::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    assert_eq!(
        rotated.sms_account(accounts[2].0).await.unwrap().unwrap(),
        accounts[2].1
    );
    // A claimed key id that does not decrypt: refused.
    let impostor = MasterKey::from_bytes(new_key.id(), [1; 32]).unwrap();
    assert!(rotate_key(db.url(), &old_key, &impostor).await.is_err());
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_clinic_does_not_decrypt() {
    let db = TestDb::new().await;
    let store = db.store();
    let a = tenant(&store, "Victim Dental").await;
    let b = tenant(&store, "Thief Dental").await;
    db.execute(&format!(
        "UPDATE tenant_sms_credentials SET nonce = a.nonce, ciphertext = a.ciphertext \
         FROM tenant_sms_credentials a WHERE a.tenant_id = '{}' AND tenant_sms_credentials.tenant_id = '{}'",
        a.id, b.id
    ))
    .await;
    assert!(matches!(
        store.sms_account(b.id).await.unwrap_err(),
        StoreError::Internal(_)
    ));
    assert!(store.sms_account(a.id).await.unwrap().is_some());
}
