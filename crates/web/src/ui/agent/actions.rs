//! The ticket page's actions panel: the macros the agent may apply (previewed before they
//! apply), and the groups to escalate or transfer to.

use gongdan_core::App;
use gongdan_domain::ids::TicketId;

use super::changes::{field_name, field_value};
use crate::ui::UiResult;
use crate::ui::ctx::Ctx;
use crate::ui::form::FormErrors;
use crate::ui::view::Opt;

/// What the ticket page shows of macros and moves.
pub struct FlowPanel {
    pub macros: Vec<Opt>,
    pub groups: Vec<Opt>,
    /// The macro being previewed: its id, name, changes in words and the reply.
    pub preview: Option<MacroPreview>,
    pub errors: Vec<String>,
}

pub struct MacroPreview {
    pub id: i64,
    pub name: String,
    pub changes: Vec<String>,
    pub reply: Option<String>,
    pub public: bool,
}

/// The panel's parts for one ticket: the caller's macros, the groups, and a preview if asked.
pub async fn panel(
    app: &App,
    ctx: &Ctx,
    p: &gongdan_domain::access::Principal,
    ticket: TicketId,
    preview: Option<i64>,
    errors: &FormErrors,
) -> UiResult<FlowPanel> {
    let macros: Vec<Opt> =
        app.usable_macros(p).await?.into_iter().map(|m| Opt::new(m.id.to_string(), m.name)).collect();
    let groups = super::group_options(ctx, None);
    let mut errors = errors.general_texts(ctx);
    let preview = match preview {
        Some(id) => match app.preview_macro(p, ticket, id).await {
            Ok(pv) => {
                let name =
                    macros.iter().find(|m| m.value == id.to_string()).map(|m| m.label.clone()).unwrap_or_default();
                Some(MacroPreview {
                    id,
                    name,
                    changes: pv
                        .changes
                        .iter()
                        .map(|c| {
                            format!(
                                "{}: {} → {}",
                                field_name(ctx, &c.field),
                                field_value(ctx, &c.field, c.old.as_deref(), &Default::default()),
                                field_value(ctx, &c.field, c.new.as_deref(), &Default::default())
                            )
                        })
                        .collect(),
                    public: pv.reply.as_ref().is_some_and(|(_, public)| *public),
                    reply: pv.reply.map(|(body, _)| body),
                })
            }
            // Why it cannot apply here (its status is not allowed, a field it sets is gone …).
            Err(e) => {
                errors.extend(FormErrors::from_core(e, &[])?.general_texts(ctx));
                None
            }
        },
        None => None,
    };
    Ok(FlowPanel { macros, groups, preview, errors })
}
