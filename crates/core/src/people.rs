//! Customers, agents and organisations.

use gongdan_domain::Code;
use std::collections::BTreeMap;

use gongdan_domain::DomainError;
use gongdan_domain::access::{Principal, Role};
use gongdan_domain::fields::{self, FieldScope};
use gongdan_domain::ids::{GroupId, OrganizationId, UserId};
use gongdan_domain::people::UserQuery;
use gongdan_domain::people::{self, Identity, IdentityKind, Language, Organization, User};
use gongdan_domain::routing::{self, Availability};
use gongdan_domain::verification::Purpose;
pub use gongdan_store::UserLabel;
use gongdan_store::{ClaimedResource, IdempotencyClaim, StoreError, UserBrief};
use serde_json::Value;

use crate::access;
use crate::tickets::{Created, Idempotency};
use crate::{App, CoreError, Result};

/// A user to create or the fields of one to change (`None` keeps the current value).
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub role: Option<Role>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Further emails and phones.
    pub identities: Option<Vec<Identity>>,
    pub phone: Option<String>,
    pub external_id: Option<Option<String>>,
    pub organization_id: Option<Option<OrganizationId>>,
    pub language: Option<Language>,
    pub time_zone: Option<String>,
    pub vip_level: Option<i64>,
    pub group_ids: Option<Vec<GroupId>>,
    pub skills: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub restricted_to_groups: Option<bool>,
    /// Staff: online, away or offline (their own to set).
    pub availability: Option<Availability>,
    /// Staff: open tickets automatic assignment gives them at most; `Some(None)` is unlimited.
    pub capacity: Option<Option<i64>>,
    /// Customers: their dedicated account manager (an agent).
    pub account_manager_id: Option<Option<UserId>>,
    pub custom_fields: BTreeMap<String, Value>,
    pub active: Option<bool>,
    pub password: Option<String>,
    /// One's own password change must prove the current one.
    pub current_password: Option<String>,
    /// A password change revokes the user's API tokens unless this is `true`.
    pub keep_tokens: Option<bool>,
    /// The session that makes a password change (its secret): the others end, it stays.
    pub keep_session: Option<String>,
}

/// A customer's own sign-up in the portal.
#[derive(Debug, Clone, Default)]
pub struct SignupInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub language: Option<Language>,
    pub time_zone: Option<String>,
}

/// How a sign-up went.
#[derive(Debug)]
pub enum SignedUp {
    /// A new account, signed in (its session's secret).
    In { session: String, user: Box<User> },
    /// The address has an account the desk made: a link to claim it went there.
    Confirm { email: String },
}

fn check_time_zone(tz: &str) -> Result<String> {
    jiff::tz::TimeZone::get(tz)
        .map(|_| tz.to_owned())
        .map_err(|_| DomainError::invalid("time_zone", Code::InvalidValue, "not an IANA time zone").into())
}

