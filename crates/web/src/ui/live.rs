//! Server-sent events for open pages: `ticket` when a ticket the viewer may see changes (the
//! page then fetches the part it shows), `presence` when someone opens, leaves or starts
//! replying to the ticket an agent has open, and `refresh` when the page fell too far behind.

use std::convert::Infallible;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use gongdan_core::App;
use gongdan_core::live::{LiveEvent, PresenceGuard, Viewer as Present};
use gongdan_domain::access::Principal;
use gongdan_domain::ids::{TicketId, UserId};
use serde_json::json;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::UiResult;
use super::ctx::Viewer;

pub fn router() -> Router<App> {
    Router::new().route("/agent/live", get(live)).route("/portal/live", get(live))
}

#[derive(serde::Deserialize)]
struct LiveQuery {
    ticket: Option<i64>,
}

struct State_ {
    rx: Receiver<LiveEvent>,
    principal: Principal,
    watching: Option<TicketId>,
    me: UserId,
    /// Held for as long as the page is connected: dropping it leaves the ticket's viewers.
    _presence: Option<PresenceGuard>,
}

fn presence_event(viewers: &[Present], me: UserId) -> Event {
    let list: Vec<_> =
        viewers.iter().filter(|v| v.user_id != me).map(|v| json!({"name": v.name, "replying": v.replying})).collect();
    Event::default().event("presence").data(json!({ "viewers": list }).to_string())
}

async fn next_event(mut st: State_) -> Option<(Result<Event, Infallible>, State_)> {
    loop {
        match st.rx.recv().await {
            Ok(LiveEvent::Ticket(t)) => {
                if st.principal.can_view(&t) {
                    let data = json!({"id": t.id.0, "version": t.version}).to_string();
                    return Some((Ok(Event::default().event("ticket").data(data)), st));
                }
            }
            Ok(LiveEvent::Presence { ticket, viewers }) => {
                if st.principal.is_staff() && st.watching == Some(ticket) {
                    let e = presence_event(&viewers, st.me);
                    return Some((Ok(e), st));
                }
            }
            Err(RecvError::Lagged(_)) => {
                return Some((Ok(Event::default().event("refresh").data("{}")), st));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

fn events(st: State_) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(st, next_event)
}

async fn live(State(app): State<App>, v: Viewer, Query(q): Query<LiveQuery>) -> UiResult {
    let s = v.require()?;
    let principal = s.principal.clone();
    let rx = app.live.subscribe();
    let mut watching = None;
    let mut presence = None;
    if let Some(id) = q.ticket {
        let t = app.get_ticket(&principal, TicketId(id)).await?;
        watching = Some(t.id);
        if principal.is_staff() {
            presence = Some(app.live.join(t.id, s.user.id, &s.user.name));
        }
    }
    let st = State_ { rx, principal, watching, me: s.user.id, _presence: presence };
    Ok(Sse::new(events(st)).keep_alive(KeepAlive::default()).into_response())
}
