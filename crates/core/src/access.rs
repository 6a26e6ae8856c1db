//! Who may do what: the checks a use case makes first, each refusing in words the caller can
//! show. Which roles a check lets through is the domain's (`Principal`); the use cases only ask.

use gongdan_domain::access::Principal;

use crate::{CoreError, Result};

/// Admins only: the desk's configuration, rules, webhooks, the job queue, others' tokens.
pub(crate) fn require_admin(actor: &Principal) -> Result<()> {
    if actor.can_configure() { Ok(()) } else { Err(CoreError::forbidden("only admins change the configuration")) }
}

/// Agents, supervisors and admins; `why` says what customers may not do.
pub(crate) fn require_staff(actor: &Principal, why: &'static str) -> Result<()> {
    if actor.is_staff() { Ok(()) } else { Err(CoreError::forbidden(why)) }
}

/// Supervisors and admins: changing people and organisations, unlocking sign-ins.
pub(crate) fn require_people_manager(actor: &Principal, why: &'static str) -> Result<()> {
    if actor.can_manage_people() { Ok(()) } else { Err(CoreError::forbidden(why)) }
}