fn clean_list(items: &[String], field: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 64 {
            return Err(DomainError::invalid(format!("{field}[{i}]"), Code::InvalidValue, "1–64 characters").into());
        }
        if !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

impl App {
    /// Who may create or change a user of a role: admins anyone, supervisors customers and
    /// agents, agents customers (a caller on the phone), customers nobody but themselves.
    fn may_manage(actor: &Principal, role: Role) -> bool {
        match actor.role {
            Role::Admin => true,
            Role::Supervisor => matches!(role, Role::Customer | Role::Agent),
            Role::Agent => role == Role::Customer,
            Role::Customer => false,
        }
    }

    /// Applies input to a user (new or existing), validating every field.
    async fn fill_user(&self, u: &mut User, input: UserInput) -> Result<()> {
        if let Some(role) = input.role {
            u.role = role;
        }
        if let Some(name) = &input.name {
            u.name = people::validate_name(name, "name")?;
        }
        let mut identities = match &input.identities {
            Some(list) => {
                let mut out = Vec::new();
                for (i, id) in list.iter().enumerate() {
                    let field = format!("identities[{i}].value");
                    let value = match id.kind {
                        IdentityKind::Email => people::normalize_email(&id.value, &field)?,
                        IdentityKind::Phone => people::normalize_phone(&id.value, &field)?,
                    };
                    out.push(Identity { kind: id.kind, value });
                }
                out
            }
            None => u.identities.clone(),
        };
        if let Some(email) = &input.email {
            let email = people::normalize_email(email, "email")?;
            identities.retain(|i| !(i.kind == IdentityKind::Email && i.value == email));
            identities.insert(0, Identity { kind: IdentityKind::Email, value: email.clone() });
            u.email = Some(email);
        } else if input.identities.is_some() {
            u.email = identities.iter().find(|i| i.kind == IdentityKind::Email).map(|i| i.value.clone());
        }
        if let Some(phone) = &input.phone {
            let phone = people::normalize_phone(phone, "phone")?;
            if !identities.iter().any(|i| i.kind == IdentityKind::Phone && i.value == phone) {
                identities.push(Identity { kind: IdentityKind::Phone, value: phone });
            }
        }
        let mut seen = Vec::new();
        identities.retain(|i| {
            let k = (i.kind, i.value.clone());
            let fresh = !seen.contains(&k);
            seen.push(k);
            fresh
        });
        u.identities = identities;
        if u.name.is_empty() {
            // A customer found by email alone is named after the address until told otherwise.
            u.name = u
                .email
                .clone()
                .or_else(|| u.identities.first().map(|i| i.value.clone()))
                .ok_or_else(|| DomainError::required("name"))?;
        }
        if u.role.is_staff() && u.email.is_none() {
            return Err(DomainError::required("email").into());
        }
        if u.identities.is_empty() && u.external_id.is_none() && input.external_id.is_none() {
            return Err(DomainError::required("email").into());
        }
        if let Some(ext) = input.external_id {
            let ext = ext.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
            if ext.as_ref().is_some_and(|e| e.len() > 255) {
                return Err(DomainError::invalid("external_id", Code::TooLong, "at most 255 bytes").into());
            }
            u.external_id = ext;
        }
        if let Some(org) = input.organization_id {
            if let Some(o) = org
                && self.store.get_organization(o).await?.is_none()
            {
                return Err(
                    DomainError::invalid("organization_id", Code::MissingReference, "no such organisation").into()
                );
            }
            u.organization_id = org;
        } else if u.id.0 == 0
            && u.organization_id.is_none()
            && let Some(domain) = u.email.as_deref().and_then(|e| e.split_once('@')).map(|(_, d)| d.to_owned())
        {
            u.organization_id = self.store.organization_for_domain(&domain).await?.map(|o| o.id);
        }
        if let Some(l) = input.language {
            u.language = l;
        }
        if let Some(tz) = &input.time_zone {
            u.time_zone = check_time_zone(tz)?;
        }
        if let Some(v) = input.vip_level {
            u.vip_level = people::validate_vip(v)?;
        }
        if let Some(groups) = input.group_ids {
            let cfg = self.config().await?;
            for (i, g) in groups.iter().enumerate() {
                if cfg.group(*g).is_none() {
                    return Err(DomainError::invalid(
                        format!("group_ids[{i}]"),
                        Code::MissingReference,
                        "no such group",
                    )
                    .into());
                }
            }
            let mut groups = groups;
            groups.sort();
            groups.dedup();
            u.group_ids = groups;
        }
        if !u.role.is_staff() {
            u.group_ids.clear();
        }
        if let Some(s) = &input.skills {
            u.skills = clean_list(s, "skills")?;
        }
        if let Some(s) = &input.languages {
            u.languages = clean_list(s, "languages")?;
        }
        if let Some(r) = input.restricted_to_groups {
            u.restricted_to_groups = r;
        }
        if let Some(a) = input.availability {
            u.availability = a;
        }
        if let Some(c) = input.capacity {
            u.capacity = routing::validate_capacity(c)?;
        }
        if let Some(m) = input.account_manager_id {
            if let Some(id) = m
                && !self.config().await?.agents.iter().any(|a| a.id == id && a.active)
            {
                return Err(
                    DomainError::invalid("account_manager_id", Code::MissingReference, "no such active agent").into()
                );
            }
            u.account_manager_id = m;
        }
        if u.role.is_staff() {
            u.account_manager_id = None;
        }
        if !input.custom_fields.is_empty() {
            let cfg = self.config().await?;
            for (k, v) in fields::check_values(&cfg.fields, FieldScope::User, &input.custom_fields)? {
                if v.is_null() {
                    u.custom_fields.remove(&k);
                } else {
                    u.custom_fields.insert(k, v);
                }
            }
        }
        if let Some(a) = input.active {
            u.active = a;
        }
        Ok(())
    }

    /// Creates a user. `actor` is `None` for the CLI and first-start bootstrap.
    pub async fn create_user(&self, actor: Option<&Principal>, input: UserInput) -> Result<User> {
        Ok(self.create_user_once(actor, input, None).await?.value)
    }

    /// Creates a user; with an idempotency key, a retry returns the user the first request made.
    pub async fn create_user_once(
        &self,
        actor: Option<&Principal>,
        input: UserInput,
        idem: Option<Idempotency>,
    ) -> Result<Created<User>> {
        if let Some(a) = actor
            && let Some(id) = self.replay(a, idem.as_ref(), "user").await?
        {
            let user = self.store.get_user(UserId(id)).await?.ok_or(CoreError::NotFound("user"))?;
            return Ok(Created { value: user, replayed: true });
        }
        let role = input.role.unwrap_or(Role::Customer);
        if let Some(a) = actor
            && !Self::may_manage(a, role)
        {
            return Err(CoreError::forbidden(format!("your role may not create {role} users")));
        }
        if let Some(a) = actor
            && !a.can_manage_people()
            && (input.password.is_some() || input.identities.is_some())
        {
            // An agent adding a caller must not be able to sign in as them later.
            return Err(CoreError::field_forbidden(if input.password.is_some() { "password" } else { "identities" }));
        }
        if let Some(p) = &input.password {
            let context = [input.email.as_deref().unwrap_or_default(), input.name.as_deref().unwrap_or_default()];
            crate::auth::validate_password(p, &context)?;
        }
        let now = self.now();
        let desk = self.config().await?.desk.clone();
        let mut u = User::blank(role, desk.default_language, &desk.default_time_zone, now);
        let password = input.password.clone();
        self.fill_user(&mut u, input).await?;
        let hash = match &password {
            Some(p) => Some(crate::auth::hash_password(p).await?),
            None => None,
        };
        let claim = match (actor, &idem) {
            (Some(a), Some(i)) => Some(IdempotencyClaim {
                user_id: a.user_id,
                key: i.key.clone(),
                request_hash: i.request_hash.clone(),
                resource: ClaimedResource::User,
            }),
            _ => None,
        };
        match self.store.insert_user(&u, hash.as_deref(), claim.as_ref()).await {
            Ok(user) => {
                if user.role.is_staff() {
                    // A new agent belongs in the pickers at once.
                    self.config_changed();
                }
                Ok(Created { value: user, replayed: false })
            }
            Err(StoreError::IdempotencyReplay) => {
                let a = actor.ok_or(CoreError::IdempotencyMismatch)?;
                let id = self.replay(a, idem.as_ref(), "user").await?.ok_or(CoreError::IdempotencyMismatch)?;
                let user = self.store.get_user(UserId(id)).await?.ok_or(CoreError::NotFound("user"))?;
                Ok(Created { value: user, replayed: true })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A user as the caller may see it: staff see everyone, customers only themselves.
    pub async fn get_user(&self, actor: &Principal, id: UserId) -> Result<User> {
        // User 0 is the system (the author of what rules write), not a person anyone manages.
        if (!actor.is_staff() && actor.user_id != id) || id == gongdan_domain::ids::SYSTEM_USER {
            return Err(CoreError::NotFound("user"));
        }
        self.store.get_user(id).await?.ok_or(CoreError::NotFound("user"))
    }

    pub async fn update_user(&self, actor: &Principal, id: UserId, input: UserInput) -> Result<User> {
        let mut u = self.get_user(actor, id).await?;
        let u_was_staff = u.role.is_staff();
        let is_self = actor.user_id == id;
        // What identifies a person or decides their access is for supervisors and admins (and
        // agents only for customers' everyday details); one's own profile covers the rest.
        let identity =
            input.email.is_some() || input.identities.is_some() || input.phone.is_some() || input.password.is_some();
        let privileged = input.role.is_some()
            || input.group_ids.is_some()
            || input.restricted_to_groups.is_some()
            || input.active.is_some()
            || input.vip_level.is_some()
            || input.organization_id.is_some()
            || input.external_id.is_some()
            || input.capacity.is_some()
            || input.account_manager_id.is_some();
        let manager = Self::may_manage(actor, u.role) && input.role.is_none_or(|r| Self::may_manage(actor, r));
        let allowed = if manager && actor.can_manage_people() {
            true
        } else if manager {
            // Agents keep customers' everyday details current, nothing that lets one sign in,
            // steers whose tickets they become, or locks a customer out (supervisors do that);
            // a group-restricted agent only for customers whose tickets they can see.
            !(identity || privileged) && self.customer_in_scope(actor, id).await?
        } else if is_self {
            !privileged && input.email.is_none() && input.identities.is_none() && input.phone.is_none()
        } else {
            false
        };
        if !allowed {
            return Err(CoreError::forbidden("your role may not change these fields of this user"));
        }
        if is_self && input.active == Some(false) {
            return Err(DomainError::invalid("active", Code::InvalidValue, "you cannot deactivate yourself").into());
        }
        let password = input.password.clone();
        if let Some(p) = &password {
            if is_self {
                self.check_current_password(id, input.current_password.as_deref()).await?;
            }
            let email = input.email.clone().or_else(|| u.email.clone()).unwrap_or_default();
            let name = input.name.clone().unwrap_or_else(|| u.name.clone());
            crate::auth::validate_password(p, &[&email, &name])?;
        }
        let (keep_tokens, keep_session) = (input.keep_tokens == Some(true), input.keep_session.clone());
        let deactivating = input.active == Some(false) && u.active;
        self.fill_user(&mut u, input).await?;
        u.updated_at = self.now();
        let saved = self.store.update_user(&u).await?;
        if let Some(p) = password {
            self.store.set_password_hash(id, &crate::auth::hash_password(&p).await?).await?;
            // Whoever knew the old password is signed out everywhere but here.
            let keep = keep_session.map(|s| crate::auth::sha256_hex(s.as_bytes()));
            self.store.delete_user_sessions(id, keep.as_deref()).await?;
            if !keep_tokens {
                self.store.revoke_user_tokens(id, self.now()).await?;
            }
        }
        if deactivating {
            // Nothing of a deactivated user comes back when it is reactivated.
            self.store.delete_user_sessions(id, None).await?;
            self.store.revoke_user_tokens(id, self.now()).await?;
        }
        self.forget_principals();
        if saved.role.is_staff() || u_was_staff {
            // Names, groups and roles in the pickers.
            self.config_changed();
        }
        Ok(saved)
    }

    /// Whether an agent's scope covers a customer: every agent's does unless it is restricted
    /// to groups, then only customers with a ticket the agent can see.
    async fn customer_in_scope(&self, actor: &Principal, customer: UserId) -> Result<bool> {
        if !matches!(actor.scope(), gongdan_domain::access::TicketScope::Groups { .. }) {
            return Ok(true);
        }
        let mut q = gongdan_store::TicketQuery::new(actor.scope());
        q.requester_id = Some(customer);
        q.include_merged = true;
        q.limit = 1;
        q.with_total = false;
        Ok(!self.list_tickets(actor, q).await?.items.is_empty())
    }

    /// One's own password changes only with the current one (a session left open is not enough).
    async fn check_current_password(&self, id: UserId, current: Option<&str>) -> Result<()> {
        let Some(current) = current.filter(|c| !c.is_empty()) else {
            return Err(DomainError::required("current_password").into());
        };
        let hash = self.store.password_hash(id).await?;
        if crate::auth::verify_password(current, hash.as_deref()).await {
            Ok(())
        } else {
            Err(DomainError::invalid("current_password", Code::WrongPassword, "that is not your current password")
                .into())
        }
    }

    pub async fn list_users(&self, actor: &Principal, q: UserQuery) -> Result<Vec<User>> {
        access::require_staff(actor, "customers cannot list users")?;
        Ok(self.store.list_users(&q).await?)
    }

    /// A customer opens their own portal account (when the desk allows it). A new address gets
    /// an account at once, signed in, and (when the desk sends mail) a link to confirm the
    /// address; only a confirmed account joins the organisation its domain belongs to (else
    /// anyone typing an address there would see the organisation's shared requests).
    ///
    /// An address the desk already knows, as a customer without a password (their requests
    /// came by mail, say), is claimed by proof: the chosen password is mailed as a link to
    /// the address and set only when it is opened. Any other known address is taken.
    /// Sign-ups are limited per client.
    pub async fn signup(&self, input: SignupInput, client: &str) -> Result<SignedUp> {
        if !self.config().await?.desk.portal_signup {
            return Err(CoreError::forbidden("this desk does not take sign-ups; ask it for an account"));
        }
        let key = [format!("signup:{client}")];
        self.check_rate(&key)?;
        self.record_failure(&key);
        let email = people::normalize_email(&input.email, "email")?;
        crate::auth::validate_password(&input.password, &[&email, &input.name])?;
        let mails = self.mails_links().await?;
        if let Some(known) = self.store.find_user_by_identity(IdentityKind::Email, &email).await? {
            let claimable = known.role == Role::Customer
                && known.active
                && known.email.as_deref() == Some(email.as_str())
                && self.store.password_hash(known.id).await?.is_none();
            if !(claimable && mails) {
                return Err(CoreError::Duplicate { field: "email".into() });
            }
            // The password typed here is dropped: the mailbox's holder sets one on the link's page.
            self.mail_link(&known, Purpose::Claim).await?;
            return Ok(SignedUp::Confirm { email });
        }
        let user = self
            .create_user(
                None,
                UserInput {
                    role: Some(Role::Customer),
                    name: Some(input.name),
                    email: Some(email),
                    organization_id: Some(None),
                    language: input.language,
                    time_zone: input.time_zone,
                    password: Some(input.password),
                    ..Default::default()
                },
            )
            .await?;
        let secret = self.open_session(user.id).await?;
        if mails && let Err(e) = self.mail_link(&user, Purpose::Verify).await {
            // The account stands; the person asks for the link again from the portal.
            tracing::warn!(user = user.id.0, error = %e, "the confirmation mail was not sent");
        }
        Ok(SignedUp::In { session: secret, user: Box::new(user) })
    }

    /// Mails the signed-in customer a new link to confirm their address.
    pub async fn resend_verification(&self, actor: &Principal) -> Result<()> {
        let key = [format!("verify-link:{}", actor.user_id.0)];
        self.check_rate(&key)?;
        self.record_failure(&key);
        let user = self.store.get_user(actor.user_id).await?.ok_or(CoreError::NotFound("user"))?;
        if user.email_verified_at.is_some() || user.email.is_none() {
            return Ok(());
        }
        self.mail_link(&user, Purpose::Verify).await
    }

    /// Who a ticket whose requester is named by email is for: the user with that email, or a
    /// new customer (with the name and phone given) — how tickets from new people arrive.
    pub(crate) async fn requester_by_email(
        &self,
        email: &str,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Result<UserBrief> {
        let email = people::normalize_email(email, "requester.email")?;
        if let Some(b) = self.user_brief_by_email(&email).await? {
            return Ok(b);
        }
        let input = UserInput {
            role: Some(Role::Customer),
            name: name.map(str::to_owned).filter(|n| !n.trim().is_empty()),
            email: Some(email.clone()),
            phone: phone.map(str::to_owned),
            ..Default::default()
        };
        let brief = match self.create_user(None, input).await {
            Ok(u) => UserBrief::from(&u),
            // Someone created the same customer a moment ago: use theirs.
            Err(CoreError::Duplicate { .. }) => self
                .store
                .user_brief_by_identity(IdentityKind::Email, &email)
                .await?
                .ok_or(CoreError::NotFound("user"))?,
            Err(CoreError::Domain(DomainError::Invalid { field, code, message })) => {
                return Err(DomainError::Invalid { field: format!("requester.{field}"), code, message }.into());
            }
            Err(e) => return Err(e),
        };
        self.remember_brief_by_email(&email, brief);
        Ok(brief)
    }

    pub async fn save_organization(&self, actor: &Principal, mut o: Organization) -> Result<Organization> {
        access::require_people_manager(actor, "your role may not change organisations")?;
        o.name = people::validate_name(&o.name, "name")?;
        let mut domains = Vec::new();
        for (i, d) in o.domains.iter().enumerate() {
            let d = d.trim().trim_start_matches('@').to_lowercase();
            people::normalize_email(&format!("x@{d}"), &format!("domains[{i}]"))?;
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        o.domains = domains;
        let cfg = self.config().await?;
        o.custom_fields = fields::check_values(&cfg.fields, FieldScope::Organization, &o.custom_fields)?
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect();
        o.updated_at = self.now();
        let saved = if o.id.0 == 0 {
            o.created_at = o.updated_at;
            self.store.insert_organization(&o).await?
        } else {
            let old = self.store.get_organization(o.id).await?.ok_or(CoreError::NotFound("organization"))?;
            o.created_at = old.created_at;
            self.store.update_organization(&o).await?
        };
        // Whether the organisation shares tickets is part of its customers' credentials.
        self.forget_principals();
        Ok(saved)
    }

    pub async fn get_organization(&self, actor: &Principal, id: OrganizationId) -> Result<Organization> {
        if !actor.is_staff() && actor.organization_id != Some(id) {
            return Err(CoreError::NotFound("organization"));
        }
        self.store.get_organization(id).await?.ok_or(CoreError::NotFound("organization"))
    }

    /// Organisations by id after `after`; `q` matches the name. Staff only.
    pub async fn list_organizations(
        &self,
        actor: &Principal,
        q: Option<&str>,
        after: Option<OrganizationId>,
        limit: i64,
    ) -> Result<Vec<Organization>> {
        access::require_staff(actor, "customers cannot list organisations")?;
        Ok(self.store.list_organizations(q, after, limit).await?)
    }

    pub async fn delete_organization(&self, actor: &Principal, id: OrganizationId) -> Result<()> {
        access::require_people_manager(actor, "your role may not change organisations")?;
        self.store.delete_organization(id).await.map_err(|e| match e {
            gongdan_store::StoreError::NotFound => CoreError::NotFound("organization"),
            gongdan_store::StoreError::InUse => {
                CoreError::InUse("the organisation still has members or tickets".into())
            }
            e => e.into(),
        })
    }
}
